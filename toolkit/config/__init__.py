"""Config schema, layered loading and validation (imports neither torch nor the trainer)."""

from toolkit.config.loader import config_hash, merge_sweep_params, redact, resolve, to_typed
from toolkit.config.manager import ConfigManager, resolve_config
from toolkit.config.metrics import best_metric_name, metric_key
from toolkit.config.schema import Config

__all__ = ["Config", "ConfigManager", "best_metric_name", "config_hash", "merge_sweep_params",
           "metric_key", "redact", "resolve", "resolve_config", "to_typed"]
