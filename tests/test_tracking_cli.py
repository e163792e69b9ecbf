"""`toolkit runs ...` and `toolkit models ...` on a real database built through the API."""

from __future__ import annotations

import argparse
import json
import unicodedata
from pathlib import Path

import pytest

from toolkit.tracking import ExperimentTracker, ModelRegistry
from toolkit.tracking.cli import register

COMMANDS = [
    ["runs", "list"], ["runs", "show", "X"], ["runs", "compare", "X"], ["runs", "export", "X"],
    ["models", "list"], ["models", "best"], ["models", "search"], ["models", "show", "X"],
    ["models", "compare", "X"], ["models", "alias", "X", "Y"],
]


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="toolkit")
    register(root.add_subparsers(dest="command", required=True))
    return root


def cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    args = parser().parse_args(argv)
    code = args.func(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def database(tmp_path: Path) -> dict[str, str]:
    """Two finished runs (one Korean-named) and a running one; two models, one aliased."""
    path = tmp_path / "toolkit.db"
    tracker, registry = ExperimentTracker(path), ModelRegistry(path)
    ids: dict[str, str] = {"db": str(path)}
    for key, name, rouge, lr in (("a", "kobart_base", 0.41, 5e-5), ("b", "한국어_실험", 0.47, 3e-5)):
        config = {"model": {"architecture": "kobart"}, "training": {"learning_rate": lr}}
        ids[key] = tracker.start_experiment(name, "", config, "kobart", {"train_size": 10})
        tracker.log_metrics({"eval/rouge_combined_f1": rouge, "train/loss": 1.5}, step=10)
        tracker.end_experiment(ids[key], {"loss": 1.2}, {"rouge_combined_f1": rouge})
        ids[f"model_{key}"] = registry.register_model(
            "kobart_base", "kobart", "gogamza/kobart-base-v2", config,
            {"rouge_combined_f1": rouge, "loss": 1.6 - rouge}, {"epochs": 3},
            f"/models/{key}", ids[key],
        )
    ids["running"] = tracker.start_experiment("still_going", model_type="t5")
    registry.set_alias(ids["model_b"], "production")
    return ids


def columns(header: str, line: str, names: list[str]) -> list[str]:
    """The cells of ``line`` under the header's column names (by display position)."""
    starts = [header.index(name) for name in names]
    cells = []
    for begin, end in zip(starts, [*starts[1:], None]):
        width = 0
        cell = ""
        for char in line:
            if width >= begin and (end is None or width < end):
                cell += char
            width += 2 if unicodedata.east_asian_width(char) in "WF" else 1
        cells.append(cell.strip())
    return cells


def test_runs_list_is_an_aligned_table(database: dict[str, str], capsys) -> None:
    code, out, _ = cli(capsys, "runs", "list", "--db", database["db"])
    header, rule, *rows = out.splitlines()
    assert code == 0 and len(rows) == 3 and set(rule) <= {"-", " "}
    names = ["ID", "NAME", "STATUS", "MODEL", "STARTED"]
    table = {cells[0]: cells[1:4] for cells in (columns(header, row, names) for row in rows)}
    assert table[database["b"]] == ["한국어_실험", "completed", "kobart"]
    assert table[database["running"]] == ["still_going", "running", "t5"]
    assert "0.47" in next(r for r in rows if r.startswith(database["b"]))

    code, out, _ = cli(capsys, "runs", "list", "--db", database["db"], "--status", "running",
                       "--json")
    assert [r["id"] for r in json.loads(out)] == [database["running"]]
    code, out, _ = cli(capsys, "runs", "list", "--db", database["db"], "--name", "kobart",
                       "--limit", "5", "--json")
    assert [r["id"] for r in json.loads(out)] == [database["a"]]


def test_runs_show_and_compare(database: dict[str, str], capsys) -> None:
    code, out, _ = cli(capsys, "runs", "show", database["a"], "--db", database["db"])
    assert code == 0 and "kobart_base" in out
    assert "eval/rouge_combined_f1" in out and "LAST STEP" in out
    code, out, _ = cli(capsys, "runs", "show", database["a"], "--db", database["db"], "--json")
    shown = json.loads(out)
    assert shown["id"] == database["a"] and shown["metric_summary"]["train/loss"]["last"] == 1.5

    code, out, _ = cli(capsys, "runs", "compare", database["a"], database["b"], "--db",
                       database["db"])
    assert code == 0 and out.splitlines()[0].split() == ["FIELD", database["a"], database["b"]]
    assert "config.training.learning_rate" in out and "config.model.architecture" not in out
    code, out, _ = cli(capsys, "runs", "compare", database["a"], database["b"], "--db",
                       database["db"], "--json")
    assert json.loads(out)["best_rouge_combined_f1"] == [0.41, 0.47]


def test_runs_export_writes_the_seed_json(database: dict[str, str], capsys, tmp_path: Path) -> None:
    target = tmp_path / "out" / "exp.json"
    code, out, _ = cli(capsys, "runs", "export", database["b"], "--db", database["db"],
                       "--output", str(target))
    assert code == 0 and str(target) in out
    exported = json.loads(target.read_text(encoding="utf-8"))
    assert exported == ExperimentTracker(database["db"]).export_experiment(database["b"])
    assert exported["metrics"] == {"best_rouge_combined_f1": 0.47, "final_loss": 1.2}
    assert exported["model_info"] == {"model_id": database["model_b"], "checkpoint_path": "/models/b"}
    code, out, _ = cli(capsys, "runs", "export", database["b"], "--db", database["db"])
    assert json.loads(out) == exported


def test_models_commands(database: dict[str, str], capsys) -> None:
    db = ("--db", database["db"])
    code, out, _ = cli(capsys, "models", "list", *db)
    header, _, *rows = out.splitlines()
    assert code == 0 and len(rows) == 2 and header.split()[:4] == [
        "ID", "NAME", "VERSION", "ARCHITECTURE"
    ]
    assert "production" in next(r for r in rows if r.startswith(database["model_b"]))

    code, out, _ = cli(capsys, "models", "best", "--metric", "rouge_combined_f1", "--limit", "1",
                       *db, "--json")
    assert [m["id"] for m in json.loads(out)] == [database["model_b"]]
    code, out, _ = cli(capsys, "models", "best", "--metric", "loss", *db, "--json")
    assert [m["id"] for m in json.loads(out)] == [database["model_b"], database["model_a"]]
    code, out, _ = cli(capsys, "models", "best", "--metric", "loss", "--goal", "max", *db,
                       "--json")
    assert [m["id"] for m in json.loads(out)] == [database["model_a"], database["model_b"]]

    code, out, _ = cli(capsys, "models", "search", "--architecture", "kobart", "--min",
                       "rouge_combined_f1=0.45", *db, "--json")
    assert [m["id"] for m in json.loads(out)] == [database["model_b"]]
    code, out, _ = cli(capsys, "models", "search", "--min", "rouge_combined_f1=0.5", *db)
    assert out.strip() == "no models"

    code, out, _ = cli(capsys, "models", "show", "production", *db, "--json")
    assert json.loads(out)["id"] == database["model_b"]
    code, out, _ = cli(capsys, "models", "show", database["model_a"], *db)
    assert "gogamza/kobart-base-v2" in out and "rouge_combined_f1" in out

    code, out, _ = cli(capsys, "models", "compare", database["model_a"], database["model_b"], *db)
    line = next(r for r in out.splitlines() if r.startswith("rouge_combined_f1"))
    assert line.split() == ["rouge_combined_f1", "0.41", "0.47"]

    code, out, _ = cli(capsys, "models", "alias", database["model_a"], "production", *db)
    assert code == 0 and out.strip() == f"production -> {database['model_a']}"
    assert ModelRegistry(database["db"]).resolve("production") == database["model_a"]


@pytest.mark.parametrize("argv", [
    ["runs", "show", "exp_19990101_001"], ["runs", "export", "exp_19990101_001"],
    ["runs", "compare", "exp_19990101_001"], ["models", "show", "nope"],
    ["models", "compare", "nope"], ["models", "alias", "nope", "best"],
])
def test_an_unknown_id_is_one_line_and_exit_2(database: dict[str, str], capsys, argv) -> None:
    code, out, err = cli(capsys, *argv, "--db", database["db"])
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and argv[2] in err


def test_a_missing_database_is_reported_not_created(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "none.db"
    for argv in (["runs", "list"], ["models", "alias", "x", "best"]):
        code, _, err = cli(capsys, *argv, "--db", str(missing))
        assert code == 2 and f"No tracking database at {missing}" in err
    assert not missing.exists()


def test_bad_min_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(["models", "search", "--min", "rouge"])
    assert exited.value.code == 2 and "METRIC=VALUE" in capsys.readouterr().err


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_every_command_has_help(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args([*argv[:2], "--help"])
    assert exited.value.code == 0 and "--db" in capsys.readouterr().out
