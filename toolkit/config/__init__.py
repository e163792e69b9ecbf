"""Config schema, layered loading and validation."""

from toolkit.config.loader import config_hash, merge_sweep_params, redact, resolve, to_typed
from toolkit.config.manager import ConfigManager
from toolkit.config.schema import Config

__all__ = ["Config", "ConfigManager", "config_hash", "merge_sweep_params", "redact", "resolve",
           "to_typed"]
