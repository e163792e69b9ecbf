"""What `toolkit sweep status` and a finished local sweep print: the trials and the best."""

from __future__ import annotations

import optuna


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:  # no completed trial yet
        return None


def describe_best(study: optuna.Study) -> str:
    best = best_trial(study)
    if best is None:
        return "best: no completed trial yet"
    metric = study.user_attrs.get("metric", "value")
    params = ", ".join(f"{k}={v}" for k, v in best.user_attrs.get("params", best.params).items())
    return (f"best: trial {best.number}, {metric} = {best.value:.4g}\n  params: {params}\n"
            f"  run dir: {best.user_attrs.get('run_dir')}")


def describe(study: optuna.Study) -> str:
    """The trials (number, state, value, params, run dir) and the best so far."""
    from toolkit.tracking.cli import table

    metric = study.user_attrs.get("metric", "value")
    rows = [(t.number, t.state.name.lower(), t.value, t.user_attrs.get("params", t.params),
             t.user_attrs.get("run_dir")) for t in study.trials]
    header = f"sweep {study.study_name}: {len(rows)} trial(s), {metric} " \
             f"({study.user_attrs.get('goal', study.direction.name.lower())})"
    body = table(("#", "STATE", metric.upper(), "PARAMS", "RUN DIR"), rows)
    return f"{header}\n{body}\n{describe_best(study)}"
