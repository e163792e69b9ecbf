"""Config layering (defaults < file < environment < command line < sweep), origins, every
validation message, sweep-parameter merging, redaction and `toolkit config show`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import ROOT, environment, run_train, tiny_overrides
from toolkit.cli import main
from toolkit.config import ConfigManager, best_metric_name, loader, resolve_config
from toolkit.config.legacy import convert
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
    ("model.preset=huge", "model.preset must be one of tiny, small, base; got 'huge'"),
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


# --------------------------------------------------- other tools' names (alias table)
BASELINE = Path(__file__).parent / "fixtures" / "competition_baseline_config.yaml"


@pytest.mark.parametrize(("written", "expected"), [
    (["training.fp16=true"], "fp16"),
    (["training.bf16=true"], "bf16"),
    (["training.fp16=false"], "no"),
    (["training.fp16=false", "training.bf16=true"], "bf16"),
])
def test_the_trainers_fp16_and_bf16_are_mixed_precision(written: list[str], expected: str
                                                        ) -> None:
    config, origins = loader.resolve(overrides=written, environ={})
    assert config["training"]["mixed_precision"] == expected
    assert "fp16" not in config["training"] and "bf16" not in config["training"]
    assert origins["training.mixed_precision"].startswith("cli (as training.")


def test_config_show_names_the_alias_in_the_origin(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    path = write(tmp_path / "job.yaml", "training:\n  fp16: true\n")
    assert main(["config", "show", "--config", str(path)]) == 0
    assert "  mixed_precision: fp16    # file:job.yaml (as training.fp16)" in \
        capsys.readouterr().out.splitlines()


def test_a_higher_layer_wins_over_an_alias_and_one_layer_must_agree(tmp_path: Path) -> None:
    path = write(tmp_path / "job.yaml", "training:\n  fp16: true\n")
    config, origins = loader.resolve(path, ["training.mixed_precision=no"], environ={})
    assert config["training"]["mixed_precision"] == "no" and origins[
        "training.mixed_precision"] == "cli"
    both = write(tmp_path / "both.yaml", "training:\n  fp16: true\n  mixed_precision: bf16\n")
    [problem] = problems_of(path=both)
    assert "training.fp16" in problem and "training.mixed_precision" in problem
    assert "keep one" in problem
    [problem] = problems_of(overrides=["training.fp16=true", "training.bf16=true"])
    assert "fp16 and bf16 are both true" in problem


def test_the_guides_reproducibility_section_loads(tmp_path: Path) -> None:
    path = write(tmp_path / "job.yaml", "reproducibility:\n  seed: 7\n  deterministic: true\n"
                                        "  torch_version: 2.1.0\n"
                                        "  transformers_version: 4.40.0\n")
    config, origins = loader.resolve(path, environ={})
    assert config["general"]["seed"] == 7 and config["general"]["deterministic"] is True
    assert "reproducibility" not in config
    assert origins["general.seed"] == "file:job.yaml (as reproducibility.seed)"
    assert loader.to_typed(config).general.deterministic is True
    [problem] = problems_of(overrides=["reproducibility.sead=1"])
    assert "unknown key `reproducibility.sead`" in problem and "seed, deterministic" in problem


def test_config_manager_finds_a_bare_name_in_the_config_directory(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    config = ConfigManager().load_config("base_config.yaml")  # the guide's example 3
    assert config["meta"]["experiment_name"] == "embedded_demo"
    with pytest.raises(ConfigError, match="nothing.yaml does not exist"):
        ConfigManager().load_config("nothing.yaml")


def test_the_guides_dict_edits_load() -> None:
    """What the seed's guide does to a config dict before creating a trainer."""
    config = defaults()
    config["training"]["learning_rate"] = 1e-4
    config["training"]["per_device_train_batch_size"] = 8
    config["training"]["fp16"] = True
    config["training"]["dataloader_num_workers"] = 8
    config["meta"]["experiment_name"] = "kobart_optimized_v1"
    config["reproducibility"] = {"seed": 42, "torch_version": "2.3.0",
                                 "transformers_version": "4.41.0"}
    merged = loader.defaults_merged(config)
    assert merged["training"]["mixed_precision"] == "fp16"
    assert merged["general"]["seed"] == 42 and merged["training"]["dataloader_num_workers"] == 8


@pytest.mark.parametrize(("override", "expected"), [
    ("tokenizer.encoder_max_len=512", "the toolkit calls it `tokenizer.max_source_length`"),
    ("tokenizer.decoder_max_len=100", "the toolkit calls it `tokenizer.max_target_length`"),
    ("general.model_name=x", "the toolkit calls it `model.checkpoint`"),
    ("inference.num_beams=4", "unknown section `inference` (the toolkit calls it `generation`"),
    ("general.fp16=true", "the toolkit calls it `training.mixed_precision`"),
    ("training.evaluation_strategy=epoch", "the toolkit calls it `training.eval_strategy`"),
    ("training.save_total_limit=2", "it belongs to `checkpoint.save_total_limit`"),
    ("training.predict_with_generate=true", "evaluation always generates"),
    ("training.encoder_max_len=5", "`tokenizer.max_source_length`"),
])
def test_other_tools_names_point_to_the_toolkit_key(override: str, expected: str) -> None:
    [problem] = problems_of(overrides=[override])
    assert expected in problem


def test_the_baseline_config_gets_a_pointed_hint_for_every_key() -> None:
    problems = problems_of(path=BASELINE)
    assert not [p for p in problems if "did you mean" in p], problems
    assert any("toolkit config import" in p for p in problems)


def test_the_alias_table_points_at_real_keys_and_hides_none() -> None:
    from toolkit.config.aliases import ALIASES
    from toolkit.config.schema import LIST_KEYS, SECTIONS, section_fields

    for name, alias in ALIASES.items():
        section, _, key = (alias.target or "").partition(".")
        if key:
            assert key in section_fields(section), (name, alias.target)
        else:
            assert alias.target in (None, *SECTIONS, *LIST_KEYS), name
        old_section, _, old_key = name.partition(".")
        if old_section in SECTIONS and old_key in section_fields(old_section):
            assert alias.convert is not None, f"{name} is a toolkit key; the alias hides it"


@pytest.mark.parametrize(("name", "dotted"), [
    ("lr", "training.learning_rate"), ("batch_size", "training.per_device_train_batch_size"),
    ("epochs", "training.num_train_epochs"), ("learning_rate", "training.learning_rate"),
    ("encoder_max_len", "tokenizer.max_source_length"), ("fp16", "training.fp16"),
    ("dropout", "model.dropout"),
])
def test_sweep_names_know_the_aliases(name: str, dotted: str) -> None:
    assert loader.sweep_key(name) == dotted


@pytest.mark.parametrize("name", ["generation_max_length", "data_path", "do_train"])
def test_a_sweep_name_whose_value_needs_converting_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match=f"`{name}` is not a config key"):
        loader.sweep_key(name)


def test_sweep_aliases_merge() -> None:
    merged = loader.merge_sweep_params(defaults(), {"lr": 2e-4, "batch_size": 4, "fp16": True})
    training = merged["training"]
    assert (training["learning_rate"], training["per_device_train_batch_size"],
            training["mixed_precision"]) == (2e-4, 4, "fp16")


# -------------------------------------------------------- numbers, metrics, sources
@pytest.mark.parametrize("text", ["1e400", "1.0e+400", ".inf", "-.inf", ".nan"])
def test_a_non_finite_number_in_a_file_names_the_key(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "job.yaml", f"training:\n  learning_rate: {text}\n")
    [problem] = problems_of(path=path)
    assert problem.startswith("training.learning_rate must be a finite number")


@pytest.mark.parametrize("raw", ["inf", "nan", "1e400", "-1e999"])
def test_a_non_finite_number_from_the_command_line_or_environment_is_a_problem(raw: str
                                                                               ) -> None:
    [problem] = problems_of(overrides=[f"model.dropout={raw}"])
    assert problem.startswith("model.dropout must be a finite number")
    [problem] = problems_of(environ={"TOOLKIT_TRAINING__WARMUP_RATIO": raw})
    assert problem.startswith("training.warmup_ratio must be a finite number")
    assert "environment variable TOOLKIT_TRAINING__WARMUP_RATIO" in problem


@pytest.mark.parametrize(("environ", "fragments"), [
    ({"LEARNING_RATE": "fast"}, ["training.learning_rate expects float",
                                 "environment variable LEARNING_RATE"]),
    ({"BATCH_SIZE": "0"}, ["per_device_train_batch_size must be >= 1",
                           "environment variable BATCH_SIZE"]),
    ({"TOOLKIT_TRAINING__LEARNIG_RATE": "1"}, ["unknown key `training.learnig_rate`",
                                               "environment variable TOOLKIT_TRAINING__LEARNIG_RATE"]),
    ({"TOOLKIT_TRAINIG__MAX_STEPS": "1"}, ["unknown section `trainig`",
                                           "environment variable TOOLKIT_TRAINIG__MAX_STEPS"]),
    ({"TOOLKIT_TRAINING__FP16": "maybe"}, ["training.fp16: expects true or false",
                                           "environment variable TOOLKIT_TRAINING__FP16"]),
    ({"TOOLKIT_REPRODUCIBILITY__SEED": "x"}, ["general.seed expects int",
                                              "written as `reproducibility.seed`",
                                              "environment variable TOOLKIT_REPRODUCIBILITY__SEED"]),
])
def test_a_problem_caused_by_the_environment_names_the_variable(environ: dict[str, str],
                                                                fragments: list[str]) -> None:
    [problem] = problems_of(environ=environ)
    for fragment in fragments:
        assert fragment in problem


@pytest.mark.parametrize(("name", "best"), [
    ("rouge_combined_f1", "rouge_combined_f1"), ("eval/rouge1_f1", "rouge1_f1"),
    ("eval_rougeL_f1", "rougeL_f1"), ("eval/rouge2_f1", "rouge2_f1"),
])
def test_best_metric_name_strips_the_prefix(name: str, best: str) -> None:
    config, _ = loader.resolve(overrides=[f"training.metric_for_best_model={name}"], environ={})
    assert best_metric_name(loader.to_typed(config)) == best


def test_maximising_the_loss_is_a_problem() -> None:
    [problem] = problems_of(overrides=["training.metric_for_best_model=eval_loss"])
    assert "set training.greater_is_better=false" in problem
    config, _ = loader.resolve(overrides=["training.metric_for_best_model=eval_loss",
                                          "training.greater_is_better=false"], environ={})
    assert best_metric_name(loader.to_typed(config)) == "loss"


def test_an_unknown_best_metric_is_reported_with_the_other_problems() -> None:
    problems = problems_of(overrides=["training.metric_for_best_model=eval_rouge1",
                                      "training.max_steps=x"])
    assert len(problems) == 2
    assert any("training.metric_for_best_model `eval_rouge1` is not an eval metric; use one of "
               "rouge1_f1, rouge2_f1, rougeL_f1, rouge_combined_f1, loss" in p for p in problems)


# ------------------------------------------------------------- one hash, no torch
def test_the_run_files_and_the_tracker_use_the_one_config_hash(tmp_path: Path) -> None:
    from toolkit.engine.run_dir import RUN_INFO, write_run_files
    from toolkit.tracking.tracker import ExperimentTracker

    config, _ = loader.resolve(overrides=["callbacks=[{name: 'pkg.mod:Notify', token: t}]"],
                               environ={})
    digest = loader.config_hash(config)
    assert write_run_files(tmp_path / "run", config, 1) == digest
    assert json.loads((tmp_path / "run" / RUN_INFO).read_text())["config_hash"] == digest
    tracker = ExperimentTracker(tmp_path / "t.db")
    started = tracker.start_experiment("x", config=loader.redact(config))
    assert tracker.get_experiment(started)["config_hash"] == digest


NO_TORCH = """
import sys
import toolkit.config as c
from toolkit.config import legacy
c.resolve("config/base_config.yaml")
c.resolve_config({"training": {"fp16": False}})
legacy.convert({"general": {"model_name": "gogamza/kobart-base-v2"}})
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "transformers", "wandb",
                                                          "accelerate", "datasets"})
assert not heavy, heavy
"""


def test_validating_a_config_imports_neither_torch_nor_wandb() -> None:
    done = subprocess.run([sys.executable, "-c", NO_TORCH], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_resolve_config_takes_a_path_or_the_seeds_dict(layered: Path) -> None:
    assert resolve_config(layered)["training"]["max_steps"] == 7
    assert resolve_config(layered, overrides=["training.max_steps=3"])["training"][
        "max_steps"] == 3
    edited = resolve_config({"training": {"bf16": True}}, overrides=["generation.num_beams=1"])
    assert edited["training"]["mixed_precision"] == "bf16"
    assert edited["generation"]["num_beams"] == 1


@pytest.mark.slow
def test_resolve_config_merges_the_active_wandb_runs_parameters(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run = wandb.init(dir=str(tmp_path), config={"lr": 2e-4, "training.warmup_ratio": 0.2})
    try:
        config = resolve_config(str(ROOT / "config" / "base_config.yaml"), sweep_mode=True)
        assert config["training"]["learning_rate"] == 2e-4
        assert config["training"]["warmup_ratio"] == 0.2
        plain = resolve_config(str(ROOT / "config" / "base_config.yaml"))
        assert plain["training"]["learning_rate"] == 1e-3
    finally:
        run.finish()


# ----------------------------------------------------------------- `config import`
def test_config_import_converts_the_competition_baseline(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    output = tmp_path / "new.yaml"
    assert main(["config", "import", str(BASELINE), "--output", str(output)]) == 0
    report = capsys.readouterr().out
    for line in ("  tokenizer.encoder_max_len -> tokenizer.max_source_length",
                 "  general.model_name -> model.checkpoint, model.architecture",
                 "  inference.num_beams -> generation.num_beams",
                 "  training.fp16 -> training.mixed_precision",
                 "  training.seed -> general.seed",
                 "  training.save_total_limit -> checkpoint.save_total_limit",
                 "  training.early_stopping_patience -> callbacks",
                 "  training.report_to -> tracking.report_to",
                 "  training.optim -> training.optim",
                 "  general.data_path -> data.train_path, data.validation_path, data.test_path",
                 "  tokenizer.bos_token: the tokenizer's own bos token is used",
                 "  inference.ckt_path: pass it as `toolkit predict --model DIR`"):
        assert line in report.splitlines(), line
    old = yaml.safe_load(BASELINE.read_text(encoding="utf-8"))
    assert sum(len(v) for v in old.values()) == report.count("\n  ")  # every old key accounted
    config, _ = loader.resolve(output, environ={})
    assert config["model"] == {**defaults()["model"], "architecture": "kobart",
                               "checkpoint": "digit82/kobart-summarization"}
    assert config["tokenizer"]["max_source_length"] == 512
    assert config["tokenizer"]["max_target_length"] == 100
    assert config["tokenizer"]["extra_special_tokens"][0] == "#Person1#"
    assert config["data"]["validation_path"] == "../data/dev.csv"
    assert config["training"]["mixed_precision"] == "fp16"
    assert config["training"]["learning_rate"] == 1e-5
    assert config["training"]["lr_scheduler_type"] == "cosine"
    assert config["generation"]["max_new_tokens"] == 99  # max_length counts the start token
    assert config["generation"]["no_repeat_ngram_size"] == 2
    assert config["general"]["seed"] == 42 and config["checkpoint"]["save_total_limit"] == 5
    assert config["tracking"]["report_to"] == ["wandb"]
    assert config["training"]["optim"] == "adamw"
    assert config["wandb"]["entity"] == "wandb_repo"
    assert {"name": "early_stopping", "patience": 3} in config["callbacks"]


def test_config_import_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture
                                            ) -> None:
    output = write(tmp_path / "new.yaml", "mine: 1\n")
    assert main(["config", "import", str(BASELINE), "--output", str(output)]) == EXIT_USAGE
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert output.read_text() == "mine: 1\n"
    assert main(["config", "import", str(BASELINE), "--output", str(output),
                 "--overwrite"]) == 0
    assert loader.resolve(output, environ={})[0]["generation"]["num_beams"] == 4


def test_config_import_drops_what_has_no_equivalent_and_writes_nothing_invalid(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = write(tmp_path / "old.yaml", "training:\n  lr_scheduler_type: polynomial\n"
                                          "  metric_for_best_model: eval_rouge1\n"
                                          "  save_strategy: 'no'\n  max_grad_norm: 0.5\n"
                                          "  optim: sgd\n")
    output = tmp_path / "new.yaml"
    assert main(["config", "import", str(source), "--output", str(output)]) == 0
    report = capsys.readouterr().out
    assert "training.lr_scheduler_type: `polynomial` has no equivalent" in report
    assert "training.optim: `sgd` has no equivalent; training.optim takes adamw" in report
    assert "training.max_grad_norm -> training.max_grad_norm" in report
    config, _ = loader.resolve(output, environ={})
    assert config["training"]["metric_for_best_model"] == "rouge1_f1"
    assert convert({"general": {"model_name": "org/exaone-ko"}}).config == {
        "model": {"checkpoint": "org/exaone-ko"}}  # architecture auto reads the checkpoint
    by_loss = convert({"training": {"metric_for_best_model": "eval_loss"}}).config["training"]
    assert by_loss == {"metric_for_best_model": "loss", "greater_is_better": False}
    bad = write(tmp_path / "bad.yaml", "training:\n  learning_rate: -1\n")
    assert main(["config", "import", str(bad), "--output", str(tmp_path / "b.yaml")]) == \
        EXIT_USAGE
    assert "training.learning_rate must be > 0" in capsys.readouterr().err
    assert not (tmp_path / "b.yaml").exists()


@pytest.mark.slow
def test_an_imported_baseline_config_trains_on_cpu(tmp_path: Path) -> None:
    output = tmp_path / "new.yaml"
    assert main(["config", "import", str(BASELINE), "--output", str(output)]) == 0
    tiny = tiny_overrides(tmp_path, tmp_path / "cache", model__checkpoint="null",
                          model__preset="tiny", training__max_steps=2,
                          training__mixed_precision="no", tracking__report_to="none",
                          data__train_path="embedded", data__validation_path="embedded",
                          data__test_path="null", tracking__enabled="false")
    done = subprocess.run([sys.executable, str(ROOT / "toolkit" / "train.py"), "--config",
                           str(output), *tiny], cwd=ROOT, env=environment(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    [run_dir] = (tmp_path / "out").iterdir()
    saved = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    assert saved["model"]["architecture"] == "kobart"
    assert saved["generation"]["no_repeat_ngram_size"] == 2
    assert (run_dir / "final").is_dir()
