"""Dialogue-summarization training toolkit: a hand-written Accelerate loop, an event bus,
experiment tracking, a model registry and sweeps.

The names below load on first use, so ``import toolkit.config`` (validating a config, a sweep
file) never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Callback": "toolkit.events",
    "Event": "toolkit.events",
    "StopTraining": "toolkit.events",
    "ConfigManager": "toolkit.config",
    "TrainingResult": "toolkit.state",
    "DialogueSummarizationTrainer": "toolkit.engine.trainer",
    "create_trainer": "toolkit.engine.trainer",
    "compute_rouge": "toolkit.evaluation.rouge",
}
__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'toolkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
