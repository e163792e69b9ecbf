"""Sweeps: the sweep YAML checks, the params file, trial commands, and real local sweeps
(Optuna journal storage, trial processes of a tiny model, pruning, the tracking database)."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path

import optuna
import pytest
import yaml

from tests.helpers import ROOT, tiny_overrides
from toolkit.config import loader
from toolkit.errors import ConfigError, ToolkitError
from toolkit.sweep import local, storage, trial
from toolkit.sweep.cli import register
from toolkit.sweep.params import read_params_file, write_params_file
from toolkit.sweep.reporter import REPORTER
from toolkit.sweep.spec import load_spec, parse
from toolkit.sweep.wandb_backend import trial_environment, trial_params
from toolkit.tracking import ExperimentTracker

BASE = str(ROOT / "config" / "base_config.yaml")


@pytest.fixture(scope="module")
def base_config() -> dict:
    return loader.resolve(BASE)[0]


def spec_of(base_config: dict, **changes) -> dict:
    raw = {"program": "toolkit/train.py", "method": "random",
           "metric": {"name": "eval/loss", "goal": "minimize"},
           "parameters": {"learning_rate": {"distribution": "log_uniform_values",
                                            "min": "1e-4", "max": "1e-2"}}}
    raw.update(changes)
    return raw


def problems(raw: dict, base_config: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(raw, "bad", base_config)
    return caught.value.problems


def cli(*argv: str) -> tuple[int, str]:
    root = argparse.ArgumentParser(prog="toolkit")
    register(root.add_subparsers(dest="command", required=True))
    args = root.parse_args(["sweep", *argv, "--config", BASE])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = args.func(args)
    return code, out.getvalue()


# --- the sweep file ---------------------------------------------------------------------------

def test_the_seed_sweep_reads_as_w_and_b_wrote_it(base_config: dict) -> None:
    spec = load_spec(ROOT / "config" / "sweep" / "kobart_sweep.yaml", base_config)
    assert (spec.name, spec.method, spec.metric, spec.goal) == (
        "kobart_sweep", "bayes", "rouge_combined_f1", "maximize")
    assert spec.metric_key == "eval/rouge_combined_f1"
    wandb_spec = spec.to_wandb()
    assert wandb_spec["parameters"]["learning_rate"] == {
        "distribution": "log_uniform_values", "min": 1e-6, "max": 1e-3}  # numbers, not "1e-6"
    assert wandb_spec["parameters"]["num_train_epochs"] == {"values": [2, 3, 4, 5]}
    assert wandb_spec["program"] == "toolkit/train.py"
    quick = load_spec(ROOT / "config" / "sweep" / "quick_cpu_sweep.yaml", base_config)
    assert quick.early_terminate.min_iter == 1 and isinstance(
        local.make_pruner(quick), optuna.pruners.SuccessiveHalvingPruner)


def test_every_problem_is_reported_at_once_before_any_trial(tmp_path: Path) -> None:
    bad = {"program": "toolkit/train.py", "method": "grid",
           "metric": {"name": "rouge_combined", "goal": "maximize"},
           "parameters": {
               "learnin_rate": {"values": [1e-4]},
               "weight_decay": {"distribution": "log_uniform_value", "min": 0.01, "max": 0.1},
               "warmup_ratio": {"distribution": "uniform", "min": 0.0, "max": 0.2},
               "per_device_train_batch_size": {"values": [8, "sixteen"]}}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        cli(str(path), "--study-dir", str(tmp_path / "study"))
    found = caught.value.problems
    assert len(found) == 5
    assert all(p.startswith("bad.yaml: ") for p in found)
    text = "\n".join(found)
    assert "metric.name `rouge_combined` is not an evaluation metric (did you mean " \
           "`rouge_combined_f1`?)" in text
    assert "parameter `learnin_rate`: `learnin_rate` is not a config key (did you mean " \
           "`learning_rate`, i.e. training.learning_rate?)" in text
    assert "distribution `log_uniform_value` is unknown (did you mean `log_uniform_values`?)" \
           in text
    assert "parameter `warmup_ratio`: grid search needs a list of `values`, not the continuous " \
           "distribution `uniform`" in text
    assert "parameter `per_device_train_batch_size` = 'sixteen': " \
           "training.per_device_train_batch_size expects int" in text
    assert not (tmp_path / "study").exists()


def test_value_types_and_bounds_are_checked_against_the_schema(base_config: dict) -> None:
    found = problems(spec_of(base_config, parameters={
        "per_device_train_batch_size": {"distribution": "uniform", "min": 8, "max": 32},
        "training.warmup_ratio": {"values": [0.1, 1.5]},
        "training.lr_scheduler_type": {"values": ["linear", "cosin"]},
        "training.learning_rate": {"distribution": "log_uniform_values", "min": 0, "max": 1},
        "training.eval_strategy": {"value": "steps"},
        "training.weight_decay": {"min": 0.1, "max": 0.01},
    }), base_config)
    text = "\n".join(found)
    assert "training.per_device_train_batch_size takes int values but `uniform` draws floats" \
           in text
    assert "= 1.5: training.warmup_ratio must be <= 1" in text
    assert "training.lr_scheduler_type must be one of linear, cosine, constant; got 'cosin'" \
           in text
    assert "log_uniform_values needs min > 0" in text
    assert "training.eval_strategy is `steps` but training.eval_steps is 0" in text
    assert "min (0.1) must be below max (0.01)" in text


def test_nested_parameters_and_hyperband_keys(base_config: dict) -> None:
    spec = parse(spec_of(base_config, parameters={
        "training": {"parameters": {"learning_rate": {"values": [1e-3, 1e-4]},
                                    "warmup_ratio": {"min": 0.0, "max": 0.1}}},
        "generation.num_beams": {"min": 1, "max": 4}},
        early_terminate={"type": "hyperband", "min_iter": 2, "eta": 2}), "nested", base_config)
    kinds = {p.name: p.distribution for p in spec.parameters}
    assert kinds == {"training.learning_rate": "categorical", "training.warmup_ratio": "uniform",
                     "generation.num_beams": "int_uniform"}
    assert spec.to_wandb()["early_terminate"] == {"type": "hyperband", "min_iter": 2, "eta": 2}
    found = problems(spec_of(base_config, early_terminate={"type": "hyperband", "eta": 1,
                                                             "min_iter": 3, "max_iter": 2}),
                     base_config)
    assert found == ["early_terminate.eta must be >= 2; got 1",
                     "early_terminate.max_iter (2) must be above min_iter (3)"]


def test_samplers_follow_the_method(base_config: dict) -> None:
    for method, kind in (("bayes", optuna.samplers.TPESampler),
                         ("random", optuna.samplers.RandomSampler)):
        assert isinstance(local.make_sampler(parse(spec_of(base_config, method=method), "s",
                                                   base_config)), kind)
    grid = parse(spec_of(base_config, method="grid", parameters={
        "learning_rate": {"values": [1e-3, 1e-4]}, "meta.tags": {"values": [["a"], ["b", "c"]]},
        "general.seed": {"value": 7}}), "g", base_config)
    assert local.grid_size(grid) == 4
    drawn = []

    def objective(trial: optuna.Trial) -> float:
        drawn.append(tuple(json.dumps(local.suggest(trial, p)) for p in grid.parameters))
        return 0.0

    study = optuna.create_study(sampler=local.make_sampler(grid))
    study.optimize(objective, n_trials=10)  # the grid sampler stops after the 4 points
    assert len(drawn) == 4 and len(set(drawn)) == 4 and {d[2] for d in drawn} == {"7"}
    assert {d[1] for d in drawn} == {'["a"]', '["b", "c"]'}  # lists come back as lists


# --- trial parameters and commands -------------------------------------------------------------

def test_params_file_round_trip_keeps_types(tmp_path: Path, base_config: dict) -> None:
    params = {"learning_rate": 1e-6, "per_device_train_batch_size": 16,
              "training.group_by_length": False, "num_train_epochs": 2.0,
              "meta.tags": ["sweep", "트라이얼"], "tokenizer.extra_special_tokens": ["#Address#"],
              "model.dropout": None}
    path = tmp_path / "params.json"
    write_params_file(path, params)
    merged = loader.apply_overrides(base_config, read_params_file(str(path)))
    training = merged["training"]
    assert training["learning_rate"] == 1e-6 and isinstance(training["learning_rate"], float)
    assert training["per_device_train_batch_size"] == 16
    assert isinstance(training["per_device_train_batch_size"], int)
    assert training["group_by_length"] is False
    assert training["num_train_epochs"] == 2.0
    assert merged["meta"]["tags"] == ["sweep", "트라이얼"]
    assert merged["tokenizer"]["extra_special_tokens"] == ["#Address#"]
    assert merged["model"]["dropout"] is None


def plan_for(tmp_path: Path, base_config: dict, launch: str | None = None) -> trial.SweepPlan:
    spec = parse(spec_of(base_config), "demo", base_config)
    return trial.SweepPlan(spec=spec, program=trial.resolve_program(spec.program), config=BASE,
                           study_dir=tmp_path / "study", db_path=str(tmp_path / "t.db"),
                           callbacks=["log_file"], overrides=["meta.experiment_name=mine",
                                                              "general.output_dir=/elsewhere"],
                           launch=launch)


def test_trial_commands(tmp_path: Path, base_config: dict) -> None:
    plan = plan_for(tmp_path, base_config)
    overrides = trial.trial_overrides(plan, "demo_trial3", report=True)
    command = trial.trial_command(plan, tmp_path / "p.json", overrides, 29601)
    assert command[:2] == [sys.executable, str(ROOT / "toolkit" / "train.py")]
    assert command[2:6] == ["--config", BASE, "--params-file", str(tmp_path / "p.json")]
    # the user's overrides come first; the sweep's own settings win over them
    assert overrides.index("general.output_dir=/elsewhere") > 0
    assert overrides.index("meta.experiment_name=demo_trial3") > overrides.index(
        "meta.experiment_name=mine")
    assert {"tracking.enabled=true", f"tracking.db_path={tmp_path / 't.db'}",
            "training.metric_for_best_model=loss",
            "training.greater_is_better=false"} <= set(overrides)
    assert overrides[-1] == f"callbacks={json.dumps(['log_file', REPORTER])}"
    resolved = loader.apply_overrides(base_config, overrides)
    assert resolved["callbacks"][-1] == REPORTER
    accelerate = trial.launch_prefix("accelerate launch --config_file cfg.yaml", 29601)
    assert accelerate == ["accelerate", "launch", "--config_file", "cfg.yaml",
                          "--main_process_port", "29601"]
    assert trial.launch_prefix("torchrun --nproc_per_node 2", 5) == [
        "torchrun", "--nproc_per_node", "2", "--master_port", "5"]
    assert trial.launch_prefix("python -m accelerate.commands.launch --main_process_port {port}",
                               7)[-1] == "7"
    with pytest.raises(ConfigError, match="toolkit/train.py"):
        trial.resolve_program("trainer.py")


def test_wandb_agent_side_up_to_the_server(tmp_path: Path, base_config: dict) -> None:
    """What the W&B agent function does with a run's config (the agent itself needs the
    server): the same params file, the trial's command, and an environment that joins the
    agent's run instead of starting a sweep run of its own."""
    spec = load_spec(ROOT / "config" / "sweep" / "kobart_sweep.yaml", base_config)
    config = {"learning_rate": 3e-5, "per_device_train_batch_size": 16, "num_train_epochs": 3,
              "weight_decay": 0.05, "_wandb": {}}
    params = trial_params(spec, config)
    assert params == {k: v for k, v in config.items() if k != "_wandb"}
    nested = parse(spec_of(base_config, parameters={
        "training": {"parameters": {"learning_rate": {"values": [1e-3]}}}}), "n", base_config)
    assert trial_params(nested, {"training": {"learning_rate": 1e-3}}) == {
        "training.learning_rate": 1e-3}
    with pytest.raises(ToolkitError, match="lacks num_train_epochs"):
        trial_params(spec, {k: v for k, v in config.items() if k != "num_train_epochs"})
    env = trial_environment({"WANDB_SWEEP_ID": "s1", "WANDB_SWEEP_PARAM_PATH": "p",
                             "WANDB_API_KEY": "k", "PATH": "/bin"}, "run123", "proj", None)
    assert env == {"WANDB_API_KEY": "k", "PATH": "/bin", "TOOLKIT_WANDB_SHARED_RUN": "run123",
                   "WANDB_RUN_ID": "run123", "WANDB_PROJECT": "proj"}
    plan = plan_for(tmp_path, base_config, launch="accelerate launch --config_file multi.yaml")
    write_params_file(tmp_path / "p.json", params)
    overrides = [*trial.trial_overrides(plan, "kobart_sweep_run123", report=False),
                 "wandb.enabled=true"]
    command = trial.trial_command(plan, tmp_path / "p.json", overrides, 29700)
    assert command[:6] == ["accelerate", "launch", "--config_file", "multi.yaml",
                           "--main_process_port", "29700"]
    assert not any(item.startswith("callbacks=") for item in command)
    # what toolkit/train.py does with them on every rank
    resolved = loader.apply_overrides(base_config,
                                      [*overrides, *read_params_file(str(tmp_path / "p.json"))])
    assert resolved["wandb"]["enabled"] is True
    assert resolved["training"]["learning_rate"] == 3e-5
    assert resolved["meta"]["experiment_name"] == "kobart_sweep_run123"


def test_status_and_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(ToolkitError, match="holds no sweep study"):
        cli("status", "--study-dir", str(tmp_path))
    with pytest.raises(ToolkitError, match="needs the sweep YAML, --study-dir DIR or --storage"):
        cli("status")
    with pytest.raises(ToolkitError, match="takes one sweep file"):
        cli("a.yaml", "b.yaml")
    with pytest.raises(ConfigError, match="does not exist"):
        cli(str(tmp_path / "missing.yaml"))


# --- real local sweeps ---------------------------------------------------------------------------

def tiny_sets(tmp: Path, cache: Path, **extra: object) -> list[str]:
    """`--set` items for trials of a few seconds: 4 steps, an evaluation every 2."""
    extra = {"data__embedded_train_size": 32, "data__embedded_eval_size": 8,
             "training__max_steps": 4, "training__eval_strategy": "steps",
             "training__eval_steps": 2, "checkpoint__save_total_limit": 1, **extra}
    return [part for item in tiny_overrides(tmp, cache, **extra) for part in ("--set", item)]


def write_spec(path: Path, **changes) -> Path:
    raw = {"program": "toolkit/train.py", "method": "random",
           "metric": {"name": "eval/loss", "goal": "minimize"},
           "parameters": {"learning_rate": {"distribution": "log_uniform_values",
                                            "min": 5e-4, "max": 5e-3},
                          "training.warmup_ratio": {"values": [0.0, 0.25]}}}
    raw.update(changes)
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shared_sweep(tmp_path_factory, cache_dir: Path) -> dict:
    """3 trials of a tiny model from 2 worker processes sharing one study."""
    tmp = tmp_path_factory.mktemp("sweep")
    spec = write_spec(tmp / "tiny_sweep.yaml")
    code, out = cli(str(spec), "--count", "3", "--workers", "2", "--study-dir",
                    str(tmp / "study"), "--db", str(tmp / "sweep.db"), *tiny_sets(tmp, cache_dir))
    return {"tmp": tmp, "code": code, "out": out, "study": storage.load_existing(tmp / "study")}


@pytest.mark.slow
def test_a_local_sweep_tracks_every_trial_and_reports_the_best(shared_sweep: dict) -> None:
    tmp, study = shared_sweep["tmp"], shared_sweep["study"]
    assert shared_sweep["code"] == 0
    trials = study.trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 3
    runs = {e["name"]: e for e in ExperimentTracker(tmp / "sweep.db").list_experiments()}
    assert set(runs) == {f"tiny_sweep_trial{t.number}" for t in trials}
    for t in trials:
        run = runs[f"tiny_sweep_trial{t.number}"]
        assert run["status"] == "completed" and run["id"] == t.user_attrs["experiment_id"]
        assert run["config"]["training"]["learning_rate"] == t.params["learning_rate"]
        assert run["best_metrics"]["loss"] == pytest.approx(t.value)
        assert Path(run["run_dir"]) == Path(t.user_attrs["run_dir"])
    best = min(trials, key=lambda t: t.value)
    out = shared_sweep["out"]
    assert f"best: trial {best.number}, eval/loss = {best.value:.4g}" in out
    assert f"run dir: {best.user_attrs['run_dir']}" in out
    code, status = cli("status", "--study-dir", str(tmp / "study"))
    assert code == 0 and status.count("complete") == 3 and f"best: trial {best.number}" in status


@pytest.mark.slow
def test_two_workers_share_one_study(shared_sweep: dict) -> None:
    trials = shared_sweep["study"].trials
    assert sorted(t.number for t in trials) == [0, 1, 2]
    assert len({t.user_attrs["worker_pid"] for t in trials}) == 2
    run_dirs = [t.user_attrs["run_dir"] for t in trials]
    assert len(set(run_dirs)) == 3 and all(Path(d, "best").is_dir() for d in run_dirs)
    params = [json.loads((shared_sweep["tmp"] / "study" / "trials" / f"trial_{t.number:04d}" /
                          "params.json").read_text()) for t in trials]
    assert [p["learning_rate"] for p in params] == [t.params["learning_rate"] for t in trials]


@pytest.mark.slow
def test_a_pruned_trial_is_stopped_and_recorded_as_pruned(tmp_path: Path, cache_dir: Path,
                                                          base_config: dict) -> None:
    """One Hyperband bracket (max_iter 2) and four earlier trials far better at the first
    evaluation: the new trial must be pruned there, whatever its learning rate."""
    spec_path = write_spec(tmp_path / "prune.yaml", early_terminate={
        "type": "hyperband", "min_iter": 1, "max_iter": 2, "eta": 3})
    study_dir = tmp_path / "study"
    plan = plan_for(tmp_path, base_config)
    plan.spec, plan.study_dir = load_spec(spec_path, base_config), study_dir
    study = local.open_study(plan, create=True)
    for _ in range(4):
        trial = study.ask()
        trial.report(0.01, 1)
        assert not trial.should_prune()
        study.tell(trial, 0.01)
    code, out = cli(str(spec_path), "--count", "1", "--study-dir", str(study_dir), "--db",
                    str(tmp_path / "t.db"), *tiny_sets(tmp_path, cache_dir, training__max_steps=40))
    assert code == 0
    pruned = storage.load_existing(study_dir).trials[-1]
    assert pruned.state == optuna.trial.TrialState.PRUNED
    # the supervisor reads reports and signals the trial asynchronously, so on a busy machine
    # the decision may come at a later evaluation than the first: every one is worse than 0.01
    assert min(pruned.intermediate_values) == 1 and min(pruned.intermediate_values.values()) > 1.0
    [run] = ExperimentTracker(tmp_path / "t.db").list_experiments()
    assert run["id"] == pruned.user_attrs["experiment_id"]
    assert run["status"] == "interrupted"
    assert run["notes"].startswith("pruned by sweep prune (trial 4) at evaluation ")
    assert Path(run["run_dir"], "final").is_dir()  # SIGTERM: the trainer saved and left
    code, status = cli("status", "--study-dir", str(study_dir))
    assert "pruned" in status and "best: trial 0" in status


def test_a_failing_trial_is_recorded_and_the_sweep_goes_on(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "fails.yaml")
    code, out = cli(str(spec), "--count", "2", "--study-dir", str(tmp_path / "study"),
                    "--db", str(tmp_path / "t.db"),
                    "--launch", f"{sys.executable} -c 'import sys; sys.exit(3)'")
    assert code == 0 and "best: no completed trial yet" in out
    trials = storage.load_existing(tmp_path / "study").trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.FAIL] * 2
    assert Path(trials[0].user_attrs["log"]).is_file()
