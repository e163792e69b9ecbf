"""Trial parameters handed to every rank as a JSON file (never only rank 0's wandb.config)."""

from __future__ import annotations

import json
from pathlib import Path

from toolkit.config.loader import sweep_key
from toolkit.errors import ConfigError


def write_params_file(path: Path, params: dict) -> None:
    path.write_text(json.dumps(params, indent=2, sort_keys=True), encoding="utf-8")


def read_params_file(path: str | None) -> list[str]:
    """`section.key=value` overrides from a params file; values are JSON so types survive."""
    if not path:
        return []
    try:
        params = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError([f"--params-file {path} cannot be read as JSON: {error}"]) from None
    if not isinstance(params, dict):
        raise ConfigError([f"--params-file {path} must hold a JSON object of parameters"])
    return [f"{sweep_key(name)}={json.dumps(value)}" for name, value in params.items()]
