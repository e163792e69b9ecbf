"""Local sweeps on Optuna, and the trial processes that both sweep backends start.

A trial is one training run in its own process group::

    <launch> <program> --config BASE --params-file trials/trial_N/params.json <overrides>

so every rank reads the same parameters, and stopping the group stops every rank. Workers
(``--workers K`` processes) share one study in Optuna's journal file (Optuna advises against
SQLite for parallel workers). With ``early_terminate: hyperband`` the trial's
:class:`~toolkit.sweep.reporter.SweepReporter` appends each evaluation to a report file; the
worker passes it to ``trial.report`` (the step is the evaluation count, W&B's "iteration") and,
when Optuna says prune, stops the group (SIGTERM: the trainer checkpoints and exits as
interrupted; SIGKILL after a grace period) and notes "pruned" on the tracked run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import multiprocessing
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from toolkit.errors import ConfigError, ToolkitError
from toolkit.sweep.params import write_params_file
from toolkit.sweep.reporter import METRIC_ENV, REPORT_ENV, REPORTER
from toolkit.sweep.spec import Parameter, SweepSpec
from toolkit.tracking.db import TrackingError
from toolkit.tracking.tracker import ExperimentTracker

logger = logging.getLogger(__name__)

POLL_S = 0.5
KILL_GRACE_S = 60.0
JOURNAL = "study.journal"
TAIL_LINES = 15
REPO = Path(__file__).resolve().parents[2]


class TrialFailed(ToolkitError):
    """A trial process failed, or its run logged no value of the sweep metric."""


@dataclass
class SweepPlan:
    """What a worker needs to start trials (picklable, for worker processes)."""

    spec: SweepSpec
    program: str  # the training script, resolved
    config: str  # the base config file
    study_dir: Path
    db_path: str  # the tracking database of every trial
    callbacks: list[Any]  # the base config's subscribers (with the user's overrides applied)
    overrides: list[str] = field(default_factory=list)  # the user's --set items
    launch: str | None = None
    grace_s: float = KILL_GRACE_S


# --------------------------------------------------------------------- trial processes
def resolve_program(program: str) -> str:
    """The sweep's `program`, as given or relative to the toolkit's repository."""
    for candidate in (Path(program), REPO / program):
        if candidate.is_file():
            return str(candidate.resolve())
    raise ConfigError([f"sweep program `{program}` is not a file; the toolkit's training script "
                       f"is toolkit/train.py (set `program: toolkit/train.py`)"])


def trial_overrides(plan: SweepPlan, experiment_name: str, report: bool) -> list[str]:
    """The trial's `section.key=value` arguments; the sweep's own settings come last and win."""
    metric = plan.spec.metric_key.removeprefix("eval/")
    items = [f"general.output_dir={plan.study_dir / 'runs'}", *plan.overrides,
             "tracking.enabled=true", f"tracking.db_path={plan.db_path}",
             f"meta.experiment_name={experiment_name}",
             f"training.metric_for_best_model={metric}",
             f"training.greater_is_better={str(plan.spec.maximize).lower()}"]
    if report:
        items.append(f"callbacks={json.dumps([*plan.callbacks, REPORTER])}")
    return items


def launch_prefix(launch: str | None, port: int) -> list[str]:
    """The words before the program; `{port}` (or a launcher's missing port flag) gets `port`."""
    if not launch:
        return [sys.executable]
    words = shlex.split(launch.replace("{port}", str(port)))
    if "{port}" in launch or not words:
        return words
    tool = Path(words[0]).name
    if tool == "accelerate" and not any(w.startswith("--main_process_port") for w in words):
        words += ["--main_process_port", str(port)]
    elif tool == "torchrun" and not any(w.startswith(("--master_port", "--master-port"))
                                        for w in words):
        words += ["--master_port", str(port)]
    return words


def trial_command(plan: SweepPlan, params_file: Path, overrides: list[str], port: int
                  ) -> list[str]:
    return [*launch_prefix(plan.launch, port), plan.program, "--config", plan.config,
            "--params-file", str(params_file), *overrides]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_trial(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """The trial as the leader of a new process group, its output in `log_path`."""
    with log_path.open("ab") as log:
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)


def stop_group(proc: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM to every process of the trial; SIGKILL to what is left after `grace_s`."""
    _signal_group(proc, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    _signal_group(proc, signal.SIGKILL)
    proc.wait()


def supervise(proc: subprocess.Popen, should_stop: Callable[[], bool], grace_s: float) -> bool:
    """Wait for the trial; stop its group when `should_stop()` says so (returns True) or when
    this thread is interrupted (Ctrl-C, a W&B stop command), which is re-raised."""
    try:
        while proc.poll() is None:
            if should_stop():
                stop_group(proc, grace_s)
                return True
            time.sleep(POLL_S)
    except BaseException:
        stop_group(proc, grace_s)
        raise
    return False


def tail(path: Path, lines: int = TAIL_LINES) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.replace("\r", "\n").splitlines()[-lines:])


class ReportReader:
    """The complete JSON lines a trial appended to its report file since the last read."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0

    def read(self) -> list[dict[str, Any]]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        self.offset += end
        return [json.loads(line) for line in data[:end].splitlines() if line.strip()]


def best_value(history: Path, key: str, maximize: bool) -> float | None:
    """The best finite value of `key` in a run's metrics.jsonl, or None."""
    if not history.is_file():
        return None
    values = [record[key] for record in map(json.loads, history.read_text("utf-8").splitlines())
              if isinstance(record.get(key), (int, float)) and math.isfinite(record[key])]
    if not values:
        return None
    return max(values) if maximize else min(values)


def mark_run(db_path: str, experiment_id: str | None, status: str, note: str) -> bool:
    """Set a tracked run's status and note unless it already finished; True when set."""
    if experiment_id is None:
        return False
    try:
        ExperimentTracker(db_path).update_experiment_status(experiment_id, status, notes=note)
    except TrackingError as error:
        logger.debug("run %s keeps its status: %s", experiment_id, error)
        return False
    return True


# ------------------------------------------------------------------------------ optuna
def storage(study_dir: Path) -> JournalStorage:
    study_dir.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(study_dir / JOURNAL)))


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
    """W&B's hyperband settings as Optuna's HyperbandPruner (resources are evaluations)."""
    band = spec.early_terminate
    if band is None:
        return optuna.pruners.NopPruner()
    min_resource = band.min_iter or max(1, band.max_iter // band.eta ** (band.s or 0))
    return optuna.pruners.HyperbandPruner(min_resource=min_resource,
                                          max_resource=band.max_iter or "auto",
                                          reduction_factor=band.eta)


def suggest(trial: optuna.Trial, p: Parameter) -> Any:
    """The trial's value of one parameter, drawn as W&B would draw it."""
    kind = p.distribution
    if kind == "constant":
        return p.value
    if kind == "categorical":
        options = {_choice(v): v for v in p.values}
        return options[trial.suggest_categorical(p.name, list(options))]
    if kind == "int_uniform":
        return trial.suggest_int(p.name, int(p.min), int(p.max))
    if kind == "normal":  # Optuna has no normal: draw the quantile, map it through the CDF
        quantile = trial.suggest_float(f"{p.name}:quantile", 1e-6, 1 - 1e-6)
        return NormalDist(p.mu, p.sigma).inv_cdf(quantile)
    low, high = (math.exp(p.min), math.exp(p.max)) if kind == "log_uniform" else (p.min, p.max)
    return trial.suggest_float(p.name, low, high, step=p.q if kind == "q_uniform" else None,
                               log=kind in ("log_uniform", "log_uniform_values"))


def open_study(plan: SweepPlan, create: bool = False) -> optuna.Study:
    """The sweep's study in its journal file (created, or joined by a worker)."""
    spec = plan.spec
    kwargs = {"study_name": spec.name, "storage": storage(plan.study_dir),
              "sampler": make_sampler(spec), "pruner": make_pruner(spec)}
    if not create:
        return optuna.load_study(**kwargs)
    direction = "maximize" if spec.maximize else "minimize"
    study = optuna.create_study(direction=direction, load_if_exists=True, **kwargs)
    if study.direction.name.lower() != direction:
        raise ToolkitError(f"{plan.study_dir} holds study `{spec.name}` with direction "
                           f"{study.direction.name.lower()}, but the sweep's goal is {spec.goal};"
                           f" pass another --study-dir")
    study.set_user_attr("metric", spec.metric_key)
    study.set_user_attr("goal", spec.goal)
    study.set_user_attr("fixed", {p.name: p.value for p in spec.parameters
                                  if p.distribution == "constant"})
    return study


class TrialRunner:
    """The objective: one Optuna trial as one training process; returns its best metric."""

    def __init__(self, plan: SweepPlan):
        self.plan = plan

    def __call__(self, trial: optuna.Trial) -> float:
        plan, spec = self.plan, self.plan.spec
        params = {p.name: suggest(trial, p) for p in spec.parameters}
        trial.set_user_attr("params", {p.name: params[p.name] for p in spec.parameters
                                       if p.distribution != "constant"})
        trial.set_user_attr("worker_pid", os.getpid())
        directory = plan.study_dir / "trials" / f"trial_{trial.number:04d}"
        directory.mkdir(parents=True, exist_ok=True)
        write_params_file(directory / "params.json", params)
        report, log = directory / "report.jsonl", directory / "output.log"
        overrides = trial_overrides(plan, f"{spec.name}_trial{trial.number}", report=True)
        command = trial_command(plan, directory / "params.json", overrides, free_port())
        trial.set_user_attr("log", str(log))
        env = {**os.environ, REPORT_ENV: str(report), METRIC_ENV: spec.metric_key}
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


def run_worker(plan: SweepPlan, n_trials: int) -> None:
    """One worker: `n_trials` trials of the shared study, one after another."""
    with sigterm_as_exit():
        study = open_study(plan)
        study.optimize(TrialRunner(plan), n_trials=n_trials, catch=(TrialFailed,))


def grid_size(spec: SweepSpec) -> int:
    return math.prod(len(p.values) for p in spec.parameters if p.distribution == "categorical")


def run_local(plan: SweepPlan, count: int, workers: int = 1) -> optuna.Study:
    """`count` trials split over `workers` processes sharing the study; returns the study."""
    study = open_study(plan, create=True)
    shares = [n for n in (count // workers + (i < count % workers) for i in range(workers)) if n]
    if len(shares) == 1:
        run_worker(plan, shares[0])
        return study
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=run_worker, args=(plan, n), name=f"sweep-worker-{i}")
             for i, n in enumerate(shares)]
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


# ------------------------------------------------------------------------------ status
def load_existing(study_dir: Path) -> optuna.Study:
    if not (study_dir / JOURNAL).is_file():
        raise ToolkitError(f"{study_dir} holds no sweep study ({JOURNAL} is missing); pass the "
                           f"--study-dir of a local sweep, or the sweep YAML it ran")
    journal = storage(study_dir)
    names = optuna.get_all_study_names(journal)
    return optuna.load_study(study_name=names[0], storage=journal)


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:  # no completed trial yet
        return None


def describe_best(study: optuna.Study) -> str:
    best = best_trial(study)
    if best is None:
        return "best: no completed trial yet"
    metric = study.user_attrs.get("metric", "value")
    params = ", ".join(f"{k}={v}" for k, v in best.user_attrs.get("params", best.params).items())
    return (f"best: trial {best.number}, {metric} = {best.value:.4g}\n  params: {params}\n"
            f"  run dir: {best.user_attrs.get('run_dir')}")


def describe(study: optuna.Study) -> str:
    """The trials (number, state, value, params, run dir) and the best so far."""
    from toolkit.tracking.cli import table

    metric = study.user_attrs.get("metric", "value")
    rows = [(t.number, t.state.name.lower(), t.value, t.user_attrs.get("params", t.params),
             t.user_attrs.get("run_dir")) for t in study.trials]
    header = f"sweep {study.study_name}: {len(rows)} trial(s), {metric} " \
             f"({study.user_attrs.get('goal', study.direction.name.lower())})"
    body = table(("#", "STATE", metric.upper(), "PARAMS", "RUN DIR"), rows)
    return f"{header}\n{body}\n{describe_best(study)}"
