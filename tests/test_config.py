"""Config layering (defaults < file < environment < command line < sweep), origins, every
validation message, sweep-parameter merging, redaction and `toolkit config show`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_train
from toolkit.cli import main
from toolkit.config import ConfigManager, loader
from toolkit.config.schema import Config, Training, defaults
from toolkit.errors import EXIT_USAGE, ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(**kwargs: Any) -> list[str]:
    """The problems `loader.resolve` reports (with an empty environment unless given)."""
    with pytest.raises(ConfigError) as caught:
        loader.resolve(**{"environ": {}, **kwargs})
    return caught.value.problems


@pytest.fixture
def layered(tmp_path: Path) -> Path:
    """sub/child.yaml inherits ../base.yaml; each sets some keys of `training`."""
    write(tmp_path / "base.yaml", "training:\n  learning_rate: 1.0e-3\n  max_steps: 5\n"
                                  "meta:\n  tags: [base]\n")
    return write(tmp_path / "sub" / "child.yaml",
                 "inherit: ../base.yaml\ntraining:\n  max_steps: 7\n")


# ------------------------------------------------------------------------------ layers
def test_no_file_gives_the_defaults() -> None:
    config, origins = loader.resolve(None, environ={})
    assert config == defaults() and origins == {}


def test_inherit_merges_key_by_key_and_origins_name_each_file(layered: Path) -> None:
    config, origins = loader.resolve(layered, environ={})
    assert config["training"]["learning_rate"] == 1e-3
    assert config["training"]["max_steps"] == 7
    assert config["training"]["weight_decay"] == Training().weight_decay  # untouched default
    assert config["meta"]["tags"] == ["base"]
    assert "inherit" not in config
    assert origins["training.learning_rate"] == "file:base.yaml"
    assert origins["training.max_steps"] == "file:child.yaml"
    assert "training.weight_decay" not in origins


def test_an_inherit_cycle_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "inherit: b.yaml\n")
    write(tmp_path / "b.yaml", "inherit: a.yaml\n")
    [problem] = problems_of(path=tmp_path / "a.yaml")
    assert "cycle" in problem and "a.yaml -> " in problem and "b.yaml" in problem


def test_a_non_string_inherit_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path / "a.yaml", "inherit: 3\n")
    [problem] = problems_of(path=path)
    assert "inherit" in problem and "a.yaml" in problem


def test_a_missing_inherited_file_names_the_file_that_inherits_it(tmp_path: Path) -> None:
    path = write(tmp_path / "child.yaml", "inherit: gone.yaml\n")
    [problem] = problems_of(path=path)
    assert "gone.yaml" in problem and "child.yaml" in problem and "inherit" in problem


@pytest.mark.parametrize(("variable", "raw", "dotted", "value"), [
    ("LEARNING_RATE", "3e-5", "training.learning_rate", 3e-5),
    ("BATCH_SIZE", "32", "training.per_device_train_batch_size", 32),
    ("NUM_EPOCHS", "5", "training.num_train_epochs", 5.0),
    ("TOOLKIT_TRAINING__LEARNING_RATE", "3e-5", "training.learning_rate", 3e-5),
    ("TOOLKIT_GENERATION__NUM_BEAMS", "2", "generation.num_beams", 2),
])
def test_each_layer_overrides_the_one_below(tmp_path: Path, variable: str, raw: str,
                                            dotted: str, value: Any) -> None:
    section, key = dotted.split(".")
    path = write(tmp_path / "job.yaml", f"{section}:\n  {key}: 7\n")
    environ = {variable: raw}
    cli = [f"{dotted}=9"]
    sweep = {dotted: 11}

    def resolved(**layers: Any) -> tuple[Any, str]:
        config, origins = loader.resolve(**layers)
        return config[section][key], origins.get(dotted, "default")

    default = defaults()[section][key]
    assert resolved(environ={}) == (default, "default")
    assert resolved(path=path, environ={}) == (7, "file:job.yaml")
    got, origin = resolved(path=path, environ=environ)
    assert (got, origin) == (value, f"env:{variable}") and type(got) is type(value)
    assert resolved(path=path, environ=environ, overrides=cli) == (9, "cli")
    assert resolved(path=path, environ=environ, overrides=cli, sweep_params=sweep) == (
        11, "sweep")


def test_the_process_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEARNING_RATE", "3e-5")
    monkeypatch.setenv("TOOLKIT_TRAINING__WARMUP_RATIO", "0.2")
    config, origins = loader.resolve(None)
    assert config["training"]["learning_rate"] == 3e-5
    assert config["training"]["warmup_ratio"] == 0.2
    assert origins["training.warmup_ratio"] == "env:TOOLKIT_TRAINING__WARMUP_RATIO"


def test_command_line_values_are_typed() -> None:
    config, _ = loader.resolve(overrides=[
        "meta.tags=[a, b]", "wandb.tags=x,y", "model.checkpoint=null", "model.dropout=0.2",
        "training.learning_rate=3e-5", "generation.num_beams=2", "training.torch_compile=true",
        "callbacks=[nan_guard, {name: early_stopping, patience: 2}]"], environ={})
    assert config["meta"]["tags"] == ["a", "b"] and config["wandb"]["tags"] == ["x", "y"]
    assert config["model"]["checkpoint"] is None and config["model"]["dropout"] == 0.2
    assert config["training"]["learning_rate"] == 3e-5
    assert config["generation"]["num_beams"] == 2
    assert config["training"]["torch_compile"] is True
    assert config["callbacks"] == ["nan_guard", {"name": "early_stopping", "patience": 2}]


def test_yaml_no_is_the_string_for_choice_keys_and_false_for_flags(tmp_path: Path) -> None:
    path = write(tmp_path / "job.yaml", "training:\n  eval_strategy: no\n  group_by_length: no\n")
    config, _ = loader.resolve(path, ["training.mixed_precision=no"], environ={})
    assert config["training"]["eval_strategy"] == "no"
    assert config["training"]["mixed_precision"] == "no"
    assert config["training"]["group_by_length"] is False


# ------------------------------------------------------------------------ sweep params
def test_sweep_params_flat_and_dotted(tmp_path: Path) -> None:
    config, origins = loader.resolve(None, environ={})
    merged = loader.merge_sweep_params(config, {
        "learning_rate": "1e-4", "per_device_train_batch_size": 8,
        "training.warmup_ratio": 0.1, "generation.num_beams": 2, "_wandb": {"x": 1},
        "wandb_version": 1}, origins)
    assert merged["training"]["learning_rate"] == 1e-4
    assert merged["training"]["per_device_train_batch_size"] == 8
    assert merged["training"]["warmup_ratio"] == 0.1
    assert merged["generation"]["num_beams"] == 2
    assert "_wandb" not in merged and "wandb_version" not in merged
    assert origins["training.learning_rate"] == origins["training.warmup_ratio"] == "sweep"
    assert config["training"]["learning_rate"] == Training().learning_rate  # a copy


@pytest.mark.parametrize(("name", "fragments"), [
    ("enabled", ["ambiguous", "tracking.enabled", "wandb.enabled"]),
    ("tags", ["ambiguous", "meta.tags", "wandb.tags"]),
    ("learnig_rate", ["not a config key", "did you mean `learning_rate`"]),
])
def test_an_ambiguous_or_unknown_flat_sweep_name_is_an_error(name: str,
                                                             fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        loader.merge_sweep_params(defaults(), {name: 1})
    [problem] = caught.value.problems
    for fragment in fragments:
        assert fragment in problem


def test_an_invalid_sweep_value_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"training.learning_rate must be > 0"):
        loader.merge_sweep_params(defaults(), {"learning_rate": -1.0})


def test_config_manager_loads_and_merges_with_origins(layered: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUM_EPOCHS", "4")
    manager = ConfigManager()
    config = manager.load_config(layered, ["generation.num_beams=3"])
    assert config["training"]["max_steps"] == 7
    assert config["training"]["num_train_epochs"] == 4.0
    assert manager.origins["training.num_train_epochs"] == "env:NUM_EPOCHS"
    assert manager.origins["generation.num_beams"] == "cli"
    merged = manager.merge_sweep_params(config, {"weight_decay": 0.05})
    assert merged["training"]["weight_decay"] == 0.05
    assert manager.origins["training.weight_decay"] == "sweep"


# -------------------------------------------------------------------------- messages
@pytest.mark.parametrize(("override", "expected"), [
    ("training.learnig_rate=1e-4",
     "unknown key `training.learnig_rate` (did you mean `training.learning_rate`?)"),
    ("training.seed=1", "unknown key `training.seed` (it belongs to `general.seed`)"),
    ("trainig.max_steps=1", "unknown section `trainig` (did you mean `training`?)"),
    ("training.per_device_train_batch_size=abc",
     "training.per_device_train_batch_size expects int; got 'abc' (str)"),
    ("training.max_steps=1.5", "training.max_steps expects int; got 1.5 (float)"),
    ("training.learning_rate=-1e-4", "training.learning_rate must be > 0; got -0.0001"),
    ("training.per_device_train_batch_size=0",
     "training.per_device_train_batch_size must be >= 1; got 0"),
    ("model.dropout=1.5", "model.dropout must be <= 1.0; got 1.5"),
    ("model.architecture=bert", "model.architecture must be one of bart, kobart, t5"),
    ("training=3", "`training` must be a mapping of keys, got int"),
    ("training.eval_strategy=steps", "set training.eval_steps=N"),
    ("callbacks=[{patience: 1}]", "needs a `name`"),
])
def test_each_problem_names_the_key_and_the_fix(override: str, expected: str) -> None:
    [problem] = problems_of(overrides=[override])
    assert expected in problem


def test_unknown_keys_in_a_file_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "job.yaml", "training:\n  learnig_rate: 1.0e-4\n")
    [problem] = problems_of(path=path)
    assert "did you mean `training.learning_rate`" in problem


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path / "job.yaml", "training:\n  learnig_rate: 1.0e-4\nmodle: {}\n")
    with pytest.raises(ConfigError) as caught:
        loader.resolve(path, ["training.per_device_train_batch_size=0"],
                       environ={"LEARNING_RATE": "fast"})
    problems = caught.value.problems
    assert len(problems) == 4
    text = str(caught.value)
    assert text.startswith("The configuration has 4 problem(s):")
    for fragment in ("training.learnig_rate", "`modle`", "per_device_train_batch_size must be",
                     "training.learning_rate expects float; got 'fast'"):
        assert fragment in text


@pytest.mark.parametrize("override", ["training.learning_rate", "=3", " =3"])
def test_a_malformed_override_is_an_error(override: str) -> None:
    [problem] = problems_of(overrides=[override])
    assert f"override `{override}` is not of the form section.key=value" in problem


def test_a_malformed_override_is_reported_with_the_other_problems() -> None:
    problems = problems_of(overrides=["training.learning_rate", "training.learnig_rate=1"])
    assert len(problems) == 2


def test_invalid_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "job.yaml", "training:\n  seed: 1\n  max_steps: 2: 3\n")
    [problem] = problems_of(path=path)
    assert str(path) in problem and "not valid YAML at line 3" in problem


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    [problem] = problems_of(path=tmp_path / "nope.yaml")
    assert "nope.yaml does not exist" in problem and "--config" in problem


def test_a_file_that_is_not_a_mapping_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "job.yaml", "- training\n- model\n")
    [problem] = problems_of(path=path)
    assert "must hold a mapping of sections, not list" in problem


def test_an_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    config, _ = loader.resolve(write(tmp_path / "job.yaml", ""), environ={})
    assert config == defaults()


# --------------------------------------------------------------- dicts, types, secrets
def test_an_edited_dict_is_laid_over_the_defaults_and_validated() -> None:
    merged = loader.defaults_merged({"training": {"learning_rate": "2e-4"}})
    assert merged["training"]["learning_rate"] == 2e-4
    assert merged["model"] == defaults()["model"]
    with pytest.raises(ConfigError, match="did you mean `training.learning_rate`"):
        loader.defaults_merged({"training": {"learnig_rate": 1e-4}})


def test_to_typed_builds_the_dataclasses() -> None:
    config, _ = loader.resolve(overrides=["training.learning_rate=2e-4"], environ={})
    typed = loader.to_typed(config)
    assert isinstance(typed, Config) and isinstance(typed.training, Training)
    assert typed.training.learning_rate == 2e-4
    assert typed.callbacks == config["callbacks"]
    assert loader.to_typed({"model": {"architecture": "gpt2"}}).model.architecture == "gpt2"


def test_redact_hides_secrets_only() -> None:
    config = defaults()
    config["callbacks"] = [{"name": "pkg.mod:Notify", "api_key": "k1", "token": "t1"}]
    config["wandb"]["api_key"] = "k2"
    config["hf_token"] = "t2"
    config["db_password"] = "p"
    clean = loader.redact(config)
    assert clean["callbacks"] == [{"name": "pkg.mod:Notify", "api_key": "***", "token": "***"}]
    assert clean["wandb"]["api_key"] == clean["hf_token"] == clean["db_password"] == "***"
    assert clean["tokenizer"] == config["tokenizer"]
    assert clean["generation"]["max_new_tokens"] == config["generation"]["max_new_tokens"]
    assert config["wandb"]["api_key"] == "k2"  # the input is left alone


# ------------------------------------------------------------------- the command line
def test_config_show_prints_values_with_origins(layered: Path, capsys: pytest.CaptureFixture,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEARNING_RATE", "3e-5")
    assert main(["config", "show", "--config", str(layered), "generation.num_beams=2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for line in ("training:", "  learning_rate: 3.0e-05    # env:LEARNING_RATE",
                 "  max_steps: 7    # file:child.yaml", "  num_beams: 2    # cli",
                 "  log_level: info    # default", "  tags: [base]    # file:base.yaml"):
        assert line in lines


def test_config_show_json(layered: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["config", "show", "--config", str(layered), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["config"]["training"]["max_steps"] == 7
    assert shown["origins"]["training.learning_rate"] == "file:base.yaml"


def test_config_show_hides_secrets(capsys: pytest.CaptureFixture) -> None:
    assert main(["config", "show", "callbacks=[{name: 'pkg.mod:Notify', api_key: s3cret}]"]) == 0
    assert "s3cret" not in capsys.readouterr().out


@pytest.mark.slow
def test_train_with_a_bad_config_prints_one_paragraph_and_exits_2() -> None:
    done = run_train(["training.learnig_rate=1e-4", "training.per_device_train_batch_size=0"],
                     timeout=300)
    assert done.returncode == EXIT_USAGE
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0] == "error: The configuration has 2 problem(s):"
    assert len(lines) == 3 and all(line.startswith("  - ") for line in lines[1:])
    assert "did you mean `training.learning_rate`" in done.stderr
