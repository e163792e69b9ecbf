"""Subscribers from the config's `callbacks:` list: built-in names or `module:Class` paths."""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable
from typing import Any

from toolkit.errors import ConfigError
from toolkit.events.bus import Callback


def builtin_subscribers() -> dict[str, Callable[..., Callback]]:
    from toolkit.events import builtin
    from toolkit.events.performance import PerformanceMonitor

    return {"progress": builtin.ProgressBar, "log_file": builtin.LogFile,
            "metrics_history": builtin.MetricsHistory, "early_stopping": builtin.EarlyStopping,
            "nan_guard": builtin.NanGuard, "performance": PerformanceMonitor}


def _import(path: str) -> Callable[..., Callback]:
    module_name, _, attr = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as error:
        raise ConfigError([f"callback `{path}` cannot be imported ({error}); give "
                           f"`package.module:ClassName` importable from this environment"]) from None


def build_one(entry: str | dict[str, Any]) -> Callback:
    """One subscriber; unknown names and options are errors that suggest the closest valid."""
    options = dict(entry) if isinstance(entry, dict) else {"name": entry}
    name = options.pop("name")
    known = builtin_subscribers()
    if ":" in name:
        factory = _import(name)
    elif name in known:
        factory = known[name]
    else:
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        raise ConfigError([f"unknown callback `{name}`{hint}; built-in callbacks are "
                           f"{', '.join(known)}, or give `package.module:ClassName`"])
    accepted = inspect.signature(factory).parameters
    for option in options:
        if option not in accepted:
            close = difflib.get_close_matches(option, list(accepted), n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            raise ConfigError([f"callback `{name}` has no option `{option}`{hint}; its options "
                               f"are: {', '.join(accepted) or 'none'}"])
    try:
        subscriber = factory(**options)
    except (TypeError, ValueError) as error:
        raise ConfigError([f"callback `{name}`: {error}"]) from None
    if not isinstance(subscriber, Callback):
        raise ConfigError([f"callback `{name}` is not a toolkit.events.Callback subclass"])
    return subscriber


def build_subscribers(entries: list[str | dict[str, Any]]) -> list[Callback]:
    return [build_one(entry) for entry in entries]
