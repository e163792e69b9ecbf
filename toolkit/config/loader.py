"""Loading, layering and validating configs.

Layers, later wins: built-in defaults < the file (and the files it `inherit`s) < environment
(``LEARNING_RATE``, ``BATCH_SIZE``, ``NUM_EPOCHS``, ``TOOLKIT_<SECTION>__<KEY>``) < command-line
``section.key=value`` < sweep parameters. Every value remembers the layer it came from.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import math
import os
import re
import types
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from toolkit.config.schema import (
    FILE_ONLY_KEYS,
    LIST_KEYS,
    SECTIONS,
    Config,
    defaults,
    tracking_problems,
)
from toolkit.errors import ConfigError

# The seed's environment variables, as its users know them.
SEED_ENV = {
    "LEARNING_RATE": "training.learning_rate",
    "BATCH_SIZE": "training.per_device_train_batch_size",
    "NUM_EPOCHS": "training.num_train_epochs",
}
ENV_PREFIX = "TOOLKIT_"
SECRET_KEY = re.compile(r"(^|_)(api_key|key|token|password|secret)$")

Origins = dict[str, str]


def read_yaml(path: Path) -> dict[str, Any]:
    """One YAML mapping from disk; errors name the file and the line."""
    if not path.is_file():
        raise ConfigError([f"config file {path} does not exist; pass an existing --config path"])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError([f"{path} is not valid YAML{where}: {getattr(error, 'problem', error)}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path} must hold a mapping of sections, not {type(data).__name__}"])
    return data


def load_file(path: str | Path, _seen: tuple[Path, ...] = ()) -> tuple[dict[str, Any], Origins]:
    """A config file with its `inherit:` chain merged (the base first, this file on top)."""
    path = Path(path).resolve()
    if path in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, path))
        raise ConfigError([f"`inherit` forms a cycle: {chain}; remove one of the links"])
    data = read_yaml(path)
    merged: dict[str, Any] = {}
    origins: Origins = {}
    base = data.pop("inherit", None)
    if base is not None:
        if not isinstance(base, str) or not base.strip():
            raise ConfigError([f"`inherit` in {path} must be a path to a YAML file, relative to "
                               f"{path.parent}; got {base!r}"])
        target = path.parent / base
        if not target.is_file():
            raise ConfigError([f"`inherit: {base}` in {path} names {target}, which does not "
                               f"exist; the path is relative to the inheriting file"])
        merged, origins = load_file(target, (*_seen, path))
    deep_merge(merged, data, origins, f"file:{path.name}")
    return merged, origins


def deep_merge(target: dict[str, Any], update: dict[str, Any], origins: Origins, origin: str,
               prefix: str = "") -> None:
    """Merge `update` into `target` in place; sections merge key by key, other values replace."""
    for key, value in update.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(target.get(key), dict) and not prefix:
            deep_merge(target[key], value, origins, origin, f"{key}.")
        else:
            target[key] = copy.deepcopy(value)
            if isinstance(value, dict) and not prefix:
                for sub in value:
                    origins[f"{dotted}.{sub}"] = origin
            else:
                origins[dotted] = origin


def parse_scalar(text: str) -> Any:
    """A command-line or environment value: YAML scalars, plus floats like 3e-5."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:
            return float(value) if any(c in value.lower() for c in ".e") else value
        except ValueError:
            return value
    return value


def set_dotted(config: dict[str, Any], dotted: str, value: Any, origins: Origins, origin: str,
               ) -> None:
    section, _, key = dotted.partition(".")
    if not key:
        config[section] = value
        origins[section] = origin
        return
    if not isinstance(config.get(section), dict):
        config[section] = {}
    config[section][key] = value
    origins[dotted] = origin


def env_overrides(environ: typing.Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(dotted key, raw value, variable name) for every variable the toolkit reads."""
    found = [(dotted, environ[name], name) for name, dotted in SEED_ENV.items() if name in environ]
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX) and "__" in name:
            section, _, key = name[len(ENV_PREFIX):].partition("__")
            found.append((f"{section.lower()}.{key.lower()}", environ[name], name))
    return found


def parse_overrides(items: list[str], problems: list[str] | None = None
                    ) -> list[tuple[str, Any]]:
    """`section.key=value` arguments into pairs; malformed ones go to `problems` if given,
    else raise a ConfigError."""
    pairs, found = [], []
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            found.append(f"override `{item}` is not of the form section.key=value")
            continue
        pairs.append((key.strip(), parse_scalar(raw)))
    if problems is not None:
        problems.extend(found)
    elif found:
        raise ConfigError(found)
    return pairs


def resolve(path: str | Path | None = None, overrides: list[str] | None = None,
            environ: typing.Mapping[str, str] | None = None,
            sweep_params: dict[str, Any] | None = None) -> tuple[dict[str, Any], Origins]:
    """Every layer merged and validated: the nested dict users edit, and each value's origin."""
    config = defaults()
    origins: Origins = {}
    if path is not None:
        file_config, file_origins = load_file(path)
        deep_merge(config, file_config, origins, "")
        origins.update(file_origins)
    for dotted, raw, name in env_overrides(os.environ if environ is None else environ):
        set_dotted(config, dotted, parse_scalar(raw), origins, f"env:{name}")
    malformed: list[str] = []
    for dotted, value in parse_overrides(overrides or [], malformed):
        set_dotted(config, dotted, value, origins, "cli")
    for name, value in (sweep_params or {}).items():
        if not name.startswith("_") and name != "wandb_version":
            set_dotted(config, sweep_key(name), value, origins, "sweep")
    validate(config, malformed)
    return config, origins


def flat_key_index() -> dict[str, list[str]]:
    """Key name -> the sections that define it (to map the seed's flat sweep names)."""
    index: dict[str, list[str]] = {}
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            index.setdefault(f.name, []).append(section)
    return index


def sweep_key(name: str) -> str:
    """A sweep parameter name (dotted, or the seed's flat name) as a dotted config key."""
    if "." in name:
        return name
    sections = flat_key_index().get(name, [])
    if len(sections) == 1:
        return f"{sections[0]}.{name}"
    if sections:
        options = ", ".join(f"{s}.{name}" for s in sections)
        raise ConfigError([f"sweep parameter `{name}` is ambiguous; name one of {options}"])
    close = difflib.get_close_matches(name, list(flat_key_index()), n=1)
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    raise ConfigError([f"sweep parameter `{name}` is not a config key{hint}"])


def merge_sweep_params(config: dict[str, Any], params: typing.Mapping[str, Any],
                       origins: Origins | None = None) -> dict[str, Any]:
    """A copy of `config` with sweep parameters applied (dotted or flat names)."""
    merged = copy.deepcopy(config)
    scratch: Origins = {} if origins is None else origins
    for name, value in params.items():
        if name.startswith("_") or name in ("wandb_version",):
            continue
        if isinstance(value, dict) and name in SECTIONS:  # nested: {"training": {"lr": ...}}
            for key, inner in value.items():
                set_dotted(merged, f"{name}.{key}", inner, scratch, "sweep")
            continue
        set_dotted(merged, sweep_key(name), value, scratch, "sweep")
    validate(merged)
    return merged


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
    if isinstance(value, float) and not math.isfinite(value):  # 1e400, .inf, .nan
        return f"{dotted} must be a finite number; got {value!r}"
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


def _validate_section(section: str, values: Any, problems: list[str]) -> None:
    cls = SECTIONS[section]
    if not isinstance(values, dict):
        problems.append(f"`{section}` must be a mapping of keys, got {type(values).__name__}")
        return
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    for key in list(values):
        dotted = f"{section}.{key}"
        if key not in known:
            owners = flat_key_index().get(key)
            hint = f" (it belongs to `{owners[0]}.{key}`)" if owners else _closest(
                key, list(known), f"{section}.")
            problems.append(f"unknown key `{dotted}`{hint}")
            continue
        choices = known[key].metadata.get("choices", ())
        if isinstance(values[key], bool) and "no" in choices:
            values[key] = "no" if values[key] is False else values[key]  # YAML 1.1 reads no as false
        ok, converted = coerce(values[key], hints[key])
        if not ok:
            problems.append(
                f"{dotted} expects {_type_name(hints[key])}; got {values[key]!r} "
                f"({type(values[key]).__name__})"
            )
            continue
        values[key] = converted
        problem = _check_bounds(dotted, converted, known[key].metadata)
        if problem:
            problems.append(problem)


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
    if training.get("eval_strategy") == "steps" and not training.get("eval_steps"):
        problems.append("training.eval_strategy is `steps` but training.eval_steps is 0; "
                        "set training.eval_steps=N or training.eval_strategy=epoch")
    if config["data"].get("train_path") in (None, ""):
        problems.append("data.train_path is empty; give a file or `embedded`")


def validate(config: dict[str, Any], problems: list[str] | None = None) -> None:
    """Check and convert every key in place; all problems (with any found before, such as
    malformed overrides) are reported in one ConfigError."""
    problems = list(problems or [])
    allowed = [*SECTIONS, *LIST_KEYS]
    for name in list(config):
        if name in SECTIONS:
            _validate_section(name, config[name], problems)
        elif name == "callbacks":
            _validate_callbacks(config[name], problems)
        elif name in FILE_ONLY_KEYS:
            config.pop(name)
        else:
            problems.append(f"unknown section `{name}`{_closest(name, allowed)}")
    if not problems:
        _validate_relations(config, problems)
    if problems:
        raise ConfigError(problems)


def defaults_merged(config: dict[str, Any]) -> dict[str, Any]:
    """A user-edited dict laid over the defaults and validated (the seed edits dicts)."""
    merged = defaults()
    deep_merge(merged, {k: v for k, v in config.items() if k not in FILE_ONLY_KEYS}, {}, "dict")
    validate(merged)
    return merged


def apply_overrides(config: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    merged = copy.deepcopy(config)
    for dotted, value in parse_overrides(overrides):
        set_dotted(merged, dotted, value, {}, "cli")
    validate(merged)
    return merged


def to_typed(config: dict[str, Any]) -> Config:
    """The typed Config of a validated dict (missing keys take their defaults)."""
    full = defaults()
    for section in SECTIONS:
        full[section].update(config.get(section, {}))
    full["callbacks"] = config.get("callbacks", full["callbacks"])
    validate(full)
    built = {name: SECTIONS[name](**full[name]) for name in SECTIONS}
    return Config(**built, callbacks=full["callbacks"])


def redact(config: dict[str, Any]) -> dict[str, Any]:
    """A copy with secret-looking values replaced by ***."""
    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: "***" if SECRET_KEY.search(str(k).lower()) and v
                    and not isinstance(v, (dict, list)) else walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node
    return walk(config)


def config_hash(config: dict[str, Any]) -> str:
    """A short, stable hash of the resolved config."""
    text = json.dumps(redact(config), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

