"""ConfigManager: the seed's name for loading and merging configs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from toolkit.config import loader


class ConfigManager:
    """Loads configs with every layer applied and remembers where each value came from."""

    def __init__(self) -> None:
        self.origins: loader.Origins = {}

    def load_config(self, path: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
        """defaults < file (with `inherit`) < environment < `section.key=value` overrides."""
        config, self.origins = loader.resolve(path, overrides)
        return config

    def merge_sweep_params(self, config: dict[str, Any], params: Mapping[str, Any]
                           ) -> dict[str, Any]:
        """A copy of `config` with the sweep's parameters (flat or dotted names) applied."""
        return loader.merge_sweep_params(config, dict(params), self.origins)
