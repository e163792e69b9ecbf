"""The W&B sweep backend: ``wandb.sweep`` (or ``--sweep-id``) and ``wandb.agent(function=...)``.

For each trial the agent's function starts the sweep's run (``wandb.init``, W&B's shared mode,
primary writer), reads the parameters from ``wandb.config``, writes them to a params file and
launches the whole training (``--launch``, possibly several processes) as its own process group,
so every rank trains the same trial. Only rank 0's WandbCallback talks to W&B: it joins the
agent's run as a secondary writer (``TOOLKIT_WANDB_SHARED_RUN``). The agent finishes the run
(failed when the trial fails); a W&B stop command (early termination) stops the trial's group.
Everything past ``wandb.sweep`` needs the W&B server.
"""

from __future__ import annotations

import functools
import netrc
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from toolkit.errors import ToolkitError
from toolkit.integrations.wandb_callback import SHARED_RUN_ENV
from toolkit.sweep.params import write_params_file
from toolkit.sweep.spec import SweepSpec
from toolkit.sweep.trial import (
    SweepPlan,
    TrialFailed,
    free_port,
    start_trial,
    supervise,
    tail,
    trial_command,
    trial_overrides,
)

# The agent's sweep context: the trial joins the agent's run instead of starting one.
SWEEP_ENV = ("WANDB_SWEEP_ID", "WANDB_SWEEP_PARAM_PATH")


def logged_in(environ: Mapping[str, str]) -> bool:
    """Whether W&B has credentials: WANDB_API_KEY, an identity token file, or the netrc entry
    that `wandb login` writes for the server's host (checked without a network call)."""
    if environ.get("WANDB_API_KEY") or environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlparse(environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    path = Path(environ.get("NETRC", Path.home() / ".netrc"))
    try:
        return netrc.netrc(path).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def require_login(environ: Mapping[str, str] | None = None) -> None:
    """Refuse, in one line, a W&B sweep that cannot reach the server."""
    environ = os.environ if environ is None else environ
    mode = environ.get("WANDB_MODE", "")
    if mode in ("offline", "dryrun", "disabled"):
        raise ToolkitError(f"W&B sweeps need the W&B server, but WANDB_MODE={mode}: unset it "
                           f"(and log in with `wandb login`), or use --backend local")
    if not logged_in(environ):
        raise ToolkitError("W&B is not logged in: run `wandb login` (or set WANDB_API_KEY), "
                           "or use --backend local")


def _lookup(config: Mapping[str, Any], name: str) -> Any:
    """`name` as a key of wandb.config, or walked through nested mappings (a.b -> [a][b])."""
    if name in config:
        return config[name]
    node: Any = config
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(name)
        node = node[part]
    return node


def trial_params(spec: SweepSpec, config: Mapping[str, Any]) -> dict[str, Any]:
    """Every sweep parameter's value in the run's wandb.config, keyed as in the sweep file."""
    params, missing = {}, []
    for p in spec.parameters:
        try:
            params[p.name] = _lookup(config, p.name)
        except KeyError:
            missing.append(p.name)
    if missing:
        raise ToolkitError(f"wandb.config of this sweep run lacks {', '.join(missing)}; the "
                           f"sweep on the server was made from another file: pass the sweep "
                           f"YAML it was created from, or start a new sweep without --sweep-id")
    return params


def trial_environment(environ: Mapping[str, str], run_id: str, project: str | None,
                      entity: str | None) -> dict[str, str]:
    """The trial's environment: join run `run_id`; no sweep context of its own."""
    env = {k: v for k, v in environ.items() if k not in SWEEP_ENV}
    env.update({SHARED_RUN_ENV: run_id, "WANDB_RUN_ID": run_id})
    env.update({k: v for k, v in (("WANDB_PROJECT", project), ("WANDB_ENTITY", entity)) if v})
    return env


def agent_trial(plan: SweepPlan) -> None:
    """The agent's function: one trial of the sweep, trained by `plan`'s launch command."""
    import wandb

    run = wandb.init(mode="shared")
    params = trial_params(plan.spec, dict(run.config))
    directory = plan.study_dir / "trials" / run.id
    directory.mkdir(parents=True, exist_ok=True)
    write_params_file(directory / "params.json", params)
    overrides = [*trial_overrides(plan, f"{plan.spec.name}_{run.id}", report=False),
                 "wandb.enabled=true"]
    command = trial_command(plan, directory / "params.json", overrides, free_port())
    log = directory / "output.log"
    env = trial_environment(os.environ, run.id, run.project, run.entity)
    proc = start_trial(command, env, log)
    supervise(proc, lambda: False, plan.grace_s)
    if proc.returncode != 0:
        raise TrialFailed(f"W&B run {run.id}: the trial exited with code {proc.returncode}; its "
                          f"output ({log}) ends with:\n{tail(log)}")


def run_wandb_sweep(plan: SweepPlan, count: int | None, sweep_id: str | None,
                    project: str | None, entity: str | None) -> str:
    """Create the sweep (unless joining `sweep_id`) and run `count` trials; the sweep id."""
    import wandb

    if sweep_id is None:
        sweep_id = wandb.sweep(plan.spec.to_wandb(), entity=entity, project=project)
    wandb.agent(sweep_id, function=functools.partial(agent_trial, plan), entity=entity,
                project=project, count=count)
    return sweep_id


def describe_best(spec: SweepSpec, sweep_id: str, project: str | None, entity: str | None
                  ) -> str:
    """The sweep's best run as the W&B server ranks it."""
    import wandb

    api = wandb.Api()
    path = sweep_id if sweep_id.count("/") == 2 else \
        f"{entity or api.default_entity}/{project}/{sweep_id}"
    best = api.sweep(path).best_run()
    if best is None:
        return f"sweep {path}: no finished run yet"
    params = ", ".join(f"{p.name}={best.config.get(p.name)}" for p in spec.parameters)
    return (f"best: W&B run {best.id}, {spec.metric} = {best.summary.get(spec.metric)}\n"
            f"  params: {params}\n  run dir: {best.summary.get('run_dir')}\n  {best.url}")
