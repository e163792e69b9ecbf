"""Validating a merged config: types, bounds, unknown keys (with the alias table's hints),
accepted aliases rewritten to their keys, relations between keys. All problems are reported
at once in one ConfigError; a problem names the environment variable that caused it.
"""

from __future__ import annotations

import difflib
import math
import re
import types
import typing
from dataclasses import fields
from typing import Any

from toolkit.config import aliases
from toolkit.config.metrics import metric_key, metric_problem
from toolkit.config.schema import FILE_ONLY_KEYS, LIST_KEYS, SECTIONS, defaults, tracking_problems
from toolkit.errors import ConfigError

Origins = dict[str, str]
# Which layer wins when an accepted alias and its target are both set (higher wins).
LAYER_RANK = {"dict": 1, "file": 1, "env": 2, "cli": 3, "sweep": 4}


def flat_key_index() -> dict[str, list[str]]:
    """Key name -> the sections that define it (to map the seed's flat sweep names)."""
    index: dict[str, list[str]] = {}
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            index.setdefault(f.name, []).append(section)
    return index


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp)).replace("NoneType", "null")


def coerce(value: Any, tp: Any) -> tuple[bool, Any]:
    """(ok, value) for `value` against the annotation `tp`; strings from CLI/env are converted."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None or (isinstance(value, str) and value.lower() in ("null", "none")):
            return (type(None) in args), None
        for arg in args:
            if arg is not type(None):
                ok, converted = coerce(value, arg)
                if ok:
                    return True, converted
        return False, value
    if origin is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        return isinstance(value, list), value
    if tp is bool:
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return True, value.lower() in ("true", "yes", "1")
        return isinstance(value, bool), value
    if tp is int:
        if isinstance(value, float) and value.is_integer():
            return True, int(value)
        if isinstance(value, str):
            try:
                return True, int(value)
            except ValueError:
                return False, value
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        if isinstance(value, str):
            try:
                return True, float(value)
            except ValueError:
                return False, value
        return isinstance(value, (int, float)) and not isinstance(value, bool), float(value) \
            if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    if tp is str:
        return isinstance(value, str), value
    return True, value


def _check_bounds(dotted: str, value: Any, meta: typing.Mapping[str, Any]) -> str | None:
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    if "choices" in meta and any(v not in meta["choices"] for v in values):
        allowed = ", ".join(map(str, meta["choices"]))
        return f"{dotted} must be one of {allowed}; got {value!r}"
    for bound, test, word in (("ge", float.__ge__, ">="), ("gt", float.__gt__, ">"),
                              ("le", float.__le__, "<=")):
        if bound in meta and not test(float(value), float(meta[bound])):
            return f"{dotted} must be {word} {meta[bound]}; got {value!r}"
    return None


def _closest(name: str, options: list[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    return f" (did you mean `{prefix}{close[0]}`?)" if close else ""


def _source(dotted: str, origins: Origins) -> str:
    """Where a value came from, when the key alone would not find it: an environment variable,
    or an alias the user wrote."""
    origin = origins.get(dotted, "")
    alias = re.search(r"\(as (\S+)\)", origin)
    parts = [f"written as `{alias.group(1)}`"] if alias else []
    if origin.startswith("env:"):
        parts.append(f"from the environment variable {origin[4:].split(' ')[0]}")
    return f" ({', '.join(parts)})" if parts else ""


def _unknown_key_hint(section: str, key: str, known: list[str]) -> str:
    """The table's name for it first, then the section it belongs to, then the closest key."""
    dotted = f"{section}.{key}"
    if dotted in aliases.ALIASES:
        return aliases.hint(dotted, aliases.ALIASES[dotted])
    owners = flat_key_index().get(key)
    if owners:
        return f" (it belongs to `{owners[0]}.{key}`)"
    found = aliases.find(dotted)
    if found is not None:
        return aliases.hint(dotted, found[1])
    return _closest(key, known, f"{section}.")


def _validate_section(section: str, values: Any, problems: list[str], origins: Origins) -> None:
    cls = SECTIONS[section]
    if not isinstance(values, dict):
        problems.append(f"`{section}` must be a mapping of keys, got {type(values).__name__}"
                        f"{_source(section, origins)}")
        return
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    for key in list(values):
        dotted = f"{section}.{key}"
        source = _source(dotted, origins)
        if key not in known:
            problems.append(f"unknown key `{dotted}`{_unknown_key_hint(section, key, list(known))}"
                            f"{source}")
            continue
        choices = known[key].metadata.get("choices", ())
        if isinstance(values[key], bool) and "no" in choices:
            values[key] = "no" if values[key] is False else values[key]  # YAML 1.1 reads no as false
        ok, converted = coerce(values[key], hints[key])
        if not ok:
            problems.append(
                f"{dotted} expects {_type_name(hints[key])}; got {values[key]!r} "
                f"({type(values[key]).__name__}){source}"
            )
            continue
        if isinstance(converted, float) and not math.isfinite(converted):
            problems.append(f"{dotted} must be a finite number; got {values[key]!r}{source}")
            continue
        values[key] = converted
        problem = _check_bounds(dotted, converted, known[key].metadata)
        if dotted == "training.metric_for_best_model":
            problem = metric_problem(converted)
        if problem:
            problems.append(problem + source)


def _validate_callbacks(value: Any, problems: list[str]) -> None:
    if not isinstance(value, list):
        problems.append("`callbacks` must be a list of names or {name: ..., <options>} mappings")
        return
    for item in value:
        if isinstance(item, dict):
            if not isinstance(item.get("name"), str):
                problems.append(f"callback entry {item!r} needs a `name`")
        elif not isinstance(item, str):
            problems.append(f"callback entry {item!r} must be a name or a mapping with `name`")


def _validate_relations(config: dict[str, Any], problems: list[str]) -> None:
    problems.extend(tracking_problems(config))
    training = config["training"]
    if metric_key(training.get("metric_for_best_model", "")) == "loss" and \
            training.get("greater_is_better"):
        problems.append("training.metric_for_best_model is the eval loss but "
                        "training.greater_is_better is true (best/ would be the worst model); "
                        "set training.greater_is_better=false")
    if training.get("eval_strategy") == "steps" and not training.get("eval_steps"):
        problems.append("training.eval_strategy is `steps` but training.eval_steps is 0; "
                        "set training.eval_steps=N or training.eval_strategy=epoch")
    if config["data"].get("train_path") in (None, ""):
        problems.append("data.train_path is empty; give a file or `embedded`")


def _layer(origin: str | None) -> int:
    return LAYER_RANK.get((origin or "").split(":")[0].split(" ")[0], 0)


def _apply_accepted(config: dict[str, Any], origins: Origins, problems: list[str]) -> None:
    """Rewrite the accepted aliases (`training.fp16`, `reproducibility.seed`, ...) to their
    toolkit keys; the higher layer wins, and disagreeing values in one layer are a problem.
    The target's origin names the alias: ``file:job.yaml (as training.fp16)``."""
    for section in list(config):
        values = config[section]
        if not isinstance(values, dict) or (section not in SECTIONS
                                            and section not in aliases.ACCEPTED_SECTIONS):
            continue
        written = dict(values)  # converters read sibling keys as the user wrote them
        for key in written:
            dotted = f"{section}.{key}"
            alias = aliases.ALIASES.get(dotted)
            if alias is None or not alias.accepted:
                continue
            values.pop(key)
            origin = origins.pop(dotted, "")
            try:
                converted = alias.values(written[key], written)
            except ValueError as error:
                if not any(f": {error}" in p for p in problems):  # fp16 and bf16 alike
                    problems.append(f"{dotted}: {error}{_source(dotted, {dotted: origin})}")
                continue
            for target, value in converted.items():
                _place(config, origins, dotted, origin, target, value, problems)
        if section in aliases.ACCEPTED_SECTIONS:
            if values:
                takes = ", ".join(a.rpartition(".")[2] for a in aliases.ALIASES
                                  if a.startswith(f"{section}."))
                problems.extend(f"unknown key `{section}.{key}` (`{section}` takes {takes})"
                                f"{_source(f'{section}.{key}', origins)}" for key in values)
            config.pop(section)


def _place(config: dict[str, Any], origins: Origins, alias: str, origin: str, target: str,
           value: Any, problems: list[str]) -> None:
    section, _, key = target.partition(".")
    if not isinstance(config.get(section), dict):
        config[section] = {}
    current = origins.get(target)
    if current is not None and config[section].get(key) == defaults()[section].get(key):
        current = None  # a whole dict edited by hand repeats the defaults: they yield
    if current is not None and _layer(current) == _layer(origin) and \
            config[section].get(key) != value:
        problems.append(f"`{alias}` ({origin or 'given'}) means {target}={value} but {target} is "
                        f"{config[section].get(key)!r} ({current}); keep one of the two")
    elif current is None or _layer(origin) >= _layer(current):
        config[section][key] = value
        origins[target] = f"{origin} (as {alias})" if origin else f"as {alias}"


def validate(config: dict[str, Any], problems: list[str] | None = None,
             origins: Origins | None = None) -> None:
    """Check and convert every key in place; all problems (with any found before, such as
    malformed overrides) are reported in one ConfigError. `origins` (each key's layer) lets
    problems name the environment variable a value came from."""
    problems = list(problems or [])
    origins = {} if origins is None else origins
    allowed = [*SECTIONS, *LIST_KEYS]
    _apply_accepted(config, origins, problems)
    for name in list(config):
        if name in SECTIONS:
            _validate_section(name, config[name], problems, origins)
        elif name == "callbacks":
            _validate_callbacks(config[name], problems)
        elif name in FILE_ONLY_KEYS:
            config.pop(name)
        else:
            alias = aliases.ALIASES.get(name)
            hint = aliases.hint(name, alias) if alias else _closest(name, allowed)
            env = sorted({o for k, o in origins.items() if k.startswith(f"{name}.")
                          and o.startswith("env:")})
            source = f" (from the environment variable {env[0][4:]})" if env else ""
            problems.append(f"unknown section `{name}`{hint}{source}")
    if not problems:
        _validate_relations(config, problems)
    if problems:
        raise ConfigError(problems)
