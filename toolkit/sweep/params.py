"""Trial parameters handed to every rank as a JSON file (never only rank 0's wandb.config).

The file is what W&B's ``${args_json_file}`` holds too: parameter names as the sweep file writes
them (dotted keys, flat names, aliases, or a section holding a mapping of its keys).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from toolkit.config.argv import config_key
from toolkit.config.schema import SECTIONS
from toolkit.errors import ConfigError


def write_params_file(path: Path, params: dict) -> None:
    path.write_text(json.dumps(params, indent=2, sort_keys=True), encoding="utf-8")


def params_overrides(params: dict[str, Any]) -> list[str]:
    """`section.key=value` overrides of parameters; values are JSON so types survive."""
    items, problems = [], []
    for name, value in params.items():
        try:
            key = config_key(name)
        except ConfigError as error:
            problems.extend(f"parameter `{name}`: {p}" for p in error.problems)
            continue
        pairs = value.items() if key in SECTIONS and isinstance(value, dict) else [(None, value)]
        items += [f"{key}{'.' + inner if inner else ''}={json.dumps(v, ensure_ascii=False)}"
                  for inner, v in pairs]
    if problems:
        raise ConfigError(problems)
    return items


def read_params_file(path: str | None) -> list[str]:
    """The overrides of a params file."""
    if not path:
        return []
    try:
        params = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError([f"--params-file {path} cannot be read as JSON: {error}"]) from None
    if not isinstance(params, dict):
        raise ConfigError([f"--params-file {path} must hold a JSON object of parameters"])
    return params_overrides(params)
