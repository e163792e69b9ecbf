"""W&B's parameter distributions, as values drawn from a uniform quantile.

Every distribution W&B documents is here. :func:`draw` maps a quantile ``u`` in [0, 1] to the
value W&B would return at that quantile (its inverse CDF), so a sampler that draws ``u``
uniformly reproduces W&B's distribution exactly. The local backend hands Optuna the native
distribution where one exists (``NATIVE``: categorical without probabilities, int_uniform,
uniform, and the log-uniform family, which Optuna samples log-uniformly between the bounds) and
draws a quantile otherwise:

==========================  ==========================================================
W&B                          Optuna (local backend)
==========================  ==========================================================
constant                     not sampled (fixed)
categorical                  suggest_categorical
categorical + probabilities  quantile -> the value whose cumulative probability covers it
int_uniform                  suggest_int(min, max)
uniform                      suggest_float(min, max)
log_uniform                  suggest_float(exp(min), exp(max), log=True)
log_uniform_values           suggest_float(min, max, log=True)
inv_log_uniform              suggest_float(exp(-max), exp(-min), log=True)
inv_log_uniform_values       suggest_float(min, max, log=True) (the same distribution)
q_*                          the continuous draw, then round(x / q) * q (int when q is)
normal, log_normal           quantile -> mu + sigma * Phi^-1(u) (exp of it for log_normal)
==========================  ==========================================================

Random search draws exactly W&B's distributions. Approximate: TPE (``bayes``) models the
quantile, not the value, for the quantized, normal and weighted categorical parameters (W&B's
own Bayesian search is a Gaussian process, so the proposals differ anyway); and grid search takes
``values`` lists only, as W&B's does.
"""

from __future__ import annotations

import bisect
import itertools
import math
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolkit.sweep.spec import Parameter

# distribution -> the keys it needs; q defaults to 1, mu to 0 and sigma to 1, as in W&B
REQUIRED: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "categorical": ("values",),
    "int_uniform": ("min", "max"),
    "uniform": ("min", "max"),
    "q_uniform": ("min", "max"),
    "log_uniform": ("min", "max"),  # min and max are natural logs of the bounds
    "log_uniform_values": ("min", "max"),
    "q_log_uniform": ("min", "max"),
    "q_log_uniform_values": ("min", "max"),
    "inv_log_uniform": ("min", "max"),  # log(1/X) is uniform on [min, max]
    "inv_log_uniform_values": ("min", "max"),
    "normal": (),
    "q_normal": (),
    "log_normal": (),
    "q_log_normal": (),
}
DISCRETE = ("constant", "categorical")
UNBOUNDED = ("normal", "q_normal", "log_normal", "q_log_normal")
POSITIVE_BOUNDS = ("log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values")
EDGE = 1e-6  # quantiles stay inside (0, 1): the normal family is unbounded


def log_bounds(p: Parameter) -> tuple[float, float] | None:
    """The (low, high) values of a log-uniform distribution, or None for any other."""
    base = p.distribution.removeprefix("q_")
    if base in ("log_uniform_values", "inv_log_uniform_values"):
        return p.min, p.max
    if base == "log_uniform":
        return math.exp(p.min), math.exp(p.max)
    if base == "inv_log_uniform":
        return math.exp(-p.max), math.exp(-p.min)
    return None


def quantize(value: float, q: float) -> float | int:
    """W&B's round(value / q) * q: an int when q is one, else a float without rounding noise."""
    stepped = round(value / q) * q
    return int(stepped) if isinstance(q, int) else float(f"{stepped:.12g}")


def continuous(p: Parameter, u: float) -> float:
    """The unquantized value at quantile `u` of a numeric distribution."""
    base = p.distribution.removeprefix("q_")
    bounds = log_bounds(p)
    if bounds is not None:
        low, high = bounds
        return math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    if base == "uniform":
        return p.min + u * (p.max - p.min)
    x = NormalDist(p.mu, p.sigma).inv_cdf(min(max(u, EDGE), 1 - EDGE))
    return math.exp(x) if base == "log_normal" else x


def draw(p: Parameter, u: float) -> Any:
    """The value of parameter `p` at quantile `u` in [0, 1]."""
    if p.distribution == "constant":
        return p.value
    if p.distribution == "categorical":
        weights = p.probabilities or (1.0,) * len(p.values)
        edges = list(itertools.accumulate(w / sum(weights) for w in weights))
        return p.values[min(bisect.bisect_right(edges, u), len(p.values) - 1)]
    if p.distribution == "int_uniform":
        return min(int(p.min + u * (p.max - p.min + 1)), int(p.max))
    value = continuous(p, u)
    return quantize(value, p.q if p.q is not None else 1) if p.distribution.startswith("q_") \
        else value


def examples(p: Parameter) -> list[Any]:
    """Values that stand for the whole range when checking types and bounds: both ends of a
    bounded distribution, the median of an unbounded one."""
    if p.distribution == "categorical":
        return list(p.values)
    if p.distribution in UNBOUNDED:
        return [draw(p, 0.5)]
    return [draw(p, 0.0), draw(p, 1.0)]


def draws_floats(p: Parameter) -> bool:
    """Whether the values can be non-integral (integer config keys refuse these)."""
    if p.distribution in DISCRETE or p.distribution == "int_uniform":
        return False
    return not (p.distribution.startswith("q_") and isinstance(p.q, int))
