"""The W&B sweep YAML, read once and checked whole before any trial starts.

Schema (W&B's): ``program``, ``method`` (grid, random, bayes), ``metric`` {name, goal, target},
``parameters`` (``values`` with optional ``probabilities``, ``value``, or a ``distribution``
with min/max/q/mu/sigma: every distribution in toolkit.sweep.distributions; nested
``parameters`` become dotted names), ``early_terminate`` {type: hyperband, min_iter, max_iter,
eta, s, strict}, ``run_cap`` and ``command`` (toolkit.sweep.command). Parameter names are dotted
config keys, a key's own name (the seed's `learning_rate`) or an alias (`lr`, `batch_size`,
`epochs`: toolkit.config.argv). Every problem, structural or against the config schema, is
reported in one ConfigError. This module imports neither torch nor the trainer.
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
from toolkit.config.argv import config_key
from toolkit.config.schema import EVAL_METRICS, SECTIONS
from toolkit.errors import ConfigError
from toolkit.sweep import distributions
from toolkit.sweep.command import Command, find_file, parse_command
from toolkit.sweep.distributions import DISCRETE, REQUIRED

METHODS = ("grid", "random", "bayes")
GOALS = ("maximize", "minimize")
TOP_KEYS = ("program", "method", "metric", "parameters", "early_terminate", "name",
            "description", "project", "entity", "command", "run_cap")
METRIC_KEYS = ("name", "goal", "target")
NUMBER_KEYS = ("min", "max", "q", "mu", "sigma")
PARAM_KEYS = ("distribution", "values", "probabilities", "value", *NUMBER_KEYS, "parameters")
HYPERBAND_KEYS = ("type", "min_iter", "max_iter", "eta", "s", "strict")
DEFAULT_PROGRAM = "toolkit/train.py"
DEFAULT_CONFIG = "config/base_config.yaml"
# PyYAML reads 1e-6 (no dot) as a string; W&B users write it that way.
EXPONENT_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


@dataclass(frozen=True)
class Parameter:
    """One swept (or fixed) parameter; `name` is as written, the params-file key."""

    name: str
    distribution: str
    values: tuple[Any, ...] = ()
    probabilities: tuple[float, ...] = ()
    value: Any = None
    min: float | None = None
    max: float | None = None
    q: float | None = None
    mu: float = 0.0
    sigma: float = 1.0

    def to_wandb(self) -> dict[str, Any]:
        if self.distribution == "constant":
            return {"value": self.value}
        if self.distribution == "categorical":
            out: dict[str, Any] = {"values": list(self.values)}
            return {**out, "probabilities": list(self.probabilities)} if self.probabilities \
                else out
        keys = (*REQUIRED[self.distribution], *(("q",) if self.distribution.startswith("q_")
                                                else ()),
                *(("mu", "sigma") if self.distribution in distributions.UNBOUNDED else ()))
        return {"distribution": self.distribution, **{k: getattr(self, k) for k in keys}}


@dataclass(frozen=True)
class Hyperband:
    """W&B's early_terminate block (iterations are evaluations). W&B's stopping code does not
    read `strict`; it is kept for W&B and has no effect locally."""

    min_iter: int | None = None
    max_iter: int | None = None
    eta: int = 3
    s: int | None = None
    strict: bool = False

    @property
    def first_band(self) -> int:
        """The evaluations every trial gets before it can be stopped (W&B's first band)."""
        if self.min_iter is not None:
            return self.min_iter
        return max(1, int(self.max_iter / self.eta ** (self.s or 1)))

    def to_wandb(self) -> dict[str, Any]:
        fields_ = {"min_iter": self.min_iter, "max_iter": self.max_iter, "eta": self.eta,
                   "s": self.s, "strict": self.strict or None}
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
    target: float | None = None  # the sweep ends when a trial reaches it
    run_cap: int | None = None  # trials in the whole sweep, every worker and node together
    command: Command | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # description, project, entity

    @property
    def metric_key(self) -> str:
        """The history key of the metric, e.g. `eval/rouge_combined_f1`."""
        return f"eval/{self.metric.removeprefix('eval/').removeprefix('eval_')}"

    @property
    def maximize(self) -> bool:
        return self.goal == "maximize"

    def reached(self, value: float) -> bool:
        """Whether `value` meets the metric's target."""
        return self.target is not None and (value >= self.target if self.maximize
                                            else value <= self.target)

    def to_wandb(self) -> dict[str, Any]:
        """The sweep as `wandb.sweep` takes it (flattened names, numbers as numbers)."""
        metric: dict[str, Any] = {"name": self.metric, "goal": self.goal}
        if self.target is not None:
            metric["target"] = self.target
        out: dict[str, Any] = {
            **self.extra, "name": self.name, "program": self.program, "method": self.method,
            "metric": metric, "parameters": {p.name: p.to_wandb() for p in self.parameters},
        }
        if self.early_terminate is not None:
            out["early_terminate"] = self.early_terminate.to_wandb()
        if self.run_cap is not None:
            out["run_cap"] = self.run_cap
        if self.command is not None:
            out["command"] = list(self.command.words)
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


def _check_distribution(where: str, kind: str, spec: dict[str, Any], problems: list[str]) -> None:
    """The checks that depend on the distribution (its keys are there and are numbers)."""
    if kind == "categorical":
        values, weights = spec["values"], spec.get("probabilities")
        if not (isinstance(values, list) and values):
            problems.append(f"{where}: `values` must be a non-empty list; got {values!r}")
        elif weights is not None and not (
                isinstance(weights, list) and len(weights) == len(values)
                and all(isinstance(w, (int, float)) and w >= 0 for w in weights)
                and math.isclose(sum(weights), 1.0, abs_tol=1e-6)):
            problems.append(f"{where}: `probabilities` must list one number >= 0 per value "
                            f"({len(values)}), summing to 1; got {weights!r}")
    elif "probabilities" in spec:
        problems.append(f"{where}: `probabilities` belongs to a list of `values`, not to "
                        f"`{kind}`")
    if "min" in spec and "max" in spec and not spec["min"] < spec["max"]:
        problems.append(f"{where}: min ({spec['min']}) must be below max ({spec['max']}); "
                        f"swap them or use `value:` for a fixed value")
    if kind in distributions.POSITIVE_BOUNDS and spec["min"] <= 0:
        problems.append(f"{where}: {kind} needs min > 0 (got {spec['min']}); the bounds are "
                        f"the values themselves, e.g. min: 1e-6, max: 1e-3")
    if kind == "int_uniform" and not all(float(spec[k]).is_integer() for k in ("min", "max")):
        problems.append(f"{where}: int_uniform needs whole-number min and max; got "
                        f"{spec['min']} and {spec['max']}")
    for key in ("q", "sigma"):
        if key in spec and spec[key] <= 0:
            problems.append(f"{where}: `{key}` must be > 0; got {spec[key]}")


def parse_parameter(name: str, raw: Any, method: str, problems: list[str]) -> Parameter | None:
    """One parameter, or None after appending what is wrong with it and how to fix it."""
    where = f"parameter `{name}`"
    if not isinstance(raw, dict):
        problems.append(f"{where} must be a mapping such as {{values: [...]}} or "
                        f"{{distribution: uniform, min: 0.0, max: 1.0}}; got {raw!r}")
        return None
    spec = {k: _number(v) for k, v in raw.items()}
    for key in ("values", "probabilities"):
        if isinstance(spec.get(key), list):
            spec[key] = [_number(v) for v in spec[key]]
    before = len(problems)
    for key in spec:
        if key not in PARAM_KEYS:
            problems.append(f"{where} has an unknown key `{key}`{_hint(key, PARAM_KEYS)}; "
                            f"its keys are {', '.join(PARAM_KEYS)}")
    kind = _distribution(spec)
    if kind not in REQUIRED:
        problems.append(f"{where}: distribution `{kind}` is unknown{_hint(kind, REQUIRED)}; "
                        f"use one of {', '.join(REQUIRED)}")
        return None
    for key in REQUIRED[kind]:
        if key not in spec:
            problems.append(f"{where}: distribution `{kind}` needs `{key}`; add it")
    for key in NUMBER_KEYS:
        if key in spec and (not isinstance(spec[key], (int, float)) or isinstance(spec[key], bool)):
            problems.append(f"{where}: `{key}` must be a number; got {spec[key]!r}")
    if len(problems) > before:
        return None
    _check_distribution(where, kind, spec, problems)
    if method == "grid" and kind not in DISCRETE:
        problems.append(f"{where}: grid search needs a list of `values`, not the continuous "
                        f"distribution `{kind}`; list the points to try (values: [...]) or use "
                        f"method random or bayes")
    if method == "grid" and spec.get("probabilities"):
        problems.append(f"{where}: grid search tries every value once, so `probabilities` "
                        f"cannot apply; drop them or use method random or bayes")
    if len(problems) > before:
        return None
    numbers = {k: spec[k] for k in NUMBER_KEYS if k in spec}
    if kind.startswith("q_"):
        numbers.setdefault("q", 1)
    return Parameter(name=name, distribution=kind, values=tuple(spec.get("values", ())),
                     probabilities=tuple(spec.get("probabilities") or ()),
                     value=spec.get("value"), **numbers)


def _check_metric(raw: Any, problems: list[str]) -> tuple[str, str, float | None]:
    if not (isinstance(raw, dict) and isinstance(raw.get("name"), str)):
        problems.append("`metric` must be a mapping with a `name` (e.g. rouge_combined_f1) and "
                        "a `goal` (maximize or minimize)")
        return "", "", None
    name, goal, target = raw["name"], raw.get("goal", "minimize"), _number(raw.get("target"))
    for key in raw:
        if key not in METRIC_KEYS:
            problems.append(f"metric has an unknown key `{key}`{_hint(key, METRIC_KEYS)}; its "
                            f"keys are {', '.join(METRIC_KEYS)}")
    base = name.removeprefix("eval/").removeprefix("eval_")
    if base not in EVAL_METRICS:
        problems.append(f"metric.name `{name}` is not an evaluation metric"
                        f"{_hint(base, EVAL_METRICS)}; use one of {', '.join(EVAL_METRICS)} "
                        f"(optionally as eval/<name>)")
    if goal not in GOALS:
        problems.append(f"metric.goal `{goal}` must be maximize or minimize")
    if target is not None and (isinstance(target, bool) or not isinstance(target, (int, float))):
        problems.append(f"metric.target must be a number; got {target!r}")
    return name, goal, target


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
        elif key == "strict" and not isinstance(value, bool):
            problems.append(f"early_terminate.strict must be true or false; got {value!r}")
    if raw.get("min_iter") is None and (raw.get("max_iter") is None or raw.get("s") is None):
        problems.append("early_terminate needs min_iter (or max_iter with s): the evaluations "
                        "every trial gets before it can be stopped")
    if isinstance(raw.get("eta"), int) and raw["eta"] < 2:
        problems.append(f"early_terminate.eta must be >= 2; got {raw['eta']}")
    low, high = raw.get("min_iter"), raw.get("max_iter")
    if isinstance(low, int) and isinstance(high, int) and high <= low:
        problems.append(f"early_terminate.max_iter ({high}) must be above min_iter ({low})")
    if len(problems) > before:
        return None
    return Hyperband(raw.get("min_iter"), raw.get("max_iter"), raw.get("eta", 3), raw.get("s"),
                     raw.get("strict", False))


def _check_run_cap(raw: Any, problems: list[str]) -> int | None:
    if raw is not None and (isinstance(raw, bool) or not isinstance(raw, int) or raw < 1):
        problems.append(f"run_cap must be a whole number >= 1 (trials in the whole sweep); "
                        f"got {raw!r}")
        return None
    return raw


def schema_type(key: str) -> Any:
    """The annotation of a dotted config key without Optional, or None if not a section key."""
    section, _, name = key.partition(".")
    if section not in SECTIONS:
        return None
    hint = typing.get_type_hints(SECTIONS[section]).get(name)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if len(args) == 1 and typing.get_origin(hint) is not list else hint


def check_name(name: str, owners: dict[str, str], problems: list[str]) -> str | None:
    """The dotted config key of a parameter name (dotted, a key's own name or an alias), or
    None after a problem."""
    where = f"parameter `{name}`"
    try:
        key = config_key(name)
    except ConfigError as error:
        problems.extend(f"{where}: {text}" for text in error.problems)
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
    fixed = {key: p.value for p, key in checked if p.distribution == "constant"}
    seen: set[str] = set()
    for p, key in sorted(checked, key=lambda pair: pair[0].distribution != "constant"):
        where = f"parameter `{p.name}`"
        expected = schema_type(key)
        if distributions.draws_floats(p) and expected in (int, bool, str):
            problems.append(f"{where}: {key} takes {expected.__name__} values but "
                            f"`{p.distribution}` draws floats; use int_uniform, a whole-number "
                            f"`q`, or `values: [...]`")
            continue
        for value in distributions.examples(p):
            try:
                loader.merge_sweep_params(config, {**fixed, key: value})
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
    metric, goal, target = _check_metric(raw.get("metric"), problems)
    early = _check_hyperband(raw.get("early_terminate"), problems)
    run_cap = _check_run_cap(raw.get("run_cap"), problems)
    command = parse_command(raw.get("command"), problems)
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
    program = (command and command.program) or str(raw.get("program") or DEFAULT_PROGRAM)
    extra = {k: raw[k] for k in ("description", "project", "entity") if k in raw}
    return SweepSpec(name=str(raw.get("name") or default_name), program=program, method=method,
                     metric=metric, goal=goal, parameters=tuple(parameters),
                     early_terminate=early, target=target, run_cap=run_cap, command=command,
                     extra=extra)


def read_sweep(path: str | Path) -> dict[str, Any]:
    """The sweep YAML's mapping."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError([f"sweep file {path} does not exist; pass the path of a sweep YAML "
                           f"such as config/sweep/kobart_sweep.yaml"])
    return loader.read_yaml(path)


def _named(path: Path, error: ConfigError) -> ConfigError:
    return ConfigError([f"{path.name}: {p}" for p in error.problems])


def load_spec(path: str | Path, config: dict[str, Any]) -> SweepSpec:
    """Read and validate a sweep YAML against the resolved base `config`."""
    try:
        return parse(read_sweep(path), Path(path).stem, config)
    except ConfigError as error:
        raise _named(Path(path), error) from None


def base_config_path(given: str | None, command: Command | None) -> str:
    """The trials' base config: the command's --config, or `given`, not two different ones."""
    named = command.config if command else None
    if given and named and find_file(given) != find_file(named):
        raise ConfigError([f"the sweep's command runs --config {named} but --config {given} was "
                           f"given; drop one (the command's also applies under `wandb agent`)"])
    return str(find_file(named or given or DEFAULT_CONFIG))


def resolve_sweep(path: str | Path, config_path: str | None, overrides: list[str]
                  ) -> tuple[SweepSpec, dict[str, Any], str]:
    """The spec, the trials' resolved base config and its path: the command's --config and
    fixed arguments first, then `overrides` (--set); checked together before any trial."""
    path = Path(path)
    try:
        raw = read_sweep(path)
        # a broken command is reported by `parse`, with the other problems, against `given`
        command = parse_command(raw.get("command"), []) if isinstance(raw, dict) else None
        base = base_config_path(config_path, command)
        config, _ = loader.resolve(base, [*(command.overrides if command else ()), *overrides])
        return parse(raw, path.stem, config), config, base
    except ConfigError as error:
        raise _named(path, error) from None
