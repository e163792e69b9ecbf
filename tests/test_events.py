"""The event bus: events and handlers, failure isolation, stop requests, order, main-process
filtering, and subscribers built from the config's `callbacks:` list."""

from __future__ import annotations

import inspect
import logging
import math

import pytest

from toolkit.errors import ConfigError
from toolkit.events import Callback, Event, EventBus, StopTraining
from toolkit.events.builtin import (
    EarlyStopping,
    LogFile,
    MetricsHistory,
    NanGuard,
    NonFiniteLossError,
    ProgressBar,
)
from toolkit.events.factory import build_subscribers
from toolkit.events.performance import PerformanceMonitor
from toolkit.state import TrainState


class Recorder(Callback):
    """Appends (name, event) to a shared list; optionally raises from on_log."""

    def __init__(self, name: str = "recorder", calls: list | None = None,
                 raises: BaseException | None = None, order: int = 50,
                 critical: bool = False, main_process_only: bool = True) -> None:
        self.name = name
        self.calls = [] if calls is None else calls
        self.raises = raises
        self.order = order
        self.critical = critical
        self.main_process_only = main_process_only

    def on_step_end(self, state: TrainState, lr: float) -> None:
        self.calls.append((self.name, "on_step_end"))

    def on_log(self, state: TrainState, metrics: dict[str, float]) -> None:
        self.calls.append((self.name, "on_log"))
        if self.raises is not None:
            raise self.raises


def bus_of(*subscribers: Callback, main: bool = True) -> EventBus:
    bus = EventBus(is_main_process=main)
    for subscriber in subscribers:
        bus.add(subscriber)
    return bus


def log(bus: EventBus, loss: float = 1.0) -> None:
    bus.emit(Event.LOG, TrainState(global_step=3), metrics={"train/loss": loss})


def test_events_are_exactly_the_callback_handlers() -> None:
    handlers = {name for name, _ in inspect.getmembers(Callback, inspect.isfunction)
                if name.startswith("on_")}
    assert {event.value for event in Event} == handlers
    for event in Event:
        assert next(iter(inspect.signature(getattr(Callback, event.value)).parameters)) == "self"


def test_a_failing_subscriber_is_reported_once_and_disabled(caplog: pytest.LogCaptureFixture
                                                            ) -> None:
    # caplog sees the record whether or not a training run has made the `toolkit` logger
    # non-propagating (pytest attaches its handler to non-propagating loggers too); forcing
    # propagation on top of that made the record arrive twice after an in-process run
    calls: list = []
    bus = bus_of(Recorder("bad", calls, raises=KeyError("boom")), Recorder("good", calls))
    with caplog.at_level(logging.WARNING):
        log(bus)
        log(bus)
    assert calls == [("bad", "on_log"), ("good", "on_log"), ("good", "on_log")]
    [record] = [r for r in caplog.records if "disabled" in r.getMessage()]
    assert "Recorder failed in on_log" in record.getMessage()
    assert "KeyError" in record.getMessage() and "boom" in record.getMessage()
    bus.emit(Event.STEP_END, TrainState(), lr=0.1)
    assert calls[-1] == ("good", "on_step_end") and ("bad", "on_step_end") not in calls


def test_a_critical_subscriber_error_propagates() -> None:
    calls: list = []
    bus = bus_of(Recorder("critical", calls, raises=RuntimeError("stop"), critical=True),
                 Recorder("later", calls))
    with pytest.raises(RuntimeError, match="stop"):
        log(bus)
    assert calls == [("critical", "on_log")]


def test_stop_training_becomes_a_stop_request_after_every_subscriber_ran() -> None:
    calls: list = []
    first, second = StopTraining("first"), StopTraining("second")
    bus = bus_of(Recorder("a", calls, raises=first), Recorder("b", calls, raises=second),
                 Recorder("c", calls))
    log(bus)
    assert bus.control.should_training_stop and bus.control.stop_reason == "first"
    assert [name for name, _ in calls] == ["a", "b", "c"]
    log(bus)  # a stop request disables no one
    assert len(calls) == 6


def test_dispatch_follows_order_then_registration() -> None:
    calls: list = []
    bus = bus_of(Recorder("logger", calls, order=100), Recorder("producer", calls, order=0),
                 Recorder("first50", calls), Recorder("second50", calls))
    log(bus)
    assert [name for name, _ in calls] == ["producer", "first50", "second50", "logger"]


def test_the_builtin_orders_put_producers_first_and_loggers_last() -> None:
    assert PerformanceMonitor.order < NanGuard.order < MetricsHistory.order
    assert LogFile.order == MetricsHistory.order == 100


@pytest.mark.parametrize(("main", "expected"), [(True, ["everywhere", "main_only"]),
                                                (False, ["everywhere"])])
def test_main_process_only_subscribers_skip_other_ranks(main: bool, expected: list) -> None:
    calls: list = []
    bus = bus_of(Recorder("everywhere", calls, main_process_only=False),
                 Recorder("main_only", calls), main=main)
    log(bus)
    assert [name for name, _ in calls] == expected


def test_nan_guard_fails_the_run_on_a_non_finite_loss() -> None:
    bus = bus_of(NanGuard())
    log(bus, 2.0)
    with pytest.raises(NonFiniteLossError, match="training.learning_rate"):
        log(bus, math.nan)


def test_early_stopping_asks_to_stop_after_patience_evaluations() -> None:
    bus = bus_of(EarlyStopping(patience=2))
    state = TrainState(evals_since_improvement=1, best_metric=0.3, best_step=10)
    bus.emit(Event.EVALUATE, state, metrics={}, samples=[])
    assert not bus.control.should_training_stop
    state.evals_since_improvement = 2
    bus.emit(Event.EVALUATE, state, metrics={}, samples=[])
    assert bus.control.should_training_stop
    assert "no improvement in 2 evaluations" in bus.control.stop_reason


# ------------------------------------------------------------------- from the config
def test_builtin_names_and_options() -> None:
    built = build_subscribers(["progress", "log_file", "metrics_history", "nan_guard",
                               {"name": "performance", "spike_factor": 5.0},
                               {"name": "early_stopping", "patience": 2}])
    assert [type(s) for s in built] == [ProgressBar, LogFile, MetricsHistory, NanGuard,
                                        PerformanceMonitor, EarlyStopping]
    assert built[4].spike_factor == 5.0 and built[5].patience == 2


def test_a_module_class_path_is_imported_with_its_options() -> None:
    [built] = build_subscribers([{"name": "tests.test_events:Recorder", "order": 7}])
    assert isinstance(built, Recorder) and built.order == 7


@pytest.mark.parametrize(("entry", "fragments"), [
    ("early_stoping", ["unknown callback `early_stoping`", "did you mean `early_stopping`",
                       "package.module:ClassName"]),
    ({"name": "early_stopping", "patiense": 2},
     ["has no option `patiense`", "did you mean `patience`"]),
    ({"name": "early_stopping", "patience": 0}, ["patience must be >= 1"]),
    ("nope.missing:Thing", ["cannot be imported", "package.module:ClassName"]),
    ("toolkit.events:Thing", ["cannot be imported"]),
    ("toolkit.state:TrainState", ["is not a toolkit.events.Callback subclass"]),
])
def test_bad_entries_are_config_errors_that_suggest_the_fix(entry, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        build_subscribers([entry])
    [problem] = caught.value.problems
    for fragment in fragments:
        assert fragment in problem
