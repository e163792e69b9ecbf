"""`tracking.report_to` through Accelerate's trackers (TensorBoard, MLflow, Comet, Aim, ...).

Each name becomes Accelerate's GeneralTracker of that name, built and started as
``Accelerator.init_trackers`` would, on the main process only. Every logged metric goes to every
tracker under the toolkit's names (``train/loss``, ``eval/rouge_combined_f1``) at the global step;
the resolved config, flattened to ``section.key``, is stored as hyperparameters once.

A resumed training run continues its runs: TensorBoard writes into ``<run dir>/tensorboard``
again, dropping the events logged after the checkpoint's step; MLflow reopens the run whose id
``<run dir>/trackers.json`` keeps. An MLflow run the user started (``mlflow.start_run()``) is
logged into and left open, as with W&B.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.events.bus import LOGGER, Callback, RunContext

if TYPE_CHECKING:
    from accelerate.tracking import GeneralTracker

    from toolkit.state import TrainingResult, TrainState

MARKER = "trackers.json"  # in the run dir: the tracker runs a resumed training run continues
TENSORBOARD_DIR = "tensorboard"


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"training": {"learning_rate": 1e-4}}` -> `{"training.learning_rate": 1e-4}`; lists as
    JSON text (trackers take scalars only)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = json.dumps(value) if isinstance(value, list) else value
    return flat


class AccelerateTrackers(Callback):
    """Logs metrics and the config to Accelerate's trackers; registers best/ in MLflow."""

    order = LOGGER

    def __init__(self, trackers: list[str], mlflow_tracking_uri: str | None = None,
                 register_model: bool = False, model_name: str | None = None):
        from accelerate.tracking import LOGGER_TYPE_TO_CLASS, get_available_trackers

        installed = {str(t) for t in get_available_trackers()}
        unknown = [n for n in trackers if n not in LOGGER_TYPE_TO_CLASS]
        missing = [n for n in trackers if n in LOGGER_TYPE_TO_CLASS and n not in installed]
        if unknown:
            raise ValueError(f"unknown tracker(s) {', '.join(unknown)}; Accelerate's are "
                             f"{', '.join(LOGGER_TYPE_TO_CLASS)}")
        if missing:
            raise ValueError(f"tracking.report_to names {', '.join(missing)}, not installed here; "
                             f"`pip install {' '.join(missing)}` (or the toolkit's `trackers` "
                             f"extra), or remove it from tracking.report_to")
        self.names = list(trackers)
        self.mlflow_tracking_uri = mlflow_tracking_uri
        self.register_model = register_model
        self.model_name = model_name
        self.trackers: dict[str, GeneralTracker] = {}
        self.owned: set[str] = set()  # started here, so finished here
        self.run: RunContext | None = None

    # ---------------------------------------------------------------------- start
    def on_train_begin(self, state: TrainState, run: RunContext) -> None:
        self.run = run
        previous = _read_marker(run.run_dir) if run.resumed else {}
        continued: set[str] = set()
        for name in self.names:
            tracker, continues = self._start(name, state, run, previous.get(name) or {})
            self.trackers[name] = tracker
            if continues:
                continued.add(name)
        params = flatten(run.config)
        for name, tracker in self.trackers.items():
            if name not in continued:  # a continued run has them (MLflow refuses changes)
                tracker.store_init_configuration(params)
        (run.run_dir / MARKER).write_text(json.dumps(self._marker(), indent=2) + "\n",
                                          encoding="utf-8")

    def _start(self, name: str, state: TrainState, run: RunContext, previous: dict[str, Any]
               ) -> tuple[GeneralTracker, bool]:
        """(started tracker, whether it continues an earlier run of this training run)."""
        from accelerate.tracking import LOGGER_TYPE_TO_CLASS, MLflowTracker, TensorBoardTracker

        if name == "tensorboard":
            # a resumed run hides what was logged after the checkpoint (SummaryWriter purge_step)
            kwargs = {"purge_step": state.global_step + 1} if run.resumed else {}
            tracker = TensorBoardTracker(TENSORBOARD_DIR, run.run_dir, **kwargs)
            continues = run.resumed
        elif name == "mlflow":
            import mlflow

            if self.mlflow_tracking_uri:
                mlflow.set_tracking_uri(self.mlflow_tracking_uri)
            tracker = MLflowTracker(run.experiment_name, run_id=previous.get("run_id"),
                                    run_name=run.run_dir.name,
                                    tags={"toolkit.run_dir": str(run.run_dir)})
            continues = bool(previous.get("run_id"))
            if mlflow.active_run() is not None and not continues:  # the user's own run
                tracker.active_run = mlflow.active_run()
                return tracker, False
        else:
            cls = LOGGER_TYPE_TO_CLASS[name]
            directory = (run.run_dir / name,) if cls.requires_logging_directory else ()
            tracker, continues = cls(run.experiment_name, *directory), False
        tracker.start()
        self.owned.add(name)
        return tracker, continues

    def _marker(self) -> dict[str, Any]:
        if "mlflow" not in self.trackers:
            return {}
        return {"mlflow": {"run_id": self.trackers["mlflow"].active_run.info.run_id}}

    # -------------------------------------------------------------------- metrics
    def _log(self, state: TrainState, metrics: dict[str, float]) -> None:
        for tracker in self.trackers.values():
            tracker.log(metrics, step=state.global_step)

    def on_log(self, state: TrainState, metrics: dict[str, float]) -> None:
        self._log(state, metrics)

    def on_evaluate(self, state: TrainState, metrics: dict[str, float],
                    samples: list[dict[str, str]]) -> None:
        self._log(state, metrics)

    # ------------------------------------------------------------------------ end
    def on_train_end(self, state: TrainState, result: TrainingResult) -> None:
        if self.register_model and "mlflow" in self.trackers and result.status == "completed":
            self.run.shared["mlflow_model_version"] = self._register_best(result.model_path)
        self._finish("KILLED" if result.status == "interrupted" else "FINISHED")

    def on_exception(self, state: TrainState, error: BaseException) -> None:
        self._finish("FAILED")

    def _finish(self, mlflow_status: str) -> None:
        if "mlflow" in self.owned:  # Accelerate's finish() always ends it FINISHED
            import mlflow

            mlflow.end_run(status=mlflow_status)
        for name, tracker in self.trackers.items():
            if name in self.owned:
                tracker.finish()
        self.trackers.clear()

    def _register_best(self, model_path: str) -> str:
        """best/ as the run's `best` artifacts, then a new version of the registered model."""
        import mlflow
        from mlflow.exceptions import MlflowException

        run_id = self.trackers["mlflow"].active_run.info.run_id
        name = self.model_name or self.run.experiment_name
        mlflow.log_artifacts(model_path, artifact_path="best")
        client = mlflow.MlflowClient()
        try:
            client.create_registered_model(name)
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        version = client.create_model_version(name, source=mlflow.get_artifact_uri("best"),
                                              run_id=run_id)
        return str(version.version)


def _read_marker(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((run_dir / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
