"""Sweep files as W&B documents them: every distribution, `command:`, run_cap, target and
hyperband bands; shared Optuna storages, GPUs per worker, and the W&B backend without a login."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import optuna
import pytest
import yaml

from tests.helpers import ROOT, environment, tiny_overrides
from toolkit.config import loader
from toolkit.errors import ConfigError, ToolkitError
from toolkit.sweep import distributions, local, storage
from toolkit.sweep.cli import register
from toolkit.sweep.command import parse_command
from toolkit.sweep.devices import assign, visible_gpus
from toolkit.sweep.spec import parse, resolve_sweep
from toolkit.sweep.wandb_backend import require_login
from toolkit.tracking import ExperimentTracker

BASE = str(ROOT / "config" / "base_config.yaml")
DEFAULT_COMMAND = ["${env}", "${interpreter}", "${program}", "${args}"]


@pytest.fixture(scope="module")
def base_config() -> dict:
    return loader.resolve(BASE, environ={})[0]


def sweep(parameters: dict, **changes) -> dict:
    return {"program": "toolkit/train.py", "method": "random",
            "metric": {"name": "eval/loss", "goal": "minimize"}, "parameters": parameters,
            **changes}


def cli(*argv: str) -> tuple[int, str]:
    root = argparse.ArgumentParser(prog="toolkit")
    register(root.add_subparsers(dest="command", required=True))
    args = root.parse_args(["sweep", *argv])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = args.func(args)
    return code, out.getvalue()


# --- distributions ------------------------------------------------------------------------------

# One parameter of each distribution W&B documents, on config keys whose types and bounds fit.
EVERY_DISTRIBUTION = {
    "general.seed": {"value": 7},
    "training.lr_scheduler_type": {"values": ["linear", "cosine", "constant"],
                                   "probabilities": [0.2, 0.5, 0.3]},
    "generation.num_beams": {"distribution": "int_uniform", "min": 1, "max": 4},
    "training.adam_beta1": {"distribution": "uniform", "min": 0.8, "max": 0.95},
    "training.warmup_ratio": {"distribution": "q_uniform", "min": 0.0, "max": 0.3, "q": 0.05},
    "training.adam_beta2": {"distribution": "log_uniform", "min": -0.1, "max": 0.0},
    "training.learning_rate": {"distribution": "log_uniform_values", "min": "1e-5",
                               "max": "1e-3"},
    "generation.max_new_tokens": {"distribution": "q_log_uniform", "min": 2.0, "max": 4.2,
                                  "q": 4},
    "training.per_device_train_batch_size": {"distribution": "q_log_uniform_values", "min": 8,
                                             "max": 64, "q": 8},
    "training.adam_epsilon": {"distribution": "inv_log_uniform", "min": 16, "max": 20},
    "training.weight_decay": {"distribution": "inv_log_uniform_values", "min": 1e-4,
                              "max": 0.1},
    "generation.length_penalty": {"distribution": "normal", "mu": 1.0, "sigma": 0.2},
    "generation.no_repeat_ngram_size": {"distribution": "q_normal", "mu": 3, "sigma": 0.5,
                                        "q": 1},
    "generation.repetition_penalty": {"distribution": "log_normal", "mu": 0.0, "sigma": 0.1},
    "training.max_grad_norm": {"distribution": "q_log_normal", "mu": 0.0, "sigma": 0.5,
                               "q": 0.1},
    "model": {"parameters": {"dropout": {"values": [0.0, 0.1]}}},  # nested parameters
}


def draws(spec, n: int) -> list[dict]:
    """`n` trials' parameters from the local backend's random sampler (seeded)."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append({p.name: local.suggest(trial, p) for p in spec.parameters})
        study.tell(trial, 0.0)
    return out


def on_grid(value: float, q: float) -> bool:
    return math.isclose(value / q, round(value / q), abs_tol=1e-9)


def test_every_wandb_distribution_samples_as_documented(base_config: dict) -> None:
    spec = parse(sweep(EVERY_DISTRIBUTION), "every", base_config)
    assert {p.distribution for p in spec.parameters} == set(distributions.REQUIRED)
    rows = draws(spec, 400)
    column = {name: [row[name] for row in rows] for name in rows[0]}
    assert set(column["general.seed"]) == {7}
    counts = Counter(column["training.lr_scheduler_type"])
    assert set(counts) == {"linear", "cosine", "constant"}
    assert 0.13 < counts["linear"] / 400 < 0.27 and 0.42 < counts["cosine"] / 400 < 0.58
    assert set(column["generation.num_beams"]) == {1, 2, 3, 4}
    assert all(0.8 <= v <= 0.95 for v in column["training.adam_beta1"])
    assert all(0.0 <= v <= 0.3 and on_grid(v, 0.05) for v in column["training.warmup_ratio"])
    assert all(math.exp(-0.1) <= v <= 1.0 for v in column["training.adam_beta2"])
    lrs = column["training.learning_rate"]
    assert all(1e-5 <= v <= 1e-3 for v in lrs)
    assert 0.35 < sum(v < 1e-4 for v in lrs) / 400 < 0.65  # log-uniform: half below 1e-4
    assert all(isinstance(v, int) and v % 4 == 0 and 4 <= v <= 68
               for v in column["generation.max_new_tokens"])
    batch = column["training.per_device_train_batch_size"]
    assert all(isinstance(v, int) and v % 8 == 0 and 8 <= v <= 64 for v in batch)
    assert all(math.exp(-20) <= v <= math.exp(-16) for v in column["training.adam_epsilon"])
    decay = column["training.weight_decay"]
    assert all(1e-4 <= v <= 0.1 for v in decay)
    assert 0.35 < sum(v < 10 ** -2.5 for v in decay) / 400 < 0.65  # log-uniform between them
    penalty = column["generation.length_penalty"]
    assert abs(sum(penalty) / 400 - 1.0) < 0.05 and 0.15 < _std(penalty) < 0.25
    assert all(isinstance(v, int) for v in column["generation.no_repeat_ngram_size"])
    assert all(v > 0 for v in column["generation.repetition_penalty"])
    assert all(on_grid(v, 0.1) for v in column["training.max_grad_norm"])
    assert set(column["model.dropout"]) == {0.0, 0.1}
    for row in rows[:20]:  # every draw is a valid trial config
        loader.merge_sweep_params(base_config, row)
    assert spec.to_wandb()["parameters"]["training.lr_scheduler_type"] == {
        "values": ["linear", "cosine", "constant"], "probabilities": [0.2, 0.5, 0.3]}
    assert spec.to_wandb()["parameters"]["generation.max_new_tokens"] == {
        "distribution": "q_log_uniform", "min": 2.0, "max": 4.2, "q": 4}


def _std(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def test_wandbs_documented_example_sweep_reads_with_aliases(base_config: dict) -> None:
    """The example of W&B's sweep guide (batch_size, epochs, lr, dropout), as written."""
    example = yaml.safe_load("""
        method: random
        name: sweep
        metric: {goal: minimize, name: loss}
        parameters:
          batch_size: {distribution: q_log_uniform_values, max: 256, min: 32, q: 8}
          dropout: {values: [0.3, 0.4, 0.5]}
          epochs: {value: 1}
          lr: {max: 0.1, min: 0.0001}
        run_cap: 5
    """)
    spec = parse(example, "x", base_config)
    row = draws(spec, 1)[0]
    merged = loader.merge_sweep_params(base_config, {"training.per_device_train_batch_size":
                                                     row["batch_size"]})
    assert merged["training"]["per_device_train_batch_size"] % 8 == 0
    assert spec.run_cap == 5 and spec.to_wandb()["run_cap"] == 5
    assert spec.program == "toolkit/train.py" and spec.metric_key == "eval/loss"


def test_distribution_problems_name_the_fix(base_config: dict) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(sweep({
            "training.lr_scheduler_type": {"values": ["linear", "cosine"],
                                           "probabilities": [0.5, 0.6]},
            "training.warmup_ratio": {"distribution": "uniform", "min": 0.0, "max": 0.2,
                                      "probabilities": [1.0]},
            "training.weight_decay": {"distribution": "inv_log_uniform_values", "min": 0,
                                      "max": 0.1},
            "per_device_train_batch_size": {"distribution": "q_uniform", "min": 8, "max": 32,
                                            "q": 0.5},
            "training.num_train_epochs": {"distribution": "q_uniform", "min": 1, "max": 4}},
            metric={"name": "loss", "goal": "minimize", "target": "low"}, run_cap=0,
            early_terminate={"type": "hyperband", "max_iter": 27, "strict": "yes"}),
            "bad", base_config)
    assert caught.value.problems == [
        "metric.target must be a number; got 'low'",
        "early_terminate.strict must be true or false; got 'yes'",
        "early_terminate needs min_iter (or max_iter with s): the evaluations every trial gets "
        "before it can be stopped",
        "run_cap must be a whole number >= 1 (trials in the whole sweep); got 0",
        "parameter `training.lr_scheduler_type`: `probabilities` must list one number >= 0 per "
        "value (2), summing to 1; got [0.5, 0.6]",
        "parameter `training.warmup_ratio`: `probabilities` belongs to a list of `values`, not "
        "to `uniform`",
        "parameter `training.weight_decay`: inv_log_uniform_values needs min > 0 (got 0); the "
        "bounds are the values themselves, e.g. min: 1e-6, max: 1e-3",
        "parameter `per_device_train_batch_size`: training.per_device_train_batch_size takes "
        "int values but `q_uniform` draws floats; use int_uniform, a whole-number `q`, or "
        "`values: [...]`"]  # q_uniform without q: W&B's q 1, whole epochs


def test_hyperband_bands_run_cap_and_target(base_config: dict) -> None:
    spec = parse(sweep({"lr": {"values": [1e-3]}}, run_cap=3,
                       metric={"name": "rouge_combined_f1", "goal": "maximize", "target": 0.4},
                       early_terminate={"type": "hyperband", "max_iter": 27, "s": 2, "eta": 3,
                                        "strict": True}), "h", base_config)
    assert spec.early_terminate.first_band == 3  # W&B's bands: 27/3^2 = 3, 27/3 = 9
    pruner = local.make_pruner(spec)
    assert isinstance(pruner, optuna.pruners.SuccessiveHalvingPruner)
    assert spec.reached(0.41) and not spec.reached(0.39)
    wandb_form = spec.to_wandb()
    assert wandb_form["metric"] == {"name": "rouge_combined_f1", "goal": "maximize",
                                    "target": 0.4}
    assert wandb_form["early_terminate"] == {"type": "hyperband", "max_iter": 27, "eta": 3,
                                             "s": 2, "strict": True}


# --- command --------------------------------------------------------------------------------------

def command_of(words: list) -> tuple:
    problems: list[str] = []
    return parse_command(words, problems), problems


def test_commands_are_honoured_or_refused() -> None:
    default, problems = command_of(DEFAULT_COMMAND)
    assert not problems and default.launch == () and default.program is None
    assert (default.config, default.overrides) == (None, ())
    full, problems = command_of([
        "${env}", "accelerate", "launch", "--num_processes", 2, "toolkit/train.py", "--config",
        "config/models/kobart_base.yaml", "--training.max_steps=100", "--lr", "1e-4",
        "generation.num_beams=2", "--params-file", "${args_json_file}"])
    assert not problems
    assert full.launch == ("accelerate", "launch", "--num_processes", "2")
    assert full.program == "toolkit/train.py" and full.config == "config/models/kobart_base.yaml"
    assert full.overrides == ("training.max_steps=100", "training.learning_rate=1e-4",
                              "generation.num_beams=2")
    assert command_of(["/usr/bin/python3", "${program}", "${args_no_hyphens}"])[0].launch == ()
    refused = {
        ("${env}", "${interpreter}", "${program}", "${args_json}"):
            "the command's ${args_json} cannot be honoured: toolkit/train.py takes no JSON word",
        ("${env}", "${interpreter}", "${program}", "--epochs=2"):
            "the command has no ${args}: the trials would not get the sweep's parameters",
        ("${interpreter}", "${program}", "--resume", "auto", "${args}"):
            "the command's `--resume` cannot be honoured",
        ("${interpreter}", "${program}", "${args_override_hydra}", "${args}"):
            "toolkit/train.py is not a Hydra program",
        ("${interpreter}", "${program}", "--out=${HOME}", "${args}"):
            "the command's `--out=${HOME}` is not a W&B macro a trial can take",
        ("${interpreter}", "${args}"): "the command names no program",
        ("${interpreter}", "${program}", "--learnin_rate=1", "${args}"):
            "command: argument `--learnin_rate=1`: `learnin_rate` is not a config key (did you "
            "mean `learning_rate`",
    }
    for words, text in refused.items():
        command, problems = command_of(list(words))
        assert command is None and any(text in p for p in problems), (words, problems)


def test_the_commands_config_and_arguments_are_the_trials_base(tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(f"inherit: {BASE}\nmeta:\n  description: from other.yaml\n", "utf-8")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sweep({"lr": {"values": [1e-3]}}, command=[
        "${env}", "${interpreter}", "${program}", "--config", str(other), "--num_beams=2",
        "${args}"])), "utf-8")
    spec, config, base = resolve_sweep(path, None, ["generation.num_beams=3"])
    assert Path(base) == other and config["meta"]["description"] == "from other.yaml"
    assert config["generation"]["num_beams"] == 3  # --set comes after the command's arguments
    assert spec.command.overrides == ("generation.num_beams=2",)
    with pytest.raises(ConfigError, match="runs --config .*other.yaml but --config .* was given"):
        resolve_sweep(path, BASE, [])


# --- storage, GPUs, login ----------------------------------------------------------------------

def test_checking_a_sweep_imports_neither_torch_nor_the_trainer() -> None:
    code = ("import sys, toolkit.sweep.spec, toolkit.sweep.cli, toolkit.config.argv; "
            "loaded = [m for m in ('torch', 'toolkit.engine.trainer') if m in sys.modules]; "
            "assert not loaded, loaded")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_gpus_are_split_between_workers() -> None:
    assert assign(2, ["0", "1", "2", "3"]) == [["0", "1"], ["2", "3"]]
    assert assign(3, ["0", "1", "2", "3", "4", "5", "6", "7"]) == [
        ["0", "1", "2"], ["3", "4", "5"], ["6", "7"]]
    assert assign(2, ["4", "6"]) == [["4"], ["6"]]
    assert assign(3, []) == [None, None, None]  # a CPU machine: nothing to split
    with pytest.raises(ToolkitError, match="--workers 3 needs a GPU per worker, but 2 are "
                                           "visible"):
        assign(3, ["0", "1"])
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "2, 3"}) == ["2", "3"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []


def test_storages_take_urls_and_journal_files(tmp_path: Path) -> None:
    sqlite = storage.make_storage(f"sqlite:///{tmp_path / 'shared.db'}", tmp_path / "study")
    assert isinstance(sqlite, optuna.storages.RDBStorage) and (tmp_path / "shared.db").is_file()
    journal = storage.make_storage(str(tmp_path / "nfs" / "sweep.journal"), tmp_path / "study")
    assert isinstance(journal, optuna.storages.JournalStorage)
    with pytest.raises(ToolkitError, match="needs its database driver installed"):
        storage.make_storage("postgresql://user@localhost:1/db", tmp_path)


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "toolkit.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_wandb_backend_without_a_login_says_how_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in environment().items()
           if k not in ("WANDB_MODE", "WANDB_API_KEY", "NETRC")}
    env.update(HOME=str(tmp_path), WANDB_CONFIG_DIR=str(tmp_path))
    done = run_cli(["sweep", "config/sweep_config.yaml", "--backend", "wandb"], env)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: W&B is not logged in: run `wandb login` (or set WANDB_API_KEY), or use "
        "--backend local"]
    with pytest.raises(ToolkitError, match="W&B sweeps need the W&B server, but "
                                           "WANDB_MODE=offline"):
        require_login({"WANDB_MODE": "offline", "WANDB_API_KEY": "k"})
    (tmp_path / ".netrc").write_text("machine api.wandb.ai\n  login user\n  password k\n")
    require_login({"NETRC": str(tmp_path / ".netrc")})


@pytest.mark.slow
def test_a_commands_config_reaches_the_trial_through_a_shared_storage(
        tmp_path: Path, cache_dir: Path) -> None:
    """A sweep whose command names --config X and a fixed argument, stored in SQLite: the
    trial trains from X with the argument, and `status --storage` finds the study."""
    tiny = tmp_path / "tiny.yaml"
    sections: dict[str, dict] = {}
    for item in tiny_overrides(tmp_path, cache_dir, training__max_steps=2,
                               training__eval_strategy="steps", training__eval_steps=2):
        key, _, value = item.partition("=")
        if "." in key:
            section, _, name = key.partition(".")
            sections.setdefault(section, {})[name] = yaml.safe_load(value)
    sections["meta"]["description"] = "trained from tiny.yaml"
    tiny.write_text(yaml.safe_dump({"inherit": BASE, **sections}), "utf-8")
    path = tmp_path / "cmd_sweep.yaml"
    path.write_text(yaml.safe_dump(sweep({"lr": {"values": [2e-3]}}, command=[
        "${env}", "${interpreter}", "${program}", "--config", str(tiny), "--logging_steps=2",
        "${args}"])), "utf-8")
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    code, out = cli(str(path), "--count", "1", "--storage", url, "--study-dir",
                    str(tmp_path / "study"), "--db", str(tmp_path / "sweep.db"))
    assert code == 0 and "best: trial 0" in out
    [run] = ExperimentTracker(tmp_path / "sweep.db").list_experiments()
    assert run["config"]["meta"]["description"] == "trained from tiny.yaml"
    assert run["config"]["training"]["logging_steps"] == 2
    assert run["config"]["training"]["learning_rate"] == 2e-3
    params = json.loads((tmp_path / "study" / "trials" / "trial_0000" / "params.json").read_text())
    assert params == {"lr": 2e-3}
    code, status = cli("status", "--storage", url)
    assert code == 0 and "cmd_sweep: 1 trial(s)" in status and "complete" in status


@pytest.mark.slow
def test_each_worker_trains_on_its_own_gpus(tmp_path: Path, monkeypatch) -> None:
    """--workers 2 with GPUs 5 and 7 visible: each worker's trials see one of them (the trial
    here only prints what it sees, then fails)."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    path = tmp_path / "gpus.yaml"
    path.write_text(yaml.safe_dump(sweep({"lr": {"values": [1e-3]}})), "utf-8")
    code, out = cli(str(path), "--count", "2", "--workers", "2", "--study-dir",
                    str(tmp_path / "study"), "--db", str(tmp_path / "t.db"), "--launch",
                    "sh -c 'echo visible=$CUDA_VISIBLE_DEVICES; exit 3'")
    assert code == 0
    trials = storage.load_existing(tmp_path / "study").trials
    assert sorted(tuple(t.user_attrs["devices"]) for t in trials) == [("5",), ("7",)]
    for t in trials:
        assert f"visible={t.user_attrs['devices'][0]}" in Path(t.user_attrs["log"]).read_text()


def test_a_broken_command_is_reported_with_the_other_problems(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(sweep({"learnin_rate": {"values": [1e-3]}}, command=[
        "${interpreter}", "${program}", "${args_json}"])), "utf-8")
    with pytest.raises(ConfigError) as caught:
        resolve_sweep(path, None, [])
    assert [p.split(":")[1].strip() for p in caught.value.problems] == [
        "the command's ${args_json} cannot be honoured", "the command has no ${args}",
        "parameter `learnin_rate`"]


def test_run_cap_and_target_end_the_sweep(tmp_path: Path) -> None:
    """run_cap counts every trial of the study (failed ones too); a study whose best already
    meets metric.target starts no trial."""
    failing = f"{sys.executable} -c 'import sys; sys.exit(3)'"
    capped = tmp_path / "capped.yaml"
    capped.write_text(yaml.safe_dump(sweep({"lr": {"values": [1e-3, 1e-4]}}, run_cap=2)), "utf-8")
    code, out = cli(str(capped), "--count", "5", "--study-dir", str(tmp_path / "capped"),
                    "--db", str(tmp_path / "t.db"), "--launch", failing)
    assert code == 0 and len(storage.load_existing(tmp_path / "capped").trials) == 2
    reached = tmp_path / "reached.yaml"
    reached.write_text(yaml.safe_dump(sweep({"lr": {"values": [1e-3]}}, metric={
        "name": "eval/loss", "goal": "minimize", "target": 0.5})), "utf-8")
    spec, _, base = resolve_sweep(reached, None, [])
    study = local.open_study(local.SweepPlan(
        spec=spec, program="toolkit/train.py", config=base, study_dir=tmp_path / "reached",
        db_path=str(tmp_path / "t.db"), callbacks=[]), create=True)
    study.add_trial(optuna.trial.create_trial(value=0.4, params={}, distributions={}))
    code, out = cli(str(reached), "--count", "3", "--study-dir", str(tmp_path / "reached"),
                    "--db", str(tmp_path / "t.db"), "--launch", failing)
    assert code == 0 and len(storage.load_existing(tmp_path / "reached").trials) == 1
    assert "best: trial 0, eval/loss = 0.4" in out
