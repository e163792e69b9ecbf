"""Subscribers from the config: the `callbacks:` list (built-in names or `module:Class` paths)
plus what `tracking` and `wandb` expand into, and the one adapter for objects added in code.

The trainer calls only :func:`subscribers_for` and :func:`as_subscriber`; it imports no
subscriber itself.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from toolkit.config.metrics import best_metric_name
from toolkit.errors import ConfigError, ToolkitError
from toolkit.events.bus import Callback

if TYPE_CHECKING:
    from toolkit.config.schema import Config

ACCEPTED = "a toolkit.events.Callback or a transformers.TrainerCallback (class or instance)"


def builtin_subscribers() -> dict[str, Callable[..., Callback]]:
    from toolkit.events import builtin
    from toolkit.events.performance import PerformanceMonitor
    from toolkit.integrations.trackers import AccelerateTrackers
    from toolkit.integrations.wandb_callback import WandbCallback
    from toolkit.tracking.subscribers import RegistryCallback, TrackerCallback

    return {"progress": builtin.ProgressBar, "log_file": builtin.LogFile,
            "metrics_history": builtin.MetricsHistory, "early_stopping": builtin.EarlyStopping,
            "nan_guard": builtin.NanGuard, "performance": PerformanceMonitor,
            "tracker": TrackerCallback, "registry": RegistryCallback, "wandb": WandbCallback,
            "accelerate_trackers": AccelerateTrackers}


def _import(path: str) -> Callable[..., Any]:
    module_name, _, attr = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as error:
        raise ConfigError([f"callback `{path}` cannot be imported ({error}); give "
                           f"`package.module:ClassName` importable from this environment"]) from None


def _hf_callback_type() -> type | None:
    """transformers' TrainerCallback if transformers is loaded (nothing else can subclass it)."""
    module = sys.modules.get("transformers.trainer_callback")
    return getattr(module, "TrainerCallback", None)


def as_subscriber(obj: Any) -> Callback:
    """A toolkit Callback as is; a transformers TrainerCallback (class or instance) adapted."""
    if isinstance(obj, Callback):
        return obj
    hf = _hf_callback_type()
    if hf is not None and isinstance(obj, type) and issubclass(obj, hf):
        obj = obj()  # the Trainer's add_callback takes a class too
    if hf is not None and isinstance(obj, hf):
        from toolkit.integrations.hf_callbacks import HFCallbackAdapter

        return HFCallbackAdapter(obj)
    raise ToolkitError(f"{type(obj).__name__} is not a callback: add_callback takes {ACCEPTED}; "
                       f"subclass toolkit.events.Callback and override the handlers you need")


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
    takes_any = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
    for option in options:
        if option not in accepted and not takes_any:
            close = difflib.get_close_matches(option, list(accepted), n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            raise ConfigError([f"callback `{name}` has no option `{option}`{hint}; its options "
                               f"are: {', '.join(accepted) or 'none'}"])
    try:
        built = factory(**options)
    except (TypeError, ValueError) as error:
        raise ConfigError([f"callback `{name}`: {error}"]) from None
    try:
        return as_subscriber(built)
    except ToolkitError:
        raise ConfigError([f"callback `{name}` is not a toolkit.events.Callback subclass; "
                           f"give {ACCEPTED}"]) from None


def build_subscribers(entries: list[str | dict[str, Any]]) -> list[Callback]:
    return [build_one(entry) for entry in entries]


# ------------------------------------------------------------------ config expansion
def active_wandb_run() -> bool:
    """A W&B run the user started in this process (no import: without wandb loaded, none)."""
    module = sys.modules.get("wandb")
    return getattr(module, "run", None) is not None


def report_to(cfg: Config) -> list[str]:
    """`tracking.report_to` resolved: `all` is every installed tracker, `none` is none."""
    names = [name for name in cfg.tracking.report_to if name != "none"]
    if "all" in names:
        from accelerate.tracking import get_available_trackers

        names = [str(t) for t in get_available_trackers()]
        if cfg.wandb.enabled is False:  # false still turns W&B off
            names = [name for name in names if name != "wandb"]
    return list(dict.fromkeys(names))


def expand(cfg: Config) -> list[dict[str, Any]]:
    """The `callbacks:` entries that `tracking` and `wandb` stand for.

    `wandb` in `tracking.report_to` means the W&B subscriber (its tables, artifacts and run
    resume), never Accelerate's W&B tracker as well, so a run is logged to W&B once.
    """
    entries: list[dict[str, Any]] = []
    tr, wb = cfg.tracking, cfg.wandb
    if tr.enabled:
        entries.append({"name": "tracker", "db_path": tr.db_path, "tags": cfg.meta.tags})
        if tr.register_model:
            entries.append({"name": "registry", "db_path": tr.db_path,
                            "model_name": tr.model_name, "min_metric": tr.register_min_metric,
                            "metric": best_metric_name(cfg),
                            "greater_is_better": cfg.training.greater_is_better})
    trackers = report_to(cfg)
    if wb.enabled is True or "wandb" in trackers or (wb.enabled == "auto" and active_wandb_run()):
        entries.append({"name": "wandb", "project": wb.project, "entity": wb.entity,
                        "run_name": wb.name, "group": wb.group,
                        "tags": list(dict.fromkeys([*cfg.meta.tags, *wb.tags])),
                        "mode": wb.mode, "log_predictions": wb.log_predictions,
                        "log_model": wb.log_model})
    others = [name for name in trackers if name != "wandb"]
    if others:
        entries.append({"name": "accelerate_trackers", "trackers": others,
                        "mlflow_tracking_uri": tr.mlflow_tracking_uri,
                        "register_model": tr.mlflow_register_model,
                        "model_name": tr.model_name})
    return entries


def subscribers_for(cfg: Config) -> list[Callback]:
    """The `callbacks:` list, then what the config expands into (unless listed there too)."""
    listed = {entry["name"] if isinstance(entry, dict) else entry for entry in cfg.callbacks}
    expanded = [entry for entry in expand(cfg) if entry["name"] not in listed]
    return build_subscribers([*cfg.callbacks, *expanded])
