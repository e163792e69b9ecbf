"""Weights & Biases from the event bus (main process only).

One W&B run per training run, or the user's own: when ``wandb.run`` already exists (the seed's
examples call ``wandb.init`` first) the subscriber logs into it and leaves it open. A resumed
training run continues its W&B run (the id is kept in ``<run dir>/wandb.json``). Metrics go to
``wandb.log`` with ``train/global_step`` as their x-axis; the best evaluation goes to the run
summary under ``eval/<name>``, ``best/<name>`` and the flat ``<name>`` a W&B sweep's metric
names. ``wandb.mode: online`` (the default) defers to a ``WANDB_MODE`` set in the environment.

A sweep agent that keeps the trial's W&B run open itself sets ``TOOLKIT_WANDB_SHARED_RUN`` to
its id: the trial then joins that run as a secondary writer (W&B's shared mode) and leaves the
run's final state to the agent.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.events.bus import LOGGER, Callback, RunContext

if TYPE_CHECKING:
    from toolkit.state import TrainingResult, TrainState

MARKER = "wandb.json"  # in the run dir: the W&B run a resumed training run continues
SHARED_RUN_ENV = "TOOLKIT_WANDB_SHARED_RUN"
STEP_KEY = "train/global_step"
COLUMNS = ["input", "prediction", "reference"]


class WandbCallback(Callback):
    """Logs metrics, the best evaluation, prediction tables and (optionally) the model."""

    order = LOGGER

    def __init__(self, project: str = "dialogue-summarization", entity: str | None = None,
                 run_name: str | None = None, group: str | None = None,
                 tags: list[str] | None = None, mode: str = "online",
                 log_predictions: bool = True, log_model: bool = False):
        self.project = project
        self.entity = entity
        self.run_name = run_name
        self.group = group
        self.tags = list(tags or [])
        self.mode = mode
        self.log_predictions = log_predictions
        self.log_model = log_model
        self.wb = None  # the wandb Run
        self.owned = False  # started here, so finished here
        self.run: RunContext | None = None

    # ---------------------------------------------------------------------- start
    def _init_kwargs(self, run: RunContext) -> dict[str, Any]:
        import wandb

        kwargs: dict[str, Any] = {
            "project": self.project, "entity": self.entity,
            "name": self.run_name or run.run_dir.name, "group": self.group,
            "tags": self.tags or None, "mode": self._mode(), "config": run.config,
            "dir": str(run.run_dir),
        }
        shared = os.environ.get(SHARED_RUN_ENV)
        previous = _read_marker(run.run_dir) if run.resumed else None
        if shared:
            kwargs.update(id=shared, mode="shared", name=None, group=None, tags=None,
                          project=os.environ.get("WANDB_PROJECT", self.project),
                          entity=os.environ.get("WANDB_ENTITY", self.entity),
                          settings=wandb.Settings(x_primary=False, x_update_finish_state=False,
                                                  x_label=f"rank{run.process_index}"))
        elif previous:
            kwargs.update(id=previous, resume="allow")
        return {k: v for k, v in kwargs.items() if v is not None}

    def _mode(self) -> str:
        """`online` (the default) defers to WANDB_MODE, W&B's switch on offline clusters."""
        if self.mode != "online":
            return self.mode
        return os.environ.get("WANDB_MODE") or self.mode

    def on_train_begin(self, state: TrainState, run: RunContext) -> None:
        import wandb

        self.run = run
        if wandb.run is not None:
            self.wb, self.owned = wandb.run, False
            self.wb.config.update(run.config, allow_val_change=True)
        else:
            self.wb, self.owned = wandb.init(**self._init_kwargs(run)), True
        self.wb.define_metric(STEP_KEY)
        for pattern in ("train/*", "eval/*"):
            self.wb.define_metric(pattern, step_metric=STEP_KEY)
        self.wb.summary["run_dir"] = str(run.run_dir)
        if not self.wb.disabled:  # a disabled run has no real id
            run.shared["wandb_run_id"] = self.wb.id
            (run.run_dir / MARKER).write_text(json.dumps({"id": self.wb.id}) + "\n",
                                              encoding="utf-8")

    # -------------------------------------------------------------------- metrics
    def _log(self, state: TrainState, data: dict[str, Any]) -> None:
        # No `step=`: W&B drops rows whose step is below its own counter, which a user's
        # `wandb.log` (an HF callback's, the seed's examples) advances. The x-axis is STEP_KEY.
        self.wb.log({STEP_KEY: state.global_step, **data})

    def on_log(self, state: TrainState, metrics: dict[str, float]) -> None:
        self._log(state, metrics)

    def on_evaluate(self, state: TrainState, metrics: dict[str, float],
                    samples: list[dict[str, str]]) -> None:
        import wandb

        data: dict[str, Any] = dict(metrics)
        if self.log_predictions and samples:
            rows = [[s["input"], s["prediction"], s["reference"]] for s in samples]
            data["eval/predictions"] = wandb.Table(columns=COLUMNS, data=rows)
        self._log(state, data)
        self._summarize_best(state)

    def _summarize_best(self, state: TrainState) -> None:
        best = {k.removeprefix("best/"): v for k, v in state.last_metrics.items()
                if k.startswith("best/")}
        summary: dict[str, Any] = {}
        for name, value in best.items():
            summary.update({f"best/{name}": value, f"eval/{name}": value, name: value})
        if state.best_step is not None:
            summary["best/step"] = state.best_step
        if summary:
            self.wb.summary.update(summary)

    # ------------------------------------------------------------------------ end
    def on_train_end(self, state: TrainState, result: TrainingResult) -> None:
        if self.wb is None:
            return
        if self.log_model:
            self._log_model(result)
        if self.owned:
            if result.status == "interrupted":
                self.wb.mark_preempting()  # it will be resumed
            self.wb.finish()
        self.wb = None

    def _log_model(self, result: TrainingResult) -> None:
        import wandb

        name = re.sub(r"[^\w.-]", "-", f"{self.run.experiment_name}-model")
        artifact = wandb.Artifact(name=name, type="model",
                                  metadata={"best_metrics": result.best_metrics,
                                            "best_step": result.best_step,
                                            "run_dir": result.run_dir})
        artifact.add_dir(result.model_path)
        self.wb.log_artifact(artifact, aliases=["best", "latest"])

    def on_exception(self, state: TrainState, error: BaseException) -> None:
        if self.wb is not None and self.owned:
            self.wb.finish(exit_code=1)
        self.wb = None


def _read_marker(run_dir: Path) -> str | None:
    try:
        return json.loads((run_dir / MARKER).read_text(encoding="utf-8"))["id"]
    except (OSError, KeyError, TypeError, ValueError):
        return None
