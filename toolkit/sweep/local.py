"""Local sweeps on Optuna: the sampler, the pruner, the shared study and its workers.

Each Optuna trial is one trial process (toolkit.sweep.trial); the study lives in
toolkit.sweep.storage and is shown by toolkit.sweep.status. Workers (``--workers K``
processes, on one machine or on several with ``--storage``) share one study: by default
Optuna's journal file in the study directory (Optuna advises against SQLite for parallel
workers); ``--storage`` takes any Optuna storage, an RDB URL (``postgresql://...``,
``sqlite:///...``) or a journal file on a shared disk. On a GPU machine each worker gets its own
GPUs (toolkit.sweep.devices). W&B's distributions map to Optuna as
toolkit.sweep.distributions says.

With ``early_terminate: hyperband`` the trial's :class:`~toolkit.sweep.reporter.SweepReporter`
appends each evaluation to a report file; the worker passes it to ``trial.report`` (the step is
the evaluation count, W&B's "iteration") and, when Optuna says prune, stops the trial's group and
notes "pruned" on the tracked run. W&B's hyperband is asynchronous successive halving on one
bracket: a run is stopped at band min_iter * eta^k unless it is in the top 1/eta of the runs
that reached that band. Optuna's SuccessiveHalvingPruner (min_resource = the first band,
reduction_factor = eta) does the same; approximate: with max_iter and s, W&B's bands stop at
max_iter / eta while Optuna's go on. ``run_cap`` caps the trials of the study (every worker and
node together) and ``metric.target`` ends the sweep when a trial reaches it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import multiprocessing
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna

from toolkit.errors import ToolkitError
from toolkit.sweep import distributions
from toolkit.sweep.params import write_params_file
from toolkit.sweep.reporter import METRIC_ENV, REPORT_ENV
from toolkit.sweep.spec import Parameter, SweepSpec
from toolkit.sweep.status import best_trial
from toolkit.sweep.storage import make_storage
from toolkit.sweep.trial import (
    ReportReader,
    SweepPlan,
    TrialFailed,
    best_value,
    free_port,
    gpu_environment,
    mark_run,
    start_trial,
    supervise,
    tail,
    trial_command,
    trial_overrides,
)

logger = logging.getLogger(__name__)

def _choice(value: Any) -> Any:
    """Optuna's categorical choices are scalars: lists and mappings travel as JSON text."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else json.dumps(
        value, sort_keys=True)


def make_sampler(spec: SweepSpec) -> optuna.samplers.BaseSampler:
    if spec.method == "grid":
        return optuna.samplers.GridSampler({p.name: [_choice(v) for v in p.values]
                                            for p in spec.parameters
                                            if p.distribution == "categorical"})
    if spec.method == "random":
        return optuna.samplers.RandomSampler()
    return optuna.samplers.TPESampler()


def make_pruner(spec: SweepSpec) -> optuna.pruners.BasePruner:
    """W&B's hyperband as successive halving (resources are evaluations): see the module."""
    band = spec.early_terminate
    if band is None:
        return optuna.pruners.NopPruner()
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=band.first_band,
                                                  reduction_factor=band.eta)


def suggest(trial: optuna.Trial, p: Parameter) -> Any:
    """The trial's value of one parameter, drawn as W&B would draw it: Optuna's own
    distribution where it has W&B's, else a quantile mapped through W&B's inverse CDF."""
    kind = p.distribution
    if kind == "constant":
        return p.value
    if kind == "categorical" and not p.probabilities:
        options = {_choice(v): v for v in p.values}
        return options[trial.suggest_categorical(p.name, list(options))]
    if kind == "int_uniform":
        return trial.suggest_int(p.name, int(p.min), int(p.max))
    if kind == "uniform":
        return trial.suggest_float(p.name, p.min, p.max)
    bounds = distributions.log_bounds(p)
    if bounds is not None and not kind.startswith("q_"):
        return trial.suggest_float(p.name, *bounds, log=True)
    return distributions.draw(p, trial.suggest_float(f"{p.name}:quantile", 0.0, 1.0))


def open_study(plan: SweepPlan, create: bool = False) -> optuna.Study:
    """The sweep's study in its storage (created, or joined by a worker)."""
    spec = plan.spec
    kwargs = {"study_name": spec.name, "storage": make_storage(plan.storage, plan.study_dir),
              "sampler": make_sampler(spec), "pruner": make_pruner(spec)}
    if not create:
        return optuna.load_study(**kwargs)
    direction = "maximize" if spec.maximize else "minimize"
    study = optuna.create_study(direction=direction, load_if_exists=True, **kwargs)
    if study.direction.name.lower() != direction:
        raise ToolkitError(f"the storage holds study `{spec.name}` with direction "
                           f"{study.direction.name.lower()}, but the sweep's goal is {spec.goal};"
                           f" pass another --study-dir or --storage")
    study.set_user_attr("metric", spec.metric_key)
    study.set_user_attr("goal", spec.goal)
    study.set_user_attr("fixed", {p.name: p.value for p in spec.parameters
                                  if p.distribution == "constant"})
    return study


class TrialRunner:
    """The objective: one Optuna trial as one training process; returns its best metric."""

    def __init__(self, plan: SweepPlan, devices: list[str] | None = None):
        self.plan = plan
        self.devices = devices  # this worker's GPUs (None: as the machine has them)

    def __call__(self, trial: optuna.Trial) -> float:
        plan, spec = self.plan, self.plan.spec
        params = {p.name: suggest(trial, p) for p in spec.parameters}
        trial.set_user_attr("params", {p.name: params[p.name] for p in spec.parameters
                                       if p.distribution != "constant"})
        trial.set_user_attr("worker_pid", os.getpid())
        trial.set_user_attr("devices", self.devices)
        directory = plan.study_dir / "trials" / f"trial_{trial.number:04d}"
        directory.mkdir(parents=True, exist_ok=True)
        write_params_file(directory / "params.json", params)
        report, log = directory / "report.jsonl", directory / "output.log"
        overrides = trial_overrides(plan, f"{spec.name}_trial{trial.number}", report=True)
        command = trial_command(plan, directory / "params.json", overrides, free_port())
        trial.set_user_attr("log", str(log))
        env = gpu_environment(os.environ, self.devices,
                                **{REPORT_ENV: str(report), METRIC_ENV: spec.metric_key})
        feed = Feed(trial, ReportReader(report))
        proc = start_trial(command, env, log)
        pruned = supervise(proc, feed.poll, plan.grace_s)
        feed.poll(prune=False)  # what the trial wrote after the last look
        run_dir, experiment_id = feed.begin.get("run_dir"), feed.begin.get("experiment_id")
        trial.set_user_attr("run_dir", run_dir)
        trial.set_user_attr("experiment_id", experiment_id)
        if pruned:
            self._pruned(trial, feed.last, experiment_id)
        if proc.returncode != 0:
            mark_run(plan.db_path, experiment_id, "failed",
                     f"sweep trial {trial.number} exited with code {proc.returncode}")
            raise TrialFailed(f"trial {trial.number} exited with code {proc.returncode}; its "
                              f"output ({log}) ends with:\n{tail(log)}")
        value = best_value(Path(run_dir) / "metrics.jsonl", spec.metric_key, spec.maximize
                           ) if run_dir else None
        if value is None:
            raise TrialFailed(f"trial {trial.number} logged no {spec.metric_key}; let trials "
                              f"evaluate (training.eval_strategy steps or epoch) and check "
                              f"{log}")
        return value

    def _pruned(self, trial: optuna.Trial, last: dict[str, Any], experiment_id: str | None
                ) -> None:
        note = (f"pruned by sweep {self.plan.spec.name} (trial {trial.number}) at evaluation "
                f"{last['eval']} (step {last['step']}): {self.plan.spec.metric_key} = "
                f"{last['value']:.4g}")
        if not mark_run(self.plan.db_path, experiment_id, "interrupted", note):
            logger.warning("trial %d was pruned but its tracked run %s could not be marked",
                           trial.number, experiment_id)
        raise optuna.TrialPruned(note)


class Feed:
    """Hands a trial's reported evaluations to Optuna and keeps its begin record."""

    def __init__(self, trial: optuna.Trial, reader: ReportReader):
        self.trial = trial
        self.reader = reader
        self.begin: dict[str, Any] = {}
        self.last: dict[str, Any] = {}

    def poll(self, prune: bool = True) -> bool:
        """Report the new evaluations; True when Optuna says to prune the trial."""
        for record in self.reader.read():
            if record["event"] == "begin":
                self.begin = record
            elif record["event"] == "eval":
                self.last = record
                self.trial.report(record["value"], record["eval"])
                if prune and self.trial.should_prune():
                    return True
        return False


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """SIGTERM raises SystemExit here, so a stopped worker still stops its trial."""
    def leave(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, leave)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def finished(spec: SweepSpec, study: optuna.Study) -> bool:
    """Whether the sweep is over: `run_cap` trials started, or the best reached the target."""
    if spec.run_cap is not None and len(study.trials) >= spec.run_cap:
        return True
    best = best_trial(study)
    return best is not None and spec.reached(best.value)


def run_worker(plan: SweepPlan, n_trials: int, devices: list[str] | None = None) -> None:
    """One worker: up to `n_trials` trials of the shared study, one after another, on
    `devices` (GPU ids) when given."""
    def stop_when_finished(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if finished(plan.spec, study):
            study.stop()

    with sigterm_as_exit():
        study = open_study(plan)
        if not finished(plan.spec, study):
            study.optimize(TrialRunner(plan, devices), n_trials=n_trials, catch=(TrialFailed,),
                           callbacks=[stop_when_finished])


def grid_size(spec: SweepSpec) -> int:
    return math.prod(len(p.values) for p in spec.parameters if p.distribution == "categorical")


def run_local(plan: SweepPlan, count: int, devices: list[list[str] | None]) -> optuna.Study:
    """`count` trials split over one worker process per entry of `devices` (its GPU ids, or
    None), all sharing the study; returns the study."""
    study = open_study(plan, create=True)
    workers = len(devices)
    shares = [n for n in (count // workers + (i < count % workers) for i in range(workers)) if n]
    if len(shares) == 1:
        run_worker(plan, shares[0], devices[0])
        return study
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=run_worker, args=(plan, n, devices[i]),
                             name=f"sweep-worker-{i}") for i, n in enumerate(shares)]
    with sigterm_as_exit():
        for proc in procs:
            proc.start()
        try:
            for proc in procs:
                proc.join()
        except BaseException:
            for proc in procs:
                proc.terminate()
                proc.join()
            raise
    failed = [str(proc.exitcode) for proc in procs if proc.exitcode != 0]
    if failed:
        raise ToolkitError(f"{len(failed)} of {len(procs)} sweep workers failed (exit codes "
                           f"{', '.join(failed)}); their errors are printed above")
    return study
