"""The experiment tracker, the model registry and their bus subscribers, on real SQLite files."""

from __future__ import annotations

import json
import logging
import multiprocessing
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from toolkit.errors import ToolkitError
from toolkit.events.bus import Event, EventBus, RunContext
from toolkit.state import TrainingResult, TrainState
from toolkit.tracking import (
    ExperimentTracker,
    ModelRegistry,
    RegistryCallback,
    TrackerCallback,
    db,
)
from toolkit.tracking.db import NotFoundError, TrackingError
from toolkit.tracking.subscribers import PARAMETER_KEYS

CONFIG = {
    "meta": {"experiment_name": "kobart_base", "description": "KoBART 기본 실험", "tags": ["v1"]},
    "model": {"architecture": "kobart", "checkpoint": "gogamza/kobart-base-v2"},
    "training": {"num_train_epochs": 3, "per_device_train_batch_size": 16, "learning_rate": 5e-5},
}
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "experiments" / "toolkit.db"


def at(monkeypatch: pytest.MonkeyPatch, *args: int) -> None:
    """Freeze the tracker's clock at datetime(*args) UTC."""
    monkeypatch.setattr(db, "now", lambda: datetime(*args, tzinfo=UTC))


def raw(db_path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql, params).fetchall()


def start(tracker: ExperimentTracker, name: str = "kobart_base") -> str:
    return tracker.start_experiment(
        name=name, description="KoBART 기본 실험", config=CONFIG, model_type="kobart",
        dataset_info={"train_size": 1000, "val_size": 200}, wandb_run_id="wandb_run_123",
    )


# --- the API ----------------------------------------------------------------------------------

def test_lifecycle_through_the_api(db_path: Path) -> None:
    tracker = ExperimentTracker(db_path)
    experiment_id = start(tracker)
    assert re.fullmatch(r"exp_\d{8}_001", experiment_id)
    tracker.update_experiment_status(experiment_id, "in_progress", "학습 진행 중")
    logged = tracker.log_metrics(
        {"learning_rate": 5e-5, "batch_size": 16, "custom_metric": 0.85, "note": "text",
         "flag": True, "nan": float("nan")},
        step=100,
    )
    assert logged == 3
    tracker.heartbeat(experiment_id)
    tracker.end_experiment(
        experiment_id, final_metrics={"loss": 1.23}, best_metrics={"rouge_combined_f1": 0.47}
    )

    experiment = tracker.get_experiment(experiment_id)
    assert experiment["status"] == "completed"
    assert ISO.fullmatch(experiment["start_time"]) and ISO.fullmatch(experiment["end_time"])
    assert experiment["config"] == CONFIG and experiment["dataset_info"]["train_size"] == 1000
    assert experiment["notes"] == "학습 진행 중"
    assert experiment["pid"] > 0 and experiment["host"]
    assert "python" in experiment["library_versions"]
    assert [m["key"] for m in tracker.get_metrics(experiment_id)] == [
        "batch_size", "custom_metric", "learning_rate"
    ]
    assert tracker.get_metrics(experiment_id, key="custom_metric")[0]["value"] == 0.85

    model_id = ModelRegistry(db_path).register_model(
        name="kobart_base_v1", architecture="kobart", checkpoint="gogamza/kobart-base-v2",
        config=CONFIG, performance={"rouge_combined_f1": 0.39}, training_info={"epochs": 3},
        file_path="/models/best_model", experiment_id=experiment_id,
    )
    exported = tracker.export_experiment(experiment_id)
    assert list(exported) == [
        "experiment_id", "name", "start_time", "end_time", "status", "config", "metrics",
        "model_info", "wandb_run_id", "notes",
    ]
    assert exported["metrics"] == {"best_rouge_combined_f1": 0.47, "final_loss": 1.23}
    assert exported["model_info"] == {"model_id": model_id, "checkpoint_path": "/models/best_model"}
    assert exported["wandb_run_id"] == "wandb_run_123"
    assert tracker.best_experiment("rouge_combined_f1")["id"] == experiment_id


def test_ids_count_per_utc_day(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tracker, registry = ExperimentTracker(db_path), ModelRegistry(db_path)
    at(monkeypatch, 2025, 1, 28, 10, 30)
    first = [start(tracker) for _ in range(2)]
    models = [registry.register_model("m", "bart") for _ in range(2)]
    at(monkeypatch, 2025, 1, 29, 0, 5)
    assert start(tracker) == "exp_20250129_001"
    at(monkeypatch, 2025, 1, 28, 23, 59)
    assert first + [start(tracker)] == ["exp_20250128_001", "exp_20250128_002", "exp_20250128_003"]
    assert models == ["model_20250128_001", "model_20250128_002"]
    assert tracker.get_experiment(first[0])["start_time"] == "2025-01-28T10:30:00Z"


def test_status_changes_are_compare_and_set(db_path: Path) -> None:
    tracker = ExperimentTracker(db_path)
    experiment_id = start(tracker)
    tracker.end_experiment(experiment_id, {}, {}, status="completed")
    for attempt in (
        lambda: tracker.update_experiment_status(experiment_id, "running"),
        lambda: tracker.update_experiment_status(experiment_id, "failed"),
        lambda: tracker.end_experiment(experiment_id, {}, {}),
    ):
        with pytest.raises(TrackingError, match="resume_experiment"):
            attempt()
    assert tracker.get_experiment(experiment_id)["status"] == "completed"

    tracker.resume_experiment(experiment_id)
    resumed = tracker.get_experiment(experiment_id)
    assert resumed["status"] == "running" and resumed["end_time"] is None
    tracker.update_experiment_status(experiment_id, "interrupted")
    tracker.update_experiment_status(experiment_id, "running")  # interrupted is not finished
    tracker.update_experiment_status(experiment_id, "failed", notes="OOM")
    assert tracker.get_experiment(experiment_id)["notes"] == "OOM"

    with pytest.raises(TrackingError, match="Unknown experiment status"):
        tracker.update_experiment_status(experiment_id, "done")
    with pytest.raises(NotFoundError, match="exp_19990101_001"):
        tracker.update_experiment_status("exp_19990101_001", "completed")
    with pytest.raises(NotFoundError):
        tracker.log_metrics({"loss": 1.0}, step=1, experiment_id="exp_19990101_001")


def test_dead_or_silent_runs_show_as_interrupted(db_path: Path) -> None:
    tracker = ExperimentTracker(db_path)
    silent, dead, alive = (start(tracker, name) for name in ("silent", "dead", "alive"))
    old = db.iso(db.now() - timedelta(minutes=11))
    raw(db_path, "UPDATE experiments SET heartbeat = ? WHERE id = ?", (old, silent))
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    raw(db_path, "UPDATE experiments SET pid = ? WHERE id = ?", (finished.pid, dead))

    assert tracker.get_experiment(silent)["status"] == "interrupted"
    assert tracker.get_experiment(dead)["status"] == "interrupted"
    assert tracker.get_experiment(alive)["status"] == "running"
    assert {e["id"] for e in tracker.list_experiments(status="interrupted")} == {silent, dead}
    assert [e["id"] for e in tracker.list_experiments(status="running")] == [alive]
    assert raw(db_path, "SELECT COUNT(*) FROM experiments WHERE status = 'running'") == [(3,)]
    tracker.end_experiment(silent, {}, {}, status="interrupted")  # stored status is still running


def test_metric_summary_keeps_best_and_last(db_path: Path) -> None:
    tracker = ExperimentTracker(db_path)
    experiment_id = start(tracker)
    for step, rouge, loss in ((10, 0.30, 2.0), (20, 0.42, 2.5), (30, 0.35, 1.5)):
        tracker.log_metrics({"eval/rouge_combined_f1": rouge, "eval/loss": loss}, step)
    summary = tracker.get_metric_summary(experiment_id)
    assert summary["eval/rouge_combined_f1"] == {
        "best": 0.42, "best_step": 20, "last": 0.35, "last_step": 30
    }
    assert summary["eval/loss"] == {"best": 1.5, "best_step": 30, "last": 1.5, "last_step": 30}

    tracker.log_metrics({"eval/rouge_combined_f1": 0.10}, 20)  # a replayed step replaces its point
    summary = tracker.get_metric_summary(experiment_id)
    assert summary["eval/rouge_combined_f1"] == {
        "best": 0.35, "best_step": 30, "last": 0.35, "last_step": 30
    }
    assert len(tracker.get_metrics(experiment_id, "eval/rouge_combined_f1")) == 3


def _write_metrics(
    db_path: str, barrier: multiprocessing.synchronize.Barrier, queue: multiprocessing.Queue
) -> None:
    """One worker: wait for the others, start an experiment, log 500 points one by one."""
    tracker = ExperimentTracker(db_path)
    barrier.wait()
    experiment_id = tracker.start_experiment("worker")
    for step in range(500):
        tracker.log_metrics({"train/loss": 1.0 / (step + 1)}, step)
    queue.put(experiment_id)


def test_concurrent_writers_lose_nothing(db_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(8), context.Queue()
    workers = [
        context.Process(target=_write_metrics, args=(str(db_path), barrier, queue))
        for _ in range(8)
    ]
    for worker in workers:
        worker.start()
    ids = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert len(set(ids)) == 8
    counts = raw(db_path, "SELECT experiment_id, COUNT(*) FROM metrics GROUP BY experiment_id")
    assert sorted(counts) == sorted((i, 500) for i in ids)
    summaries = raw(db_path, "SELECT last_step, best, best_step FROM metric_summary")
    assert summaries == [(499, 1.0 / 500, 499)] * 8


# --- migration --------------------------------------------------------------------------------

VERSION_1 = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE experiments (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT, status TEXT NOT NULL,
    start_time TEXT, end_time TEXT, config TEXT, config_hash TEXT, model_type TEXT,
    dataset_info TEXT, wandb_run_id TEXT, git_commit TEXT, library_versions TEXT, host TEXT,
    notes TEXT, final_metrics TEXT, best_metrics TEXT
);
CREATE TABLE metrics (
    id INTEGER PRIMARY KEY, experiment_id TEXT NOT NULL, key TEXT NOT NULL,
    step INTEGER NOT NULL, value REAL NOT NULL, time TEXT NOT NULL
);
CREATE INDEX metrics_experiment ON metrics (experiment_id, key);
CREATE TABLE models (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL, architecture TEXT,
    checkpoint TEXT, path TEXT, config TEXT, performance TEXT, training_info TEXT,
    experiment_id TEXT, created_time TEXT NOT NULL, UNIQUE (name, version)
);
INSERT INTO experiments (id, name, status, start_time, end_time, config, best_metrics)
VALUES ('exp_20250128_001', 'old', 'completed', '2025-01-28T10:30:00Z', '2025-01-28T12:45:00Z',
        '{"model": {"architecture": "kobart"}}', '{"rouge_combined_f1": 0.47}'),
       ('exp_20250128_002', 'seed style', 'in_progress', '2025-01-28T13:00:00Z', NULL, NULL, NULL);
INSERT INTO metrics (experiment_id, key, step, value, time) VALUES
    ('exp_20250128_001', 'eval/rouge_combined_f1', 100, 0.40, '2025-01-28T11:00:00Z'),
    ('exp_20250128_001', 'eval/rouge_combined_f1', 200, 0.47, '2025-01-28T12:00:00Z'),
    ('exp_20250128_001', 'eval/rouge_combined_f1', 200, 0.46, '2025-01-28T12:01:00Z');
INSERT INTO models VALUES ('model_20250128_001', 'kobart_base_v1', 1, 'kobart', NULL,
    '/models/best_model', NULL, '{"rouge_combined_f1": 0.47}', NULL, 'exp_20250128_001',
    '2025-01-28T12:45:00Z');
"""


def test_connect_migrates_a_version_1_file_in_place(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as conn:
        conn.executescript(VERSION_1)

    at(monkeypatch, 2025, 1, 28, 14, 0)
    tracker, registry = ExperimentTracker(db_path), ModelRegistry(db_path)
    assert raw(db_path, "SELECT version FROM schema_version") == [(db.SCHEMA_VERSION,)]
    old = tracker.get_experiment("exp_20250128_001")
    assert old["best_metrics"] == {"rouge_combined_f1": 0.47} and old["tags"] is None
    assert old["model_info"] is None  # v3 added the column; old runs have none
    assert tracker.get_experiment("exp_20250128_002")["status"] == "interrupted"  # no heartbeat
    points = tracker.get_metrics("exp_20250128_001")
    assert [(p["step"], p["value"]) for p in points] == [(100, 0.40), (200, 0.46)]  # latest kept
    assert tracker.get_metric_summary("exp_20250128_001")["eval/rouge_combined_f1"]["best"] == 0.46

    assert start(tracker) == "exp_20250128_003"
    assert registry.get_model_info("model_20250128_001")["performance"]["rouge_combined_f1"] == 0.47
    new_model = registry.register_model("kobart_base_v1", "kobart")
    assert (new_model, registry.get_model_info(new_model)["version"]) == ("model_20250128_002", 2)
    registry.set_alias(new_model, "production")
    ExperimentTracker(db_path)  # a second connect finds the current version and changes nothing
    assert raw(db_path, "SELECT COUNT(*) FROM experiments") == [(3,)]


def test_a_newer_schema_is_refused(db_path: Path) -> None:
    ExperimentTracker(db_path)
    raw(db_path, "UPDATE schema_version SET version = 99")
    with pytest.raises(TrackingError, match="newer than this toolkit"):
        ExperimentTracker(db_path)


@pytest.mark.parametrize("where", ["directory", "under_a_file"])
def test_the_api_names_the_path_and_the_fix(tmp_path: Path, where: str) -> None:
    (tmp_path / "file").write_text("")
    path = tmp_path if where == "directory" else tmp_path / "file" / "toolkit.db"
    with pytest.raises(ToolkitError, match="writable") as raised:
        ExperimentTracker(path)
    assert str(path) in str(raised.value) and "tracking.db_path" in str(raised.value)


# --- the registry -----------------------------------------------------------------------------

def test_registry_versions_search_compare_and_aliases(db_path: Path) -> None:
    registry = ModelRegistry(db_path)
    v1 = registry.register_model(
        "kobart_base", "kobart", "gogamza/kobart-base-v2", CONFIG,
        {"rouge_combined_f1": 0.39, "rouge1_f1": 0.45, "loss": 1.4}, {"epochs": 3}, "/m/v1",
    )
    v2 = registry.register_model(
        "kobart_base", "kobart", performance={"rouge_combined_f1": 0.41, "loss": 1.2}
    )
    t5 = registry.register_model("t5_small", "t5", performance={"rouge_combined_f1": 0.30})
    assert [registry.get_model_info(i)["version"] for i in (v1, v2, t5)] == [1, 2, 1]

    info = registry.get_model_info(v1)
    assert info["config"] == CONFIG and info["training_info"] == {"epochs": 3}
    assert [m["id"] for m in registry.get_best_models()] == [v2, v1, t5]
    assert [m["id"] for m in registry.get_best_models("loss", limit=1)] == [v2]  # lower is better
    # a metric whose name says nothing (a perplexity-like score) takes its direction from `goal`
    assert [m["id"] for m in registry.get_best_models("loss", goal="max")] == [v1, v2]
    with pytest.raises(TrackingError, match="goal"):
        registry.get_best_models(goal="up")
    assert [m["id"] for m in registry.search_models(architecture="kobart")] == [v2, v1]
    found = registry.search_models(min_performance={"rouge_combined_f1": 0.35, "rouge1_f1": 0.4})
    assert [m["id"] for m in found] == [v1]
    assert registry.compare_models([v1, v2]) == {
        "loss": [1.4, 1.2], "rouge1_f1": [0.45, None], "rouge_combined_f1": [0.39, 0.41]
    }

    registry.set_alias(v1, "production")
    registry.set_alias(v2, "production")  # moves
    assert registry.resolve("production") == v2 and registry.resolve(v1) == v1
    assert registry.get_model_info("production")["aliases"] == ["production"]
    assert registry.get_model_info(v1)["aliases"] == []
    with pytest.raises(NotFoundError, match="nope"):
        registry.resolve("nope")
    with pytest.raises(TrackingError, match="model id"):
        registry.set_alias(v1, "model_20250101_001")


# --- the subscribers, driven through the bus ----------------------------------------------------

MODEL_INFO = {
    "architecture": "kobart", "checkpoint": "gogamza/kobart", "num_parameters": 123_859_968,
    "trainable_parameters": 1_179_648, "torch_dtype": "float32", "precision": "no",
    "adapter": {"method": "lora", "r": 8, "alpha": 16, "dropout": 0.05,
                "target_modules": "all-linear", "modules_to_save": []},
}


def make_run(run_dir: Path, resumed: bool = False) -> RunContext:
    return RunContext(
        run_dir=run_dir, experiment_name="kobart_base", config=CONFIG, config_hash="abc123",
        resumed=resumed, model_info=MODEL_INFO,
        dataset_info={"train_size": 1000},
    )


def make_result(run_dir: Path, status: str, step: int, rouge: float = 0.4) -> TrainingResult:
    return TrainingResult(
        best_metrics={"rouge_combined_f1": rouge, "loss": 1.1}, final_metrics={"loss": 1.2},
        model_path=str(run_dir / "best"), final_model_path=str(run_dir / "final"),
        run_dir=str(run_dir), status=status, global_step=step,
    )


def make_bus(db_path: Path, **registry: object) -> EventBus:
    bus = EventBus()
    bus.add(TrackerCallback(db_path))
    bus.add(RegistryCallback(db_path, **registry))
    return bus


def train(bus: EventBus, run: RunContext, steps: range, status: str = "completed") -> TrainingResult:
    """What the loop emits: begin, a log every step, an evaluation every second step, end."""
    state = TrainState(global_step=steps.start, max_steps=steps.stop)
    bus.emit(Event.TRAIN_BEGIN, state, run=run)
    for step in steps:
        state.global_step = step
        bus.emit(Event.STEP_END, state, lr=1e-4)
        bus.emit(Event.LOG, state, metrics={"train/loss": 3.0 - step / 10})
        if step % 2 == 0:
            bus.emit(Event.EVALUATE, state, metrics={"eval/rouge_combined_f1": step / 100},
                     samples=[])
            run.shared.setdefault("wandb_run_id", "wandb_abc")  # W&B publishes it late
    result = make_result(run.run_dir, status, state.global_step)
    bus.emit(Event.TRAIN_END, state, result=result)
    return result


def test_subscribers_record_and_register_a_run(db_path: Path, tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    result = train(make_bus(db_path), run, range(1, 7))

    experiment_id = run.shared["experiment_id"]
    assert json.loads((run.run_dir / "tracking.json").read_text()) == {
        "experiment_id": experiment_id
    }
    tracker = ExperimentTracker(db_path)
    experiment = tracker.get_experiment(experiment_id)
    assert experiment["status"] == "completed" and experiment["wandb_run_id"] == "wandb_abc"
    assert experiment["description"] == "KoBART 기본 실험" and experiment["tags"] == ["v1"]
    assert experiment["config_hash"] == "abc123" and experiment["run_dir"] == str(run.run_dir)
    assert experiment["best_metrics"] == result.best_metrics
    assert experiment["model_info"] == MODEL_INFO  # parameter counts and adapter settings
    assert len(tracker.get_metrics(experiment_id, "train/loss")) == 6
    assert len(tracker.get_metrics(experiment_id, "eval/rouge_combined_f1")) == 3

    model = ModelRegistry(db_path).get_model_info(run.shared["model_id"])
    assert (result.experiment_id, result.model_id) == (experiment_id, model["id"])
    assert model["name"] == "kobart_base" and model["checkpoint"] == "gogamza/kobart"
    assert model["training_info"] == {
        "epochs": 3, "batch_size": 16, "learning_rate": 5e-5, "global_step": 6,
        **{key: MODEL_INFO[key] for key in PARAMETER_KEYS},
    }
    assert model["path"] == result.model_path and model["experiment_id"] == experiment_id
    exported = tracker.export_experiment(experiment_id)["model_info"]
    assert exported["model_id"] == model["id"] and exported["trainable_parameters"] == 1_179_648
    compared = tracker.compare_experiments([experiment_id])
    assert compared["model.adapter.r"] == [8] and compared["model.num_parameters"] == [123_859_968]


def test_a_resumed_run_continues_its_experiment(db_path: Path, tmp_path: Path) -> None:
    first = make_run(tmp_path / "run")
    train(make_bus(db_path), first, range(1, 5), status="interrupted")
    assert "model_id" not in first.shared  # only completed runs are registered
    experiment_id = first.shared["experiment_id"]
    tracker = ExperimentTracker(db_path)
    assert tracker.get_experiment(experiment_id)["status"] == "interrupted"

    second = make_run(tmp_path / "run", resumed=True)
    train(make_bus(db_path), second, range(3, 9))  # the loop replays steps 3 and 4
    assert second.shared["experiment_id"] == experiment_id
    assert [e["id"] for e in tracker.list_experiments()] == [experiment_id]
    assert tracker.get_experiment(experiment_id)["status"] == "completed"
    steps = [p["step"] for p in tracker.get_metrics(experiment_id, "train/loss")]
    assert steps == list(range(1, 9))
    assert raw(db_path, "SELECT COUNT(*) FROM metrics") == [(8 + 4,)]


def test_a_failed_run_is_marked_failed(db_path: Path, tmp_path: Path) -> None:
    bus, run = make_bus(db_path), make_run(tmp_path / "run")
    state = TrainState()
    bus.emit(Event.TRAIN_BEGIN, state, run=run)
    bus.emit(Event.EXCEPTION, state, error=RuntimeError("CUDA out of memory"))
    experiment = ExperimentTracker(db_path).get_experiment(run.shared["experiment_id"])
    assert experiment["status"] == "failed"
    assert experiment["notes"] == "RuntimeError: CUDA out of memory"


def test_registry_bar(db_path: Path, tmp_path: Path) -> None:
    low = make_run(tmp_path / "low")
    train(make_bus(db_path, min_metric=0.5, model_name="named"), low, range(1, 3))
    assert "model_id" not in low.shared
    high = make_run(tmp_path / "high")
    train(make_bus(db_path, min_metric=0.3, model_name="named"), high, range(1, 3))
    assert ModelRegistry(db_path).get_model_info(high.shared["model_id"])["name"] == "named"


def handlers(subscriber: TrackerCallback, run: RunContext) -> None:
    """Every handler called directly (no bus to catch a raise)."""
    state = TrainState(global_step=1)
    subscriber.on_train_begin(state, run)
    subscriber.on_step_end(state, 1e-4)
    subscriber.on_log(state, {"train/loss": 1.0})
    subscriber.on_evaluate(state, {"eval/rouge_combined_f1": 0.3}, [])
    subscriber.on_train_end(state, make_result(run.run_dir, "completed", 1))
    subscriber.on_exception(state, RuntimeError("late"))


@pytest.mark.parametrize("where", ["directory", "under_a_file"])
def test_an_unusable_database_warns_once_and_training_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    (tmp_path / "file").write_text("")
    path = tmp_path if where == "directory" else tmp_path / "file" / "toolkit.db"
    run = make_run(tmp_path / "run")
    tracker, registry = TrackerCallback(path), RegistryCallback(path)
    with caplog.at_level(logging.WARNING):
        handlers(tracker, run)
        registry.on_train_begin(TrainState(), run)
        registry.on_train_end(TrainState(), make_result(run.run_dir, "completed", 1))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and all(str(path) in w for w in warnings)
    assert tracker.disabled and registry.disabled
    assert "experiment_id" not in run.shared and "model_id" not in run.shared


def test_a_database_locked_too_long_mid_run_warns_once(
    db_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(db, "BUSY_TIMEOUT_S", 0.01)
    monkeypatch.setattr(db, "LOCK_RETRIES", 1)
    subscriber, run, state = TrackerCallback(db_path), make_run(tmp_path / "run"), TrainState()
    subscriber.on_train_begin(state, run)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        with caplog.at_level(logging.WARNING):
            for step in range(3):
                state.global_step = step
                subscriber.on_log(state, {"train/loss": 1.0})
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "locked" in warnings[0]
    subscriber.on_train_end(state, make_result(run.run_dir, "completed", 3))  # silent, disabled
    assert ExperimentTracker(db_path).get_metrics(run.shared["experiment_id"]) == []


def test_subscribers_run_on_the_main_process_only() -> None:
    assert TrackerCallback.main_process_only and RegistryCallback.main_process_only
    assert not TrackerCallback.critical and not RegistryCallback.critical
