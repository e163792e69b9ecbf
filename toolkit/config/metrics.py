"""The evaluation metrics a run can select best/ by, and the name the trainer compares."""

from __future__ import annotations

from toolkit.config.schema import EVAL_METRICS, Config

PREFIXES = ("eval/", "eval_")


def metric_key(name: str) -> str:
    """`eval/rouge_combined_f1`, `eval_rouge_combined_f1` and `rouge_combined_f1` are one."""
    for prefix in PREFIXES:
        name = name.removeprefix(prefix)
    return name


def metric_problem(name: str) -> str | None:
    """Why `training.metric_for_best_model` cannot pick best/, or None when it can."""
    if metric_key(name) in EVAL_METRICS:
        return None
    return (f"training.metric_for_best_model `{name}` is not an eval metric; use one of "
            f"{', '.join(EVAL_METRICS)} (an `eval/` or `eval_` prefix is allowed)")


def best_metric_name(cfg: Config) -> str:
    """The metric that picks best/, without prefix (the config has been validated)."""
    return metric_key(cfg.training.metric_for_best_model)
