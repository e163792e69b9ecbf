"""One trial as its own process group, for both sweep backends.

A trial is one training run::

    <launch> <program> --config BASE --params-file trials/<id>/params.json <overrides>

so every rank reads the same parameters (never only rank 0's wandb.config), and stopping the
group stops every rank: SIGTERM (the trainer checkpoints and exits as interrupted), SIGKILL after
a grace period. The launch gets a free port per trial.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError, ToolkitError
from toolkit.sweep.command import find_file
from toolkit.sweep.reporter import REPORTER
from toolkit.sweep.spec import SweepSpec
from toolkit.tracking.db import TrackingError
from toolkit.tracking.tracker import ExperimentTracker

logger = logging.getLogger(__name__)

POLL_S = 0.5
KILL_GRACE_S = 60.0
TAIL_LINES = 15


class TrialFailed(ToolkitError):
    """A trial process failed, or its run logged no value of the sweep metric."""


@dataclass
class SweepPlan:
    """What a worker needs to start trials (picklable, for worker processes)."""

    spec: SweepSpec
    program: str  # the training script, resolved
    config: str  # the base config file
    study_dir: Path
    db_path: str  # the tracking database of every trial
    callbacks: list[Any]  # the base config's subscribers (with the user's overrides applied)
    overrides: list[str] = field(default_factory=list)  # the command's fixed ones, then --set
    launch: str | None = None
    grace_s: float = KILL_GRACE_S
    storage: str | None = None  # an Optuna storage URL or journal file (local backend)


def resolve_program(program: str) -> str:
    """The sweep's `program`, as given or relative to the toolkit's repository."""
    path = find_file(program)
    if path.is_file():
        return str(path)
    raise ConfigError([f"sweep program `{program}` is not a file; the toolkit's training script "
                       f"is toolkit/train.py (set `program: toolkit/train.py`)"])


def trial_overrides(plan: SweepPlan, experiment_name: str, report: bool) -> list[str]:
    """The trial's `section.key=value` arguments; the sweep's own settings come last and win."""
    metric = plan.spec.metric_key.removeprefix("eval/")
    items = [f"general.output_dir={plan.study_dir / 'runs'}", *plan.overrides,
             "tracking.enabled=true", f"tracking.db_path={plan.db_path}",
             f"meta.experiment_name={experiment_name}",
             f"training.metric_for_best_model={metric}",
             f"training.greater_is_better={str(plan.spec.maximize).lower()}"]
    if report:
        items.append(f"callbacks={json.dumps([*plan.callbacks, REPORTER])}")
    return items


def launch_prefix(launch: str | None, port: int) -> list[str]:
    """The words before the program; `{port}` (or a launcher's missing port flag) gets `port`."""
    if not launch:
        return [sys.executable]
    words = shlex.split(launch.replace("{port}", str(port)))
    if "{port}" in launch or not words:
        return words
    tool = Path(words[0]).name
    if tool == "accelerate" and not any(w.startswith("--main_process_port") for w in words):
        words += ["--main_process_port", str(port)]
    elif tool == "torchrun" and not any(w.startswith(("--master_port", "--master-port"))
                                        for w in words):
        words += ["--master_port", str(port)]
    return words


def trial_command(plan: SweepPlan, params_file: Path, overrides: list[str], port: int
                  ) -> list[str]:
    return [*launch_prefix(plan.launch, port), plan.program, "--config", plan.config,
            "--params-file", str(params_file), *overrides]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gpu_environment(environ: Mapping[str, str], devices: list[str] | None,
                      **extra: str) -> dict[str, str]:
    """The trial's environment: `environ`, the worker's GPUs (when it was given some) and
    `extra`."""
    env = {**environ, **extra}
    if devices is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(devices)
    return env


def start_trial(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """The trial as the leader of a new process group, its output in `log_path`."""
    with log_path.open("ab") as log:
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)


def stop_group(proc: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM to every process of the trial; SIGKILL to what is left after `grace_s`."""
    _signal_group(proc, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    _signal_group(proc, signal.SIGKILL)
    proc.wait()


def supervise(proc: subprocess.Popen, should_stop: Callable[[], bool], grace_s: float) -> bool:
    """Wait for the trial; stop its group when `should_stop()` says so (returns True) or when
    this thread is interrupted (Ctrl-C, a W&B stop command), which is re-raised."""
    try:
        while proc.poll() is None:
            if should_stop():
                stop_group(proc, grace_s)
                return True
            time.sleep(POLL_S)
    except BaseException:
        stop_group(proc, grace_s)
        raise
    return False


def tail(path: Path, lines: int = TAIL_LINES) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.replace("\r", "\n").splitlines()[-lines:])


class ReportReader:
    """The complete JSON lines a trial appended to its report file since the last read."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0

    def read(self) -> list[dict[str, Any]]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        self.offset += end
        return [json.loads(line) for line in data[:end].splitlines() if line.strip()]


def best_value(history: Path, key: str, maximize: bool) -> float | None:
    """The best finite value of `key` in a run's metrics.jsonl, or None."""
    if not history.is_file():
        return None
    values = [record[key] for record in map(json.loads, history.read_text("utf-8").splitlines())
              if isinstance(record.get(key), (int, float)) and math.isfinite(record[key])]
    if not values:
        return None
    return max(values) if maximize else min(values)


def mark_run(db_path: str, experiment_id: str | None, status: str, note: str) -> bool:
    """Set a tracked run's status and note unless it already finished; True when set."""
    if experiment_id is None:
        return False
    try:
        ExperimentTracker(db_path).update_experiment_status(experiment_id, status, notes=note)
    except TrackingError as error:
        logger.debug("run %s keeps its status: %s", experiment_id, error)
        return False
    return True
