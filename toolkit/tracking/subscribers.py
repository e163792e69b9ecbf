"""Bus subscribers that record the run in the tracking database and register its model.

A database failure (locked too long, disk full, unwritable path) must never stop training:
each subscriber reports the first one with a single warning and then stays silent.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from toolkit.errors import ToolkitError
from toolkit.events.bus import LOGGER, Callback, RunContext
from toolkit.tracking.db import DEFAULT_DB_PATH, NotFoundError
from toolkit.tracking.registry import ModelRegistry
from toolkit.tracking.tracker import ExperimentTracker

if TYPE_CHECKING:
    from toolkit.state import TrainingResult, TrainState

# what the registry records about the model's size and adapter (toolkit.models.adapters)
PARAMETER_KEYS = ("num_parameters", "trainable_parameters", "torch_dtype", "adapter")
logger = logging.getLogger(__name__)

TRACKING_FILE = "tracking.json"  # in the run dir: which experiment a resumed run continues
HEARTBEAT_EVERY_S = 60.0

T = TypeVar("T")


class _DatabaseSubscriber(Callback):
    """Runs its database work through :meth:`_guard`: the first failure warns and disables."""

    order = LOGGER

    def __init__(self, db_path: str | Path):
        self.db_path = Path(db_path)
        self.disabled = False
        self.run: RunContext | None = None

    def _guard(self, action: Callable[[], T]) -> T | None:
        if self.disabled:
            return None
        try:
            return action()
        except (ToolkitError, sqlite3.Error, OSError) as error:
            self.disabled = True
            logger.warning(
                "%s is off for the rest of this run; training continues. %s",
                type(self).__name__, error,
            )
            return None


class TrackerCallback(_DatabaseSubscriber):
    """Records the run as an experiment: start, metrics, heartbeat, W&B run id, the end."""

    def __init__(self, db_path: str | Path = DEFAULT_DB_PATH, tags: list[str] | None = None):
        super().__init__(db_path)
        self.tags = tags
        self.tracker: ExperimentTracker | None = None
        self.experiment_id: str | None = None
        self._wandb_run_id: str | None = None
        self._last_beat = 0.0

    def on_train_begin(self, state: TrainState, run: RunContext) -> None:
        self.run = run
        self._guard(self._begin)

    def on_step_end(self, state: TrainState, lr: float) -> None:
        # Between logs and evaluations the heartbeat still says the process is alive.
        if self.experiment_id and time.monotonic() - self._last_beat > HEARTBEAT_EVERY_S:
            self._guard(self._beat)

    def on_log(self, state: TrainState, metrics: dict[str, float]) -> None:
        self._record(state, metrics)

    def on_evaluate(
        self, state: TrainState, metrics: dict[str, float], samples: list[dict[str, str]]
    ) -> None:
        self._record(state, metrics)

    def on_train_end(self, state: TrainState, result: TrainingResult) -> None:
        if self.experiment_id is None:
            return
        result.experiment_id = self.experiment_id
        self._guard(self._store_wandb_run_id)
        self._guard(lambda: self.tracker.end_experiment(
            self.experiment_id, final_metrics=result.final_metrics,
            best_metrics=result.best_metrics, status=result.status,
        ))

    def on_exception(self, state: TrainState, error: BaseException,
                     run: RunContext | None = None) -> None:
        """Record the run `failed`; one that failed in setup (before train begin) is created
        here first when the trainer passes its RunContext."""
        if self.experiment_id is None and run is not None:
            self.run = run
            self._guard(self._begin)
        if self.experiment_id is None:
            return
        self._guard(lambda: self.tracker.update_experiment_status(
            self.experiment_id, "failed", notes=f"{type(error).__name__}: {error}"
        ))

    def _begin(self) -> None:
        run = self.run
        self.tracker = ExperimentTracker(self.db_path)
        self.experiment_id = self._resume(run) or self._start(run)
        self._last_beat = time.monotonic()
        run.run_dir.mkdir(parents=True, exist_ok=True)
        marker = {"experiment_id": self.experiment_id}
        (run.run_dir / TRACKING_FILE).write_text(json.dumps(marker) + "\n", encoding="utf-8")
        run.shared["experiment_id"] = self.experiment_id
        self._store_wandb_run_id()

    def _resume(self, run: RunContext) -> str | None:
        """The experiment a resumed run continues, set running again; None to start anew."""
        marker = run.run_dir / TRACKING_FILE
        if not (run.resumed and marker.is_file()):
            return None
        try:
            experiment_id = json.loads(marker.read_text(encoding="utf-8"))["experiment_id"]
            self.tracker.resume_experiment(experiment_id)
        except (ValueError, KeyError, TypeError, NotFoundError) as error:
            logger.warning("Cannot continue the experiment in %s (%s); starting a new one.",
                           marker, error)
            return None
        return experiment_id

    def _start(self, run: RunContext) -> str:
        meta = run.config.get("meta") or {}
        self._wandb_run_id = run.shared.get("wandb_run_id")
        return self.tracker.start_experiment(
            name=run.experiment_name,
            description=meta.get("description") or "",
            config=run.config,
            model_type=run.model_info.get("architecture"),
            dataset_info=run.dataset_info,
            model_info=run.model_info,
            wandb_run_id=self._wandb_run_id,
            tags=self.tags if self.tags is not None else meta.get("tags"),
            run_dir=run.run_dir,
            config_hash=run.config_hash or None,
        )

    def _record(self, state: TrainState, metrics: dict[str, Any]) -> None:
        if self.experiment_id is None:
            return
        self._guard(lambda: self.tracker.log_metrics(metrics, state.global_step, self.experiment_id))
        self._guard(self._beat)
        self._guard(self._store_wandb_run_id)

    def _beat(self) -> None:
        self.tracker.heartbeat(self.experiment_id)
        self._last_beat = time.monotonic()

    def _store_wandb_run_id(self) -> None:
        """A W&B subscriber may publish its run id after train begin; store it once it does."""
        wandb_run_id = self.run.shared.get("wandb_run_id")
        if wandb_run_id and wandb_run_id != self._wandb_run_id:
            self.tracker.set_wandb_run_id(self.experiment_id, wandb_run_id)
            self._wandb_run_id = wandb_run_id


class RegistryCallback(_DatabaseSubscriber):
    """Registers ``result.model_path`` when the run completed and its metric clears the bar.

    Add it after :class:`TrackerCallback`, whose experiment id it links to.
    """

    def __init__(
        self,
        db_path: str | Path = DEFAULT_DB_PATH,
        model_name: str | None = None,
        min_metric: float | None = None,
        metric: str = "rouge_combined_f1",
        greater_is_better: bool = True,
    ):
        super().__init__(db_path)
        self.model_name = model_name
        self.min_metric = min_metric
        self.metric = metric
        self.greater_is_better = greater_is_better

    def on_train_begin(self, state: TrainState, run: RunContext) -> None:
        self.run = run

    def on_train_end(self, state: TrainState, result: TrainingResult) -> None:
        if self.run is None or not self._qualifies(result):
            return
        model_id = self._guard(lambda: self._register(result))
        if model_id is not None:
            self.run.shared["model_id"] = model_id
            result.model_id = model_id

    def _qualifies(self, result: TrainingResult) -> bool:
        if result.status != "completed":
            return False
        if self.min_metric is None:
            return True
        value = result.best_metrics.get(self.metric)
        if isinstance(value, (int, float)) and (
                value >= self.min_metric if self.greater_is_better else value <= self.min_metric):
            return True
        logger.info(
            "Model not registered: best %s = %s does not reach %s (%s is better).", self.metric,
            value, self.min_metric, "higher" if self.greater_is_better else "lower",
        )
        return False

    def _register(self, result: TrainingResult) -> str:
        run = self.run
        training = run.config.get("training") or {}
        registry = ModelRegistry(self.db_path)
        known = registry.find_registered(result.model_path, run.shared.get("experiment_id"))
        if known is not None and known["performance"] == result.best_metrics:
            logger.info("Model %s (version %d) is this run's best/ already; not registered "
                        "again.", known["id"], known["version"])
            return known["id"]
        return registry.register_model(
            name=self.model_name or run.experiment_name,
            architecture=run.model_info["architecture"],
            checkpoint=run.model_info.get("checkpoint"),
            config=run.config,
            performance=result.best_metrics,
            training_info={
                "epochs": training.get("num_train_epochs"),
                "batch_size": training.get("per_device_train_batch_size"),
                "learning_rate": training.get("learning_rate"),
                "global_step": result.global_step,
                **{key: run.model_info[key] for key in PARAMETER_KEYS if key in run.model_info},
            },
            file_path=result.model_path,
            experiment_id=run.shared.get("experiment_id"),
        )
