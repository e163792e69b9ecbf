"""The trial side of local pruning: a bus subscriber that reports each evaluation to the worker.

The sweep worker names a file in ``TOOLKIT_SWEEP_REPORT`` and the metric in
``TOOLKIT_SWEEP_METRIC``; the trial loads this subscriber through its `callbacks:` list and
appends one JSON line per event (main process only)::

    {"event": "begin", "run_dir": "...", "experiment_id": "exp_..."}
    {"event": "eval", "step": 40, "eval": 2, "value": 0.31}   # eval: evaluations so far

Without the environment variable it does nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.events.bus import AFTER_LOGGERS, Callback, RunContext

if TYPE_CHECKING:
    from toolkit.state import TrainState

REPORT_ENV = "TOOLKIT_SWEEP_REPORT"
METRIC_ENV = "TOOLKIT_SWEEP_METRIC"
REPORTER = "toolkit.sweep.reporter:SweepReporter"


class SweepReporter(Callback):
    """Appends the trial's start and every value of the sweep metric to the report file."""

    order = AFTER_LOGGERS  # the begin record carries the tracker's experiment id

    def __init__(self) -> None:
        path = os.environ.get(REPORT_ENV)
        self.path = Path(path) if path else None
        self.metric = os.environ.get(METRIC_ENV, "eval/rouge_combined_f1")
        self.evaluations = 0

    def _write(self, record: dict[str, Any]) -> None:
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")

    def on_train_begin(self, state: TrainState, run: RunContext) -> None:
        self._write({"event": "begin", "run_dir": str(run.run_dir),
                     "experiment_id": run.shared.get("experiment_id")})

    def on_evaluate(self, state: TrainState, metrics: dict[str, float],
                    samples: list[dict[str, str]]) -> None:
        self.evaluations += 1
        if self.metric in metrics:
            self._write({"event": "eval", "step": state.global_step, "eval": self.evaluations,
                         "value": metrics[self.metric]})
