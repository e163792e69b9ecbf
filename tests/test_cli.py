"""The `toolkit` command: help for every (sub)command, usage errors exit 2 with the fix."""

from __future__ import annotations

import argparse

import pytest

from tests.helpers import ROOT
from toolkit.cli import commands, main, make_parser
from toolkit.errors import EXIT_USAGE

BASE = str(ROOT / "config" / "base_config.yaml")


def command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
                  ) -> list[tuple[str, ...]]:
    """Every command reachable from `parser`, itself included, as argv prefixes."""
    paths = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths += command_paths(sub, (*prefix, name))
    return paths


PATHS = command_paths(make_parser())


def test_every_registered_command_is_reachable() -> None:
    top = {path[0] for path in PATHS if path}
    assert len(commands()) <= len(top)
    assert {"train", "evaluate", "predict", "sweep", "config"} <= top
    assert ("config", "show") in PATHS and ("config", "import") in PATHS


@pytest.mark.parametrize("argv", PATHS, ids=lambda path: " ".join(path) or "toolkit")
def test_help_exits_0(argv: tuple[str, ...], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as caught:
        main([*argv, "--help"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: toolkit {' '.join(argv)}".rstrip())


@pytest.mark.parametrize("argv", [[], ["trian"]])
def test_a_missing_or_unknown_command_is_a_usage_error(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == EXIT_USAGE


@pytest.mark.parametrize("argv", [["train", "--config", BASE], ["config", "show"]])
def test_an_unknown_key_exits_2_with_the_suggestion(argv: list[str],
                                                    capsys: pytest.CaptureFixture) -> None:
    assert main([*argv, "training.learnig_rate=1e-4"]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert "did you mean `training.learning_rate`" in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


@pytest.mark.parametrize(("override", "hint"), [
    ("tokenizer.encoder_max_len=512", "the toolkit calls it `tokenizer.max_source_length`"),
    ("general.model_name=gogamza/kobart-base-v2", "the toolkit calls it `model.checkpoint`"),
    ("inference.num_beams=4", "toolkit config import"),
])
def test_a_competition_baseline_key_exits_2_pointing_to_the_toolkit_key(
        override: str, hint: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["config", "show", override]) == EXIT_USAGE
    assert hint in capsys.readouterr().err


def test_config_import_of_a_missing_file_is_a_usage_error(tmp_path, capsys) -> None:
    assert main(["config", "import", str(tmp_path / "old.yaml"), "--output",
                 str(tmp_path / "new.yaml")]) == EXIT_USAGE
    assert "old.yaml does not exist; pass the path of the config to convert" in \
        capsys.readouterr().err
    assert not (tmp_path / "new.yaml").exists()


def test_toolkit_train_reads_wandb_style_flags(capsys: pytest.CaptureFixture[str]) -> None:
    # checked by the config before any training: a flag reaches its key, typed
    assert main(["train", "--config", BASE, "--lr=abc"]) == EXIT_USAGE
    assert "training.learning_rate expects float" in capsys.readouterr().err
    assert main(["train", "--config", BASE, "--training.per_device_train_batch_size=x"]) \
        == EXIT_USAGE
    assert "training.per_device_train_batch_size expects int" in capsys.readouterr().err
