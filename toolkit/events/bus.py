"""The event bus: a closed set of events, subscribers that implement only what they need.

Where each event fires in the loop (``engine/loop.py``)::

    on_train_begin(state, run)                    # after setup and resume, before the first step
    for epoch in epochs:
        on_epoch_begin(state)
        for batch in batches:
            ... forward, backward, (on a sync step) clip, optimizer step, scheduler step ...
            on_step_end(state, lr)                # after every optimizer step
            on_log(state, metrics)                # every logging_steps: {"train/loss": ..., ...}
            on_evaluate(state, metrics, samples)  # every eval_steps (or epoch): {"eval/...": ...}
            on_save(state, checkpoint_dir)        # after a checkpoint is committed
        on_epoch_end(state)
    on_train_end(state, result)                   # result: TrainingResult, status completed/interrupted
    on_exception(state, error[, run])             # instead of on_train_end when the run fails
                                                  # (run: only when it failed before train begin)

Subscribers read the state; only the loop changes it. A subscriber asks the loop to stop by
raising :class:`StopTraining`. A non-critical subscriber that raises anything else is reported
once and disabled; a critical one (early stopping, NaN guard) propagates its error.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolkit.state import TrainState

logger = logging.getLogger(__name__)

# Dispatch phases (Callback.order): producers add to a log's metrics, guards and stoppers read
# them, loggers record the same dict; AFTER_LOGGERS sees what loggers shared (a tracker id).
PRODUCER = 0
GUARD = 50
LOGGER = 100
AFTER_LOGGERS = 110


class Event(str, Enum):
    """Every event the loop emits; the value is the handler's method name."""

    TRAIN_BEGIN = "on_train_begin"
    EPOCH_BEGIN = "on_epoch_begin"
    STEP_END = "on_step_end"
    LOG = "on_log"
    EVALUATE = "on_evaluate"
    SAVE = "on_save"
    EPOCH_END = "on_epoch_end"
    TRAIN_END = "on_train_end"
    EXCEPTION = "on_exception"


class StopTraining(Exception):
    """Raised by a subscriber to end training cleanly after the current step."""


@dataclass
class Control:
    """Requests the loop honours after the current optimizer step, agreed by every process.

    A subscriber sets them through ``run.control`` (kept from ``on_train_begin``) or, for a
    stop, by raising :class:`StopTraining`; the loop clears ``should_save`` once it has saved.
    """

    should_training_stop: bool = False
    should_save: bool = False
    stop_reason: str = ""

    def request_stop(self, reason: str) -> None:
        if not self.should_training_stop:
            self.should_training_stop, self.stop_reason = True, reason


@dataclass
class RunContext:
    """What a subscriber may know about the run; fixed at train begin."""

    run_dir: Path
    experiment_name: str
    config: dict[str, Any]  # the resolved config, secrets redacted
    config_hash: str
    is_main_process: bool = True
    process_index: int = 0
    num_processes: int = 1
    resumed: bool = False
    model_info: dict[str, Any] = field(default_factory=dict)
    dataset_info: dict[str, Any] = field(default_factory=dict)
    control: Control = field(default_factory=Control)  # the bus's: stop and save requests
    # Filled by subscribers for each other (tracker id, W&B run id); the loop never reads them.
    shared: dict[str, Any] = field(default_factory=dict)


class Callback:
    """Base class of subscribers: override the handlers you need, leave the rest.

    ``critical = True`` lets the subscriber's errors stop the run; ``main_process_only = True``
    (the default) delivers events only on the main process. ``order`` is the dispatch phase:
    PRODUCER, GUARD (the default), LOGGER or AFTER_LOGGERS, so every logger records the same
    metrics dict.
    """

    critical: bool = False
    main_process_only: bool = True
    order: int = GUARD

    def on_train_begin(self, state: TrainState, run: RunContext) -> None: ...
    def on_epoch_begin(self, state: TrainState) -> None: ...
    def on_step_end(self, state: TrainState, lr: float) -> None: ...
    def on_log(self, state: TrainState, metrics: dict[str, float]) -> None: ...
    def on_evaluate(
        self, state: TrainState, metrics: dict[str, float], samples: list[dict[str, str]]
    ) -> None: ...
    def on_save(self, state: TrainState, checkpoint_dir: Path) -> None: ...
    def on_epoch_end(self, state: TrainState) -> None: ...
    def on_train_end(self, state: TrainState, result: Any) -> None: ...
    def on_exception(self, state: TrainState, error: BaseException,
                     run: RunContext | None = None) -> None: ...


def _accepted(handler: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload without the optional `run` of on_exception when the handler takes none
    (it comes only when the run failed before on_train_begin, for subscribers that record it)."""
    if "run" not in payload or "run" in inspect.signature(handler).parameters:
        return payload
    return {k: v for k, v in payload.items() if k != "run"}


class EventBus:
    """Dispatches events by `order`, then registration order; loggers come last."""

    def __init__(self, is_main_process: bool = True):
        self.is_main_process = is_main_process
        self.subscribers: list[Callback] = []
        self.disabled: set[int] = set()
        self.control = Control()

    def add(self, subscriber: Callback) -> None:
        self.subscribers.append(subscriber)
        self.subscribers.sort(key=lambda s: s.order)  # stable: equal orders keep insertion order

    def emit(self, event: Event, state: TrainState, **payload: Any) -> None:
        """Call every enabled subscriber; a StopTraining becomes ``control.request_stop``."""
        for subscriber in self.subscribers:
            if id(subscriber) in self.disabled or (subscriber.main_process_only and not self.is_main_process):
                continue
            handler = getattr(subscriber, event.value)
            try:
                handler(state, **_accepted(handler, payload))
            except StopTraining as request:
                self.control.request_stop(str(request) or type(subscriber).__name__)
            except Exception as error:
                if subscriber.critical:
                    raise
                self.disabled.add(id(subscriber))
                logger.warning(
                    "Subscriber %s failed in %s and is now disabled: %s: %s",
                    type(subscriber).__name__, event.value, type(error).__name__, error,
                )
