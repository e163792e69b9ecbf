"""`tracking.report_to` through Accelerate's trackers: real TensorBoard event files (read back
with TensorBoard's EventAccumulator) and a real MLflow SQLite store (read back with
MlflowClient), from one tiny training run and from the subscriber resumed directly."""

from __future__ import annotations

import json
import os
from pathlib import Path

import mlflow
import pytest
import yaml
from accelerate.tracking import LOGGER_TYPE_TO_CLASS
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.helpers import ROOT, tiny_overrides
from toolkit.config import loader
from toolkit.config.schema import REPORT_TO
from toolkit.engine.trainer import create_trainer
from toolkit.errors import ConfigError
from toolkit.events.bus import RunContext
from toolkit.events.factory import subscribers_for
from toolkit.integrations.trackers import MARKER, TENSORBOARD_DIR, AccelerateTrackers
from toolkit.state import TrainingResult, TrainState
from toolkit.tracking import RegistryCallback, TrackerCallback

BASE = str(ROOT / "config" / "base_config.yaml")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    """An MLflow SQLite store; artifacts go to ./mlruns, so the module runs in its folder."""
    tmp = tmp_path_factory.mktemp("mlflow")
    before = os.getcwd()
    os.chdir(tmp)
    try:
        yield f"sqlite:///{tmp / 'mlflow.db'}"
    finally:
        os.chdir(before)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, store: str):
    tmp = tmp_path_factory.mktemp("trackers")
    overrides = tiny_overrides(tmp, cache_dir, data__embedded_train_size=32,
                               data__embedded_eval_size=8, training__max_steps=4,
                               training__eval_strategy="steps", training__eval_steps=2,
                               tracking__enabled="false", wandb__enabled="false",
                               tracking__report_to="[tensorboard,mlflow]",
                               tracking__mlflow_tracking_uri=store,
                               tracking__mlflow_register_model="true",
                               tracking__model_name="tiny-summarizer")
    result = create_trainer(BASE, overrides=overrides).train()
    history = [json.loads(line) for line in
               (Path(result.run_dir) / "metrics.jsonl").read_text().splitlines()]
    return result, history


def scalars(directory: Path, tag: str) -> list[tuple[int, float]]:
    events = EventAccumulator(str(directory))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


@pytest.mark.slow
def test_tensorboard_gets_every_metric_at_its_step_and_the_config(trained) -> None:
    result, history = trained
    directory = Path(result.run_dir) / TENSORBOARD_DIR
    for tag in ("train/loss", "train/learning_rate", "eval/rouge_combined_f1", "eval/loss"):
        expected = [(r["step"], r[tag]) for r in history if tag in r]
        assert scalars(directory, tag) == [(s, pytest.approx(v)) for s, v in expected]
    [hparams] = directory.glob("*/hparams.yml")
    params = yaml.safe_load(hparams.read_text())
    assert params["training.max_steps"] == 4 and params["meta.experiment_name"] == "tiny"
    assert json.loads(params["callbacks"]) == ["log_file", "metrics_history", "nan_guard"]


@pytest.mark.slow
def test_mlflow_gets_metrics_params_and_registers_best(trained, store: str) -> None:
    result, history = trained
    run_id = json.loads((Path(result.run_dir) / MARKER).read_text())["mlflow"]["run_id"]
    client = mlflow.MlflowClient(tracking_uri=store)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == Path(result.run_dir).name
    assert run.data.params["training.learning_rate"] == "0.001"
    assert run.data.tags["toolkit.run_dir"] == result.run_dir
    for tag in ("train/loss", "eval/rouge_combined_f1"):
        logged = [(m.step, m.value) for m in client.get_metric_history(run_id, tag)]
        assert logged == [(r["step"], pytest.approx(r[tag])) for r in history if tag in r]
    [version] = client.search_model_versions("name='tiny-summarizer'")
    assert version.run_id == run_id and version.source.endswith("best")
    files = {Path(a.path).name for a in client.list_artifacts(run_id, "best")}
    assert files == {p.name for p in Path(result.model_path).iterdir()}


def context(run_dir: Path, resumed: bool) -> RunContext:
    run_dir.mkdir(parents=True, exist_ok=True)
    return RunContext(run_dir=run_dir, experiment_name="direct", config={"training": {"x": 1}},
                      config_hash="", resumed=resumed)


def result_of(run: RunContext, status: str) -> TrainingResult:
    return TrainingResult(best_metrics={}, final_metrics={}, model_path="", final_model_path="",
                          run_dir=str(run.run_dir), status=status)


def test_a_resumed_run_continues_its_mlflow_run_and_tensorboard_dir(tmp_path: Path,
                                                                    store: str) -> None:
    first = context(tmp_path / "run", resumed=False)
    trackers = AccelerateTrackers(["tensorboard", "mlflow"], mlflow_tracking_uri=store)
    trackers.on_train_begin(TrainState(max_steps=4), first)
    for step in (1, 2, 3):  # step 3 is logged, then the process dies before its checkpoint
        trackers.on_log(TrainState(global_step=step), {"train/loss": float(step)})
    trackers.on_train_end(TrainState(global_step=3), result_of(first, "interrupted"))
    run_id = json.loads((first.run_dir / MARKER).read_text())["mlflow"]["run_id"]
    client = mlflow.MlflowClient(tracking_uri=store)
    assert client.get_run(run_id).info.status == "KILLED"

    resumed = context(tmp_path / "run", resumed=True)  # from the checkpoint at step 2
    again = AccelerateTrackers(["tensorboard", "mlflow"], mlflow_tracking_uri=store)
    again.on_train_begin(TrainState(global_step=2, max_steps=4), resumed)
    again.on_log(TrainState(global_step=3), {"train/loss": 30.0})
    again.on_train_end(TrainState(global_step=3), result_of(resumed, "completed"))

    assert json.loads((resumed.run_dir / MARKER).read_text())["mlflow"]["run_id"] == run_id
    assert client.get_run(run_id).info.status == "FINISHED"
    assert len(client.search_runs([client.get_experiment_by_name("direct").experiment_id])) == 1
    # TensorBoard hides what the first process logged after the checkpoint it resumed from
    assert scalars(tmp_path / "run" / TENSORBOARD_DIR, "train/loss") == [
        (1, 1.0), (2, 2.0), (3, 30.0)]


def test_an_mlflow_run_the_user_started_is_logged_into_and_left_open(tmp_path: Path,
                                                                     store: str) -> None:
    mlflow.set_tracking_uri(store)
    with mlflow.start_run() as user:
        run = context(tmp_path / "run", resumed=False)
        trackers = AccelerateTrackers(["mlflow"], mlflow_tracking_uri=store)
        trackers.on_train_begin(TrainState(max_steps=1), run)
        trackers.on_log(TrainState(global_step=1), {"train/loss": 1.5})
        trackers.on_train_end(TrainState(global_step=1), result_of(run, "completed"))
        assert mlflow.active_run().info.run_id == user.info.run_id
    client = mlflow.MlflowClient(tracking_uri=store)
    assert [m.value for m in client.get_metric_history(user.info.run_id, "train/loss")] == [1.5]
    assert client.get_run(user.info.run_id).data.params["training.x"] == "1"


def test_report_to_all_is_every_installed_tracker_with_wandb_once() -> None:
    config, _ = loader.resolve(BASE, ["tracking.report_to=all", "wandb.enabled=auto"])
    built = subscribers_for(loader.to_typed(config))
    [trackers] = [s for s in built if isinstance(s, AccelerateTrackers)]
    assert set(trackers.names) == {"tensorboard", "mlflow"}  # wandb is the W&B subscriber
    assert [type(s).__name__ for s in built].count("WandbCallback") == 1
    config, _ = loader.resolve(BASE, ["tracking.report_to=all", "wandb.enabled=false"])
    assert "WandbCallback" not in [type(s).__name__ for s in
                                   subscribers_for(loader.to_typed(config))]


def test_a_tracker_that_is_not_installed_fails_before_training_with_the_fix() -> None:
    config, _ = loader.resolve(BASE, ["tracking.report_to=[tensorboard,comet_ml]"])
    with pytest.raises(ConfigError, match=r"comet_ml, not installed here; `pip install comet_ml`"):
        subscribers_for(loader.to_typed(config))


def test_the_schema_knows_every_accelerate_tracker() -> None:
    assert set(REPORT_TO) == {"all", "none", *LOGGER_TYPE_TO_CLASS}


def test_the_registry_takes_the_metric_and_its_direction_from_the_config(tmp_path: Path) -> None:
    config, _ = loader.resolve(BASE, ["training.metric_for_best_model=eval_loss",
                                      "training.greater_is_better=false",
                                      "tracking.register_min_metric=1.0",
                                      "callbacks=[{name: tracker, db_path: listed.db}]"])
    built = subscribers_for(loader.to_typed(config))
    [tracker] = [s for s in built if isinstance(s, TrackerCallback)]
    assert tracker.db_path == Path("listed.db")  # listed in callbacks: not added again
    [registry] = [s for s in built if isinstance(s, RegistryCallback)]
    assert (registry.metric, registry.greater_is_better) == ("loss", False)
    run = context(tmp_path / "run", resumed=False)
    for loss, registered in ((0.5, True), (2.0, False)):
        result = result_of(run, "completed")
        result.best_metrics = {"loss": loss}
        assert registry._qualifies(result) is registered
