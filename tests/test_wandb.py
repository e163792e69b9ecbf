"""The W&B subscriber against real offline W&B runs (WANDB_MODE=offline; no W&B mocks).

wandb 0.31 writes no files/wandb-summary.json offline: the summary lives in the run's
transaction log (run-<id>.wandb), which these tests read record by record, and only through
:func:`finished_log`: W&B's service process writes that file, and ``finish()`` returns before
the service has closed it.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import wandb
from wandb.proto import wandb_internal_pb2

from tests.helpers import ROOT, tiny_overrides
from toolkit.config import loader
from toolkit.engine.trainer import create_trainer
from toolkit.events.bus import RunContext
from toolkit.events.factory import subscribers_for
from toolkit.integrations.wandb_callback import MARKER, WandbCallback
from toolkit.state import TrainingResult, TrainState
from toolkit.tracking import ExperimentTracker

BASE = str(ROOT / "config" / "base_config.yaml")
BLOCK = 32768  # the transaction log's block size (LevelDB log format)
HEADER = 7  # the file header, and each record header: crc32, length, type


@contextlib.contextmanager
def offline_env(tmp: Path) -> Iterator[None]:
    """Offline W&B with its files under `tmp`; a run left open is finished on the way out."""
    home = str(tmp / "wandb-home")
    values = {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DIR": home,
              "WANDB_CACHE_DIR": home, "WANDB_DATA_DIR": home, "WANDB_CONFIG_DIR": home,
              "WANDB_ARTIFACT_DIR": home}
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        if wandb.run is not None:
            wandb.finish()
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(autouse=True)
def offline(tmp_path: Path):
    with offline_env(tmp_path):
        yield


def finished_log(parent: Path) -> Path:
    """The transaction log of the finished offline run under `parent`, complete on disk.

    `run.finish()` only tells W&B's service process that the run is done (a publish, no
    reply); the service closes the file afterwards. `wandb.teardown()` waits for that process
    to exit, so every record has been written when it returns. (A later `wandb.init` starts a
    new service.)
    """
    wandb.teardown()
    [run] = (parent / "wandb").glob("offline-run-*")
    [log] = run.glob("run-*.wandb")
    return log


def records(log: Path) -> list[Any]:
    """Every protobuf Record of a W&B transaction log."""
    data, pos, chunks, out = log.read_bytes(), HEADER, b"", []
    while pos + HEADER <= len(data):
        if BLOCK - pos % BLOCK < HEADER:  # the block's zero padding
            pos += BLOCK - pos % BLOCK
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + HEADER])
        payload = data[pos + HEADER:pos + HEADER + length]
        pos += HEADER + length
        chunks = payload if kind in (1, 2) else chunks + payload  # full/first, middle/last
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(chunks)
            out.append(record)
    return out


def summary(log: Path) -> dict[str, Any]:
    """The run summary as the server would hold it: every summary update, in order."""
    merged: dict[str, Any] = {}
    for record in records(log):
        if record.WhichOneof("record_type") == "summary":
            for item in record.summary.update:
                merged[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return merged


def history(log: Path) -> list[dict[str, Any]]:
    return [{i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item}
            for r in records(log) if r.WhichOneof("record_type") == "history"]


def train(tmp: Path, cache: Path, *extra: str):
    overrides = tiny_overrides(tmp, cache, data__embedded_train_size=32,
                               data__embedded_eval_size=8, training__max_steps=4,
                               training__eval_strategy="steps", training__eval_steps=2,
                               evaluation__num_samples_to_log=3, checkpoint__save_total_limit=1)
    trainer = create_trainer(BASE, overrides=[*overrides, *extra])
    return trainer.train()


@pytest.mark.slow
def test_an_offline_run_holds_the_best_metrics_predictions_and_model(tmp_path: Path,
                                                                     cache_dir: Path) -> None:
    result = train(tmp_path, cache_dir, "wandb.enabled=true", "wandb.mode=offline",
                   "wandb.log_model=true", "wandb.tags=[extra]")
    run_dir = Path(result.run_dir)
    log = finished_log(run_dir)
    directory = log.parent
    run_id = json.loads((run_dir / MARKER).read_text())["id"]
    assert directory.name.endswith(run_id) and log.name == f"run-{run_id}.wandb"
    best = result.best_metrics
    found = summary(log)
    for name in ("rouge_combined_f1", "loss"):
        assert found[f"eval/{name}"] == found[name] == found[f"best/{name}"] == best[name]
    assert found["best/step"] == result.best_step and found["run_dir"] == str(run_dir)
    rows = history(log)
    assert [r["train/global_step"] for r in rows if "train/loss" in r] == [1, 2, 3, 4]
    assert [r["train/global_step"] for r in rows if "eval/loss" in r] == [2, 4]
    assert [r["eval/loss"] for r in rows if "eval/loss" in r] == [
        r["eval/loss"] for r in map(json.loads, (run_dir / "metrics.jsonl").read_text()
                                    .splitlines()) if "eval/loss" in r]
    tables = sorted((directory / "files" / "media" / "table" / "eval").glob("predictions_*"),
                    key=lambda t: int(t.name.split("_")[1]))
    assert len(tables) == 2
    table = json.loads(tables[-1].read_text())
    assert table["columns"] == ["input", "prediction", "reference"] and len(table["data"]) == 3
    kinds = [r.WhichOneof("record_type") for r in records(log)]
    assert "artifact" in kinds and kinds[-1] == "exit"
    run_record = next(r.run for r in records(log) if r.WhichOneof("record_type") == "run")
    meta_tags = create_trainer(BASE).config["meta"]["tags"]
    assert list(run_record.tags) == [*meta_tags, "extra"]  # meta.tags first
    assert run_record.display_name == run_dir.name
    [experiment] = ExperimentTracker(tmp_path / "toolkit.db").list_experiments()
    assert experiment["wandb_run_id"] == run_id
    assert wandb.run is None  # started here, finished here


@pytest.mark.slow
def test_a_run_the_user_started_is_reused_and_left_open(tmp_path: Path, cache_dir: Path) -> None:
    user = wandb.init(project="dialogue-summarization", dir=str(tmp_path / "user"),
                      name="kobart_baseline", tags=["baseline"])
    result = train(tmp_path, cache_dir)  # wandb.enabled: auto, the default
    assert wandb.run is user
    assert user.summary["rouge_combined_f1"] == result.best_metrics["rouge_combined_f1"]
    assert user.config["training"]["max_steps"] == 4
    wandb.log({"rouge_combined_f1": result.best_metrics["rouge_combined_f1"]})  # the seed's
    user.finish()
    assert not (Path(result.run_dir) / "wandb").exists()
    rows = history(finished_log(tmp_path / "user"))
    assert [r["train/global_step"] for r in rows if "eval/rouge_combined_f1" in r] == [2, 4]
    assert rows[-1]["rouge_combined_f1"] == result.best_metrics["rouge_combined_f1"]
    [experiment] = ExperimentTracker(tmp_path / "toolkit.db").list_experiments()
    assert experiment["wandb_run_id"] == user.id


def test_sweep_mode_merges_wandb_config(tmp_path: Path) -> None:
    wandb.init(dir=str(tmp_path), config={"learning_rate": 1e-4, "num_train_epochs": 2,
                                          "per_device_train_batch_size": 8,
                                          "training.warmup_ratio": 0.2})
    trainer = create_trainer(BASE, sweep_mode=True)
    training = trainer.config["training"]
    assert (training["learning_rate"], training["num_train_epochs"]) == (1e-4, 2)
    assert (training["per_device_train_batch_size"], training["warmup_ratio"]) == (8, 0.2)
    assert create_trainer(BASE).config["training"] == loader.resolve(BASE)[0]["training"]


def context(run_dir: Path, resumed: bool = False) -> RunContext:
    run_dir.mkdir(parents=True, exist_ok=True)
    return RunContext(run_dir=run_dir, experiment_name="direct", config={"training": {}},
                      config_hash="", resumed=resumed)


def result_of(run: RunContext, status: str = "completed") -> TrainingResult:
    return TrainingResult(best_metrics={}, final_metrics={}, model_path="", final_model_path="",
                          run_dir=str(run.run_dir), status=status)


def test_disabled_mode_logs_nothing_and_publishes_no_id(tmp_path: Path) -> None:
    callback = WandbCallback(mode="disabled", tags=["demo"])
    run, state = context(tmp_path / "run"), TrainState(global_step=1, max_steps=1)
    callback.on_train_begin(state, run)
    callback.on_log(state, {"train/loss": 1.0})
    state.last_metrics["best/rouge_combined_f1"] = 0.2
    callback.on_evaluate(state, {"eval/rouge_combined_f1": 0.2},
                         [{"input": "d", "prediction": "p", "reference": "r"}])
    callback.on_train_end(state, result_of(run))
    assert "wandb_run_id" not in run.shared and not (run.run_dir / MARKER).exists()
    assert not (run.run_dir / "wandb").exists() and wandb.run is None


def test_a_resumed_run_continues_its_wandb_run(tmp_path: Path) -> None:
    state = TrainState(global_step=2, max_steps=4)
    first_run = context(tmp_path / "run")
    first = WandbCallback(mode="offline")
    first.on_train_begin(state, first_run)
    first.on_log(state, {"train/loss": 2.0})
    first.on_train_end(state, result_of(first_run, "interrupted"))  # preempted
    assert wandb.run is None
    resumed = context(tmp_path / "run", resumed=True)
    WandbCallback(mode="offline").on_train_begin(state, resumed)
    assert resumed.shared["wandb_run_id"] == first_run.shared["wandb_run_id"] == wandb.run.id
    fresh = context(tmp_path / "other")
    wandb.finish()
    WandbCallback(mode="offline").on_train_begin(state, fresh)
    assert fresh.shared["wandb_run_id"] != first_run.shared["wandb_run_id"]


@pytest.mark.parametrize(("enabled", "user_run", "expected"), [
    ("auto", True, True), ("auto", False, False), ("false", True, False), ("true", False, True),
])
def test_wandb_enabled_auto_follows_a_run_active_in_the_process(
        tmp_path: Path, enabled: str, user_run: bool, expected: bool) -> None:
    if user_run:
        wandb.init(dir=str(tmp_path))
    config, _ = loader.resolve(BASE, [f"wandb.enabled={enabled}"])
    built = subscribers_for(loader.to_typed(config))
    assert any(isinstance(s, WandbCallback) for s in built) is expected


def test_report_to_wandb_is_the_wandb_subscriber_once() -> None:
    config, _ = loader.resolve(BASE, ["tracking.report_to=[wandb]", "wandb.enabled=true"])
    built = subscribers_for(loader.to_typed(config))
    assert [type(s).__name__ for s in built].count("WandbCallback") == 1
    assert "AccelerateTrackers" not in [type(s).__name__ for s in built]
