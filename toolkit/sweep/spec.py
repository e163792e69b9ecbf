"""The W&B sweep YAML, read once and checked whole before any trial starts.

Schema (W&B's): ``program``, ``method`` (grid, random, bayes), ``metric`` {name, goal},
``parameters`` (``values``, ``value`` or a ``distribution`` with min/max/q/mu/sigma; nested
``parameters`` become dotted names) and ``early_terminate`` {type: hyperband, min_iter, max_iter,
eta, s}. Parameter names are dotted config keys or the seed's flat names (`learning_rate`).
Every problem, structural or against the config schema, is reported in one ConfigError.
"""

from __future__ import annotations

import difflib
import math
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.config import loader
from toolkit.config.schema import SECTIONS
from toolkit.errors import ConfigError

METHODS = ("grid", "random", "bayes")
GOALS = ("maximize", "minimize")
TOP_KEYS = ("program", "method", "metric", "parameters", "early_terminate", "name",
            "description", "project", "entity", "command", "run_cap")
# distribution -> the keys it needs (normal defaults to mu 0, sigma 1 as in W&B)
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "categorical": ("values",),
    "int_uniform": ("min", "max"),
    "uniform": ("min", "max"),
    "q_uniform": ("min", "max", "q"),
    "log_uniform_values": ("min", "max"),
    "log_uniform": ("min", "max"),  # min and max are natural logs of the bounds
    "normal": (),
}
DISCRETE = ("constant", "categorical")
FLOAT_OUTPUT = ("uniform", "q_uniform", "log_uniform_values", "log_uniform", "normal")
NUMBER_KEYS = ("min", "max", "q", "mu", "sigma")
PARAM_KEYS = ("distribution", "values", "value", *NUMBER_KEYS, "parameters")
HYPERBAND_KEYS = ("type", "min_iter", "max_iter", "eta", "s", "strict")
DEFAULT_PROGRAM = "toolkit/train.py"
# PyYAML reads 1e-6 (no dot) as a string; W&B users write it that way.
EXPONENT_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


@dataclass(frozen=True)
class Parameter:
    """One swept (or fixed) parameter; `name` is as written, the params-file key."""

    name: str
    distribution: str
    values: tuple[Any, ...] = ()
    value: Any = None
    min: float | None = None
    max: float | None = None
    q: float | None = None
    mu: float = 0.0
    sigma: float = 1.0

    def examples(self) -> list[Any]:
        """Values that stand for the whole range when checking types and bounds."""
        if self.distribution == "categorical":
            return list(self.values)
        if self.distribution == "constant":
            return [self.value]
        if self.distribution == "normal":
            return [self.mu]
        if self.distribution == "log_uniform":
            return [math.exp(self.min), math.exp(self.max)]
        if self.distribution == "int_uniform":
            return [int(self.min), int(self.max)]
        return [float(self.min), float(self.max)]

    def to_wandb(self) -> dict[str, Any]:
        if self.distribution == "constant":
            return {"value": self.value}
        if self.distribution == "categorical":
            return {"values": list(self.values)}
        keys = DISTRIBUTIONS[self.distribution] or ("mu", "sigma")
        return {"distribution": self.distribution, **{k: getattr(self, k) for k in keys}}


@dataclass(frozen=True)
class Hyperband:
    """W&B's early_terminate block (iterations are evaluations)."""

    min_iter: int | None = None
    max_iter: int | None = None
    eta: int = 3
    s: int | None = None

    def to_wandb(self) -> dict[str, Any]:
        fields_ = {"min_iter": self.min_iter, "max_iter": self.max_iter, "eta": self.eta,
                   "s": self.s}
        return {"type": "hyperband", **{k: v for k, v in fields_.items() if v is not None}}


@dataclass(frozen=True)
class SweepSpec:
    name: str
    program: str
    method: str
    metric: str  # as written: W&B reads this key from the run summary
    goal: str
    parameters: tuple[Parameter, ...]
    early_terminate: Hyperband | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # description, command, run_cap...

    @property
    def metric_key(self) -> str:
        """The history key of the metric, e.g. `eval/rouge_combined_f1`."""
        return f"eval/{self.metric.removeprefix('eval/').removeprefix('eval_')}"

    @property
    def maximize(self) -> bool:
        return self.goal == "maximize"

    def to_wandb(self) -> dict[str, Any]:
        """The sweep as `wandb.sweep` takes it (flattened names, numbers as numbers)."""
        out: dict[str, Any] = {
            **self.extra, "name": self.name, "program": self.program, "method": self.method,
            "metric": {"name": self.metric, "goal": self.goal},
            "parameters": {p.name: p.to_wandb() for p in self.parameters},
        }
        if self.early_terminate is not None:
            out["early_terminate"] = self.early_terminate.to_wandb()
        return out


def _number(value: Any) -> Any:
    if isinstance(value, str) and EXPONENT_NUMBER.fullmatch(value.strip()):
        return float(value)
    return value


def _hint(word: str, options: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _flatten(parameters: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted name, spec) pairs; W&B's nested `parameters:` blocks join their names."""
    pairs = []
    for name, spec in parameters.items():
        if isinstance(spec, dict) and set(spec) == {"parameters"} and isinstance(
                spec["parameters"], dict):
            pairs.extend(_flatten(spec["parameters"], f"{prefix}{name}."))
        else:
            pairs.append((f"{prefix}{name}", spec))
    return pairs


def _distribution(spec: dict[str, Any]) -> str:
    if "distribution" in spec:
        return str(spec["distribution"])
    if "values" in spec:
        return "categorical"
    if "value" in spec:
        return "constant"
    if isinstance(spec.get("min"), int) and isinstance(spec.get("max"), int):
        return "int_uniform"
    return "uniform"


def parse_parameter(name: str, raw: Any, method: str, problems: list[str]) -> Parameter | None:
    """One parameter, or None after appending what is wrong with it and how to fix it."""
    where = f"parameter `{name}`"
    if not isinstance(raw, dict):
        problems.append(f"{where} must be a mapping such as {{values: [...]}} or "
                        f"{{distribution: uniform, min: 0.0, max: 1.0}}; got {raw!r}")
        return None
    spec = {k: _number(v) for k, v in raw.items()}
    if "values" in spec and isinstance(spec["values"], list):
        spec["values"] = [_number(v) for v in spec["values"]]
    before = len(problems)
    for key in spec:
        if key not in PARAM_KEYS:
            problems.append(f"{where} has an unknown key `{key}`{_hint(key, PARAM_KEYS)}; "
                            f"its keys are {', '.join(PARAM_KEYS)}")
    kind = _distribution(spec)
    if kind not in DISTRIBUTIONS:
        problems.append(f"{where}: distribution `{kind}` is unknown{_hint(kind, DISTRIBUTIONS)}; "
                        f"use one of {', '.join(DISTRIBUTIONS)}")
        return None
    for key in DISTRIBUTIONS[kind]:
        if key not in spec:
            problems.append(f"{where}: distribution `{kind}` needs `{key}`; add it")
    for key in NUMBER_KEYS:
        if key in spec and (not isinstance(spec[key], (int, float)) or isinstance(spec[key], bool)):
            problems.append(f"{where}: `{key}` must be a number; got {spec[key]!r}")
    if len(problems) > before:
        return None
    if kind == "categorical" and not (isinstance(spec["values"], list) and spec["values"]):
        problems.append(f"{where}: `values` must be a non-empty list; got {spec['values']!r}")
    if "min" in spec and "max" in spec and not spec["min"] < spec["max"]:
        problems.append(f"{where}: min ({spec['min']}) must be below max ({spec['max']}); "
                        f"swap them or use `value:` for a fixed value")
    if kind == "log_uniform_values" and spec["min"] <= 0:
        problems.append(f"{where}: log_uniform_values needs min > 0 (got {spec['min']}); the "
                        f"bounds are the values themselves, e.g. min: 1e-6, max: 1e-3")
    if kind == "int_uniform" and not all(float(spec[k]).is_integer() for k in ("min", "max")):
        problems.append(f"{where}: int_uniform needs whole-number min and max; got "
                        f"{spec['min']} and {spec['max']}")
    for key in ("q", "sigma"):
        if key in spec and spec[key] <= 0:
            problems.append(f"{where}: `{key}` must be > 0; got {spec[key]}")
    if method == "grid" and kind not in DISCRETE:
        problems.append(f"{where}: grid search needs a list of `values`, not the continuous "
                        f"distribution `{kind}`; list the points to try (values: [...]) or use "
                        f"method random or bayes")
    if len(problems) > before:
        return None
    numbers = {k: spec[k] for k in NUMBER_KEYS if k in spec}
    return Parameter(name=name, distribution=kind, values=tuple(spec.get("values", ())),
                     value=spec.get("value"), **numbers)


def _check_metric(raw: Any, problems: list[str]) -> tuple[str, str]:
    from toolkit.engine.trainer import EVAL_METRICS

    if not (isinstance(raw, dict) and isinstance(raw.get("name"), str)):
        problems.append("`metric` must be a mapping with a `name` (e.g. rouge_combined_f1) and "
                        "a `goal` (maximize or minimize)")
        return "", ""
    name, goal = raw["name"], raw.get("goal", "minimize")
    base = name.removeprefix("eval/").removeprefix("eval_")
    if base not in EVAL_METRICS:
        problems.append(f"metric.name `{name}` is not an evaluation metric"
                        f"{_hint(base, EVAL_METRICS)}; use one of {', '.join(EVAL_METRICS)} "
                        f"(optionally as eval/<name>)")
    if goal not in GOALS:
        problems.append(f"metric.goal `{goal}` must be maximize or minimize")
    return name, goal


def _check_hyperband(raw: Any, problems: list[str]) -> Hyperband | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("type") != "hyperband":
        problems.append("early_terminate supports only {type: hyperband, min_iter: N, eta: 3}; "
                        f"got {raw!r}")
        return None
    before = len(problems)
    for key, value in raw.items():
        if key not in HYPERBAND_KEYS:
            problems.append(f"early_terminate has an unknown key `{key}`"
                            f"{_hint(key, HYPERBAND_KEYS)}; its keys are "
                            f"{', '.join(HYPERBAND_KEYS)}")
        elif key in ("min_iter", "max_iter", "eta", "s") and not (
                isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            problems.append(f"early_terminate.{key} must be a whole number >= 1; got {value!r}")
    if raw.get("min_iter") is None and raw.get("max_iter") is None:
        problems.append("early_terminate needs min_iter (or max_iter with s): the evaluations "
                        "every trial gets before it can be stopped")
    if isinstance(raw.get("eta"), int) and raw["eta"] < 2:
        problems.append(f"early_terminate.eta must be >= 2; got {raw['eta']}")
    low, high = raw.get("min_iter"), raw.get("max_iter")
    if isinstance(low, int) and isinstance(high, int) and high <= low:
        problems.append(f"early_terminate.max_iter ({high}) must be above min_iter ({low})")
    if len(problems) > before:
        return None
    return Hyperband(raw.get("min_iter"), raw.get("max_iter"), raw.get("eta", 3), raw.get("s"))


def schema_type(key: str) -> Any:
    """The annotation of a dotted config key without Optional, or None if not a section key."""
    section, _, name = key.partition(".")
    if section not in SECTIONS:
        return None
    hint = typing.get_type_hints(SECTIONS[section]).get(name)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if len(args) == 1 and typing.get_origin(hint) is not list else hint


def check_name(name: str, owners: dict[str, str], problems: list[str]) -> str | None:
    """The dotted config key of a parameter name (via `sweep_key`), or None after a problem."""
    where = f"parameter `{name}`"
    try:
        key = loader.sweep_key(name)
    except ConfigError as error:
        problems.extend(f"{where}: {text}; use a dotted config key (training.learning_rate) or "
                        f"one of the seed's flat names" for text in error.problems)
        return None
    if key in owners:
        problems.append(f"{where} and parameter `{owners[key]}` both set {key}; keep one")
        return None
    owners[key] = name
    return key


def check_values(checked: list[tuple[Parameter, str]], config: dict[str, Any],
                 problems: list[str]) -> None:
    """Each range's type against the schema, and its values merged into the config together
    with the fixed (`value:`) parameters, which come first so their own problems name them."""
    fixed = {p.name: p.value for p, _ in checked if p.distribution == "constant"}
    seen: set[str] = set()
    for p, key in sorted(checked, key=lambda pair: pair[0].distribution != "constant"):
        where = f"parameter `{p.name}`"
        expected = schema_type(key)
        if p.distribution in FLOAT_OUTPUT and expected in (int, bool, str):
            problems.append(f"{where}: {key} takes {expected.__name__} values but "
                            f"`{p.distribution}` draws floats; use int_uniform or `values: [...]`")
            continue
        for value in p.examples():
            try:
                loader.merge_sweep_params(config, {**fixed, p.name: value})
            except ConfigError as error:
                for text in error.problems:
                    if text not in seen:
                        seen.add(text)
                        problems.append(f"{where} = {value!r}: {text}")


def parse(raw: Any, default_name: str, config: dict[str, Any]) -> SweepSpec:
    """A validated spec from the loaded YAML mapping; all problems in one ConfigError."""
    if not isinstance(raw, dict):
        raise ConfigError([f"the sweep file must hold a mapping (program, method, metric, "
                           f"parameters); got {type(raw).__name__}"])
    problems: list[str] = []
    for key in raw:
        if key not in TOP_KEYS:
            problems.append(f"unknown sweep key `{key}`{_hint(key, TOP_KEYS)}; the keys are "
                            f"{', '.join(TOP_KEYS)}")
    method = raw.get("method")
    if method not in METHODS:
        problems.append(f"method `{method}` must be one of {', '.join(METHODS)}")
    metric, goal = _check_metric(raw.get("metric"), problems)
    early = _check_hyperband(raw.get("early_terminate"), problems)
    parameters: list[Parameter] = []
    block = raw.get("parameters")
    if not (isinstance(block, dict) and block):
        problems.append("`parameters` must map at least one parameter name to its values or "
                        "distribution")
    else:
        owners: dict[str, str] = {}
        checked: list[tuple[Parameter, str]] = []
        for name, spec in _flatten(block):
            key = check_name(name, owners, problems)
            parameter = parse_parameter(name, spec, method, problems)
            if parameter is not None:
                parameters.append(parameter)
                if key is not None:
                    checked.append((parameter, key))
        check_values(checked, config, problems)
    if problems:
        raise ConfigError(problems)
    extra = {k: raw[k] for k in ("description", "command", "run_cap", "project", "entity")
             if k in raw}
    return SweepSpec(name=str(raw.get("name") or default_name),
                     program=str(raw.get("program") or DEFAULT_PROGRAM), method=method,
                     metric=metric, goal=goal, parameters=tuple(parameters),
                     early_terminate=early, extra=extra)


def load_spec(path: str | Path, config: dict[str, Any]) -> SweepSpec:
    """Read and validate a sweep YAML against the resolved base `config`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError([f"sweep file {path} does not exist; pass the path of a sweep YAML "
                           f"such as config/sweep/kobart_sweep.yaml"])
    try:
        return parse(loader.read_yaml(path), path.stem, config)
    except ConfigError as error:
        raise ConfigError([f"{path.name}: {p}" for p in error.problems]) from None
