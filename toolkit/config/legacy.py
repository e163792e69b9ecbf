"""`toolkit config import`: another layout's config (the Korean competition baseline's
``config.yaml``: general/tokenizer/training/inference/wandb with the HF Trainer's argument
names) as a toolkit config, with a report of what was mapped and what was dropped, and why.

The names come from the alias table (`toolkit.config.aliases`), the same one that gives the
loader's unknown-key hints.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from toolkit.config import aliases, loader
from toolkit.config.schema import LIST_KEYS, SECTIONS, section_fields
from toolkit.config.validate import flat_key_index
from toolkit.errors import ConfigError, ToolkitError

# Sections are read in this order; where two old keys set one toolkit key differently, the
# first one read wins (inference before training: its settings wrote the submission).
ORDER = ("general", "model", "tokenizer", "data", "inference", "training", "generation")

HEADER = ("# Converted by `toolkit config import {source}`.\n"
          "# Keys not listed take the toolkit's defaults (`toolkit config show --config {output}`"
          " prints them all).\n")


@dataclass
class Conversion:
    """The converted config (only the keys it sets) and the old keys' fate."""

    config: dict[str, Any] = field(default_factory=dict)
    mapped: list[tuple[str, list[str]]] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)

    def set(self, old: str, values: dict[str, Any]) -> None:
        kept = []
        for target, value in values.items():
            section, _, key = target.partition(".")
            holder = self.config if not key else self.config.setdefault(section, {})
            name = key or section
            if name in holder and holder[name] != value:
                self.dropped.append((old, f"{target} is already {holder[name]!r} from an "
                                          f"earlier key; {value!r} not used"))
                continue
            holder[name] = value
            kept.append(target)
        if kept:
            self.mapped.append((old, kept))

    def report(self) -> str:
        lines = [f"mapped ({len(self.mapped)}):"]
        lines += [f"  {old} -> {', '.join(new)}" for old, new in self.mapped]
        lines.append(f"dropped ({len(self.dropped)}):")
        lines += [f"  {old}: {why}" for old, why in self.dropped]
        return "\n".join(lines)


def _ordered(old: dict[str, Any]) -> list[str]:
    return sorted(old, key=lambda s: ORDER.index(s) if s in ORDER else len(ORDER))


def _same_name(section: str, key: str) -> str | None:
    """A key the toolkit already has under that name (in that section, or in exactly one)."""
    if section in SECTIONS and key in section_fields(section):
        return f"{section}.{key}"
    owners = flat_key_index().get(key, [])
    return f"{owners[0]}.{key}" if len(owners) == 1 else None


def convert(old: dict[str, Any]) -> Conversion:
    """Every key of `old` mapped by the alias table, kept when the toolkit has it, or dropped."""
    out = Conversion()
    for section in _ordered(old):
        values = old[section]
        if section in LIST_KEYS:
            out.set(section, {section: values})
            continue
        if not isinstance(values, dict):
            out.dropped.append((section, "not a section of keys"))
            continue
        for key, value in values.items():
            dotted = f"{section}.{key}"
            alias = aliases.ALIASES.get(dotted)
            if alias is not None and alias.target is None and section in SECTIONS \
                    and key in section_fields(section):
                alias = None  # the toolkit has since gained the key
            target = _same_name(section, key) if alias is None else None
            if alias is None and target is None:
                out.dropped.append((dotted, "the toolkit has no such setting"))
                continue
            try:
                new = {target: value} if alias is None else alias.values(value, values)
            except ValueError as error:
                out.dropped.append((dotted, str(error)))
                continue
            if not new:
                out.dropped.append((dotted, alias.why))
                continue
            out.set(dotted, new)
    return out


def _schema_order(section: str, values: Any) -> Any:
    if section not in SECTIONS:
        return values
    return {key: values[key] for key in section_fields(section) if key in values}


def import_config(source: str | Path, output: str | Path, overwrite: bool = False) -> Conversion:
    """Convert `source`, check that the result validates, and write it to `output`."""
    source, output = Path(source), Path(output)
    if output.exists() and not overwrite:
        raise ToolkitError(f"{output} already exists; pass --overwrite to replace it, or choose "
                           f"another --output")
    if not source.is_file():
        raise ToolkitError(f"{source} does not exist; pass the path of the config to convert")
    conversion = convert(loader.read_yaml(source))
    try:
        loader.defaults_merged(copy.deepcopy(conversion.config))
    except ConfigError as error:
        listing = "\n".join(f"  - {p}" for p in error.problems)
        raise ToolkitError(f"{source} converts to a config with {len(error.problems)} "
                           f"problem(s); nothing was written. Fix these in {source} (or import "
                           f"and edit by hand):\n{listing}") from None
    ordered = {name: _schema_order(name, conversion.config[name])
               for name in [*SECTIONS, *LIST_KEYS] if name in conversion.config}
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(HEADER.format(source=source.name, output=output) + yaml.safe_dump(
        ordered, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return conversion
