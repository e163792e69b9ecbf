"""The event bus and its built-in subscribers."""

from toolkit.events.bus import Callback, Event, EventBus, RunContext, StopTraining

__all__ = ["Callback", "Event", "EventBus", "RunContext", "StopTraining"]
