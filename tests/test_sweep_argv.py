"""Flag-style arguments as W&B's sweep agent writes them (toolkit.config.argv), and
toolkit/train.py run by the exact command line `wandb agent` builds from the shipped sweep."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml
from wandb.sdk.launch.sweeps.utils import create_sweep_command, create_sweep_command_args

from tests.helpers import ROOT, environment, tiny_overrides
from toolkit.config import loader
from toolkit.config.argv import config_key, normalize
from toolkit.errors import ConfigError
from toolkit.tracking import ExperimentTracker
from toolkit.train import OWN_OPTIONS

BASE = ROOT / "config" / "base_config.yaml"


def agent_words(params: dict, macro: str = "args") -> list[str]:
    """What W&B's agent puts in place of `${<macro>}` for a run with these parameters."""
    return create_sweep_command_args({"args": {k: {"value": v} for k, v in params.items()}})[macro]


def resolved(words: list[str]) -> dict:
    return loader.resolve(BASE, normalize(words), environ={})[0]


def test_the_agents_args_become_typed_overrides() -> None:
    params = {"learning_rate": 3e-05, "training.weight_decay": 0.05, "batch_size": 16,
              "epochs": 2, "group_by_length": False, "meta.tags": ["sweep", "트라이얼"],
              "model.dropout": None, "lr_scheduler_type": "cosine",
              "generation": {"num_beams": 2, "length_penalty": 1e-06}}
    for macro in ("args", "args_no_equals", "args_no_hyphens"):
        config = resolved(agent_words(params, macro))
        training = config["training"]
        assert training["learning_rate"] == 3e-05 and training["weight_decay"] == 0.05
        assert training["per_device_train_batch_size"] == 16  # an alias
        assert training["num_train_epochs"] == 2
        assert training["group_by_length"] is False  # not argparse's bool("False")
        assert training["lr_scheduler_type"] == "cosine"
        assert config["meta"]["tags"] == ["sweep", "트라이얼"]
        assert config["model"]["dropout"] is None
        assert config["generation"]["num_beams"] == 2  # W&B's nested parameters
        assert config["generation"]["length_penalty"] == 1e-06
    # ${args_no_boolean_flags}: a true boolean is a bare flag
    words = agent_words({"group_by_length": True, "lr": 1e-4}, "args_no_boolean_flags")
    assert words == ["--group_by_length", "--lr=0.0001"]
    assert resolved(["--group_by_length", "training.max_steps=3", *words[1:]])["training"][
        "max_steps"] == 3


def test_the_programs_own_options_and_order_are_kept() -> None:
    words = ["--config", "x.yaml", "--resume=auto", "training.learning_rate=1e-3",
             "--learning_rate=2e-3", "learning_rate=3e-3", "--params-file", "p.json", "-h"]
    assert normalize(words, OWN_OPTIONS) == [
        "--config", "x.yaml", "--resume=auto", "training.learning_rate=1e-3",
        "training.learning_rate=2e-3", "training.learning_rate=3e-3", "--params-file", "p.json",
        "-h"]
    assert normalize(["callbacks=[log_file]", "--learning-rate=0.1"]) == [
        "callbacks=[log_file]", "training.learning_rate=0.1"]


def test_unknown_flags_name_the_closest_key_all_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        normalize(["--learnin_rate=3e-5", "--batch_sise=8", "enabled=true",
                   "--generation=4"])
    assert caught.value.problems == [
        "argument `--learnin_rate=3e-5`: `learnin_rate` is not a config key (did you mean "
        "`learning_rate`, i.e. training.learning_rate?); use a dotted key "
        "(training.learning_rate) or a key's own name (learning_rate)",
        "argument `--batch_sise=8`: `batch_sise` is not a config key (did you mean "
        "`batch_size`, i.e. training.per_device_train_batch_size?); use a dotted key "
        "(training.learning_rate) or a key's own name (learning_rate)",
        "argument `enabled=true`: `enabled` is ambiguous; name one of tracking.enabled, "
        "wandb.enabled",
        "argument `--generation=4`: `--generation` takes a mapping of its keys, such as "
        "--generation={'key': value}; got '4'"]
    assert config_key("lr") == "training.learning_rate"
    assert config_key("num_beams") == "generation.num_beams"


def test_train_py_refuses_an_unknown_flag_in_one_line(tmp_path: Path) -> None:
    from toolkit.train import main

    assert main(["--config", str(BASE), "--learnin_rate=3e-5"]) == 2


@pytest.mark.slow
def test_a_plain_wandb_agent_runs_the_shipped_sweep_command(tmp_path: Path, cache_dir: Path
                                                            ) -> None:
    """The command of config/sweep/kobart_sweep.yaml, expanded as W&B's agent expands it
    (wandb's own macro code; ${interpreter} is `python` from PATH), trains a tiny model with the
    trial's parameters; the job is shrunk through the environment, as a user's would be."""
    import subprocess

    sweep = yaml.safe_load((ROOT / "config" / "sweep" / "kobart_sweep.yaml").read_text("utf-8"))
    params = {"learning_rate": 3e-04, "per_device_train_batch_size": 8, "num_train_epochs": 2,
              "weight_decay": 0.05}
    variables = create_sweep_command_args({"args": {k: {"value": v} for k, v in params.items()}})
    variables.update(interpreter=["python"], program=[sweep["program"]], env=["/usr/bin/env"])
    command: list[str] = []
    for word in create_sweep_command(list(sweep["command"])):  # as wandb_agent.Agent does
        word = str(word)
        command += variables.get(word[2:-1]) or [] if word.startswith("${") else [word]
    assert command[:4] == ["/usr/bin/env", "python", "toolkit/train.py", "--config"]
    assert "--learning_rate=0.0003" in command
    env = environment()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    for item in tiny_overrides(tmp_path, cache_dir, training__max_steps=2):
        key, _, value = item.partition("=")
        if "." in key:
            section, _, name = key.partition(".")
            env[f"TOOLKIT_{section.upper()}__{name.upper()}"] = value
    env["WANDB_DIR"] = str(tmp_path)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    [run] = ExperimentTracker(tmp_path / "toolkit.db").list_experiments()
    training = run["config"]["training"]
    assert (training["learning_rate"], training["per_device_train_batch_size"],
            training["num_train_epochs"], training["weight_decay"]) == (3e-04, 8, 2, 0.05)
    assert run["config"]["wandb"]["enabled"] is True and run["status"] == "completed"


def test_the_agents_json_file_reads_as_a_params_file(tmp_path: Path) -> None:
    """`--params-file ${args_json_file}`: W&B's JSON of the run's parameters, aliases and
    nested sections included."""
    from toolkit.sweep.params import read_params_file

    path = tmp_path / "config-run.json"
    path.write_text(create_sweep_command_args({"args": {
        "lr": {"value": 1e-3}, "generation": {"value": {"num_beams": 2}}}})["args_json"][0])
    assert read_params_file(str(path)) == ["training.learning_rate=0.001",
                                           "generation.num_beams=2"]
