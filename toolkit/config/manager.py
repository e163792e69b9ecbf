"""ConfigManager (the seed's name for loading and merging configs) and `resolve_config`, the
one way the trainer turns what the user passed (a path or a dict) into a validated config."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from toolkit.config import loader


class ConfigManager:
    """Loads configs with every layer applied and remembers where each value came from."""

    def __init__(self, config_dir: str | Path = "config") -> None:
        self.config_dir = Path(config_dir)
        self.origins: loader.Origins = {}

    def load_config(self, path: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
        """defaults < file (with `inherit`) < environment < `section.key=value` overrides.
        A relative path that does not exist is looked up in `config_dir` (the seed's guide
        writes ``load_config("base_config.yaml")``)."""
        path = Path(path)
        if not path.is_absolute() and not path.exists() and (self.config_dir / path).is_file():
            path = self.config_dir / path
        config, self.origins = loader.resolve(path, overrides)
        return config

    def merge_sweep_params(self, config: dict[str, Any], params: Mapping[str, Any]
                           ) -> dict[str, Any]:
        """A copy of `config` with the sweep's parameters (flat or dotted names) applied."""
        return loader.merge_sweep_params(config, dict(params), self.origins)


def resolve_config(config: str | Path | dict[str, Any], sweep_mode: bool = False,
                   overrides: list[str] | None = None) -> dict[str, Any]:
    """A path is loaded with every layer; a dict (the seed's examples edit one) is laid over
    the defaults and validated. With `sweep_mode`, the active W&B run's config (a sweep's
    parameters) is merged on top; wandb is imported only then."""
    if isinstance(config, (str, Path)):
        resolved, _ = loader.resolve(config, overrides)
    else:
        resolved = loader.defaults_merged(copy.deepcopy(config))
        if overrides:
            resolved = loader.apply_overrides(resolved, overrides)
    if sweep_mode:
        import wandb

        if wandb.run is not None and dict(wandb.config):
            resolved = loader.merge_sweep_params(resolved, dict(wandb.config))
    return resolved
