"""The event bus and its built-in subscribers."""

from toolkit.events.bus import Callback, Control, Event, EventBus, RunContext, StopTraining

__all__ = ["Callback", "Control", "Event", "EventBus", "RunContext", "StopTraining"]
