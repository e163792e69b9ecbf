"""Subscribers and runners the end-to-end tests load into real training processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from toolkit.events import Callback

ROOT = Path(__file__).resolve().parent.parent
TRAIN = str(ROOT / "toolkit" / "train.py")


def tiny_overrides(tmp: Path, cache: Path, **extra: object) -> list[str]:
    """A model and data small enough for a step in well under a second on a CPU core."""
    values: dict[str, object] = {
        "general.output_dir": tmp / "out", "data.cache_dir": cache,
        "tracking.db_path": tmp / "toolkit.db", "data.embedded_train_size": 96,
        "data.embedded_eval_size": 16, "tokenizer.vocab_size": 400,
        "tokenizer.max_source_length": 96, "tokenizer.max_target_length": 32,
        "training.per_device_train_batch_size": 8, "training.per_device_eval_batch_size": 16,
        "training.learning_rate": 1e-3, "training.logging_steps": 1,
        "training.eval_strategy": "no", "generation.num_beams": 1,
        "generation.max_new_tokens": 8, "meta.experiment_name": "tiny",
        "callbacks": "[log_file, metrics_history, nan_guard]",
    }
    values.update({k.replace("__", "."): v for k, v in extra.items()})
    return [f"{k}={v}" for k, v in values.items()]


def environment() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", WANDB_MODE="offline",
               WANDB_SILENT="true", TOKENIZERS_PARALLELISM="false")
    env.pop("TOOLKIT_DATA__CACHE_DIR", None)
    return env


def run_train(args: list[str], launcher: list[str] | None = None, timeout: float = 600,
              ) -> subprocess.CompletedProcess:
    """`toolkit/train.py ARGS` in a fresh process (or under a launcher such as torchrun)."""
    command = [*(launcher or [sys.executable]), TRAIN, "--config",
               str(ROOT / "config" / "base_config.yaml"), *args]
    return subprocess.run(command, cwd=ROOT, env=environment(), capture_output=True,
                          text=True, timeout=timeout)


def torchrun(nproc: int, port: int) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}",
            f"--master_port={port}"]


class KillAt(Callback):
    """SIGKILL this process `delay` seconds after optimizer step `step` (0: at once)."""

    main_process_only = False

    def __init__(self, step: int, delay: float = 0.0) -> None:
        self.step = step
        self.delay = delay

    def on_step_end(self, state, lr: float) -> None:
        if state.global_step != self.step:
            return
        if not self.delay:
            os.kill(os.getpid(), signal.SIGKILL)
        threading.Timer(self.delay, os.kill, (os.getpid(), signal.SIGKILL)).start()


class SignalAt(Callback):
    """Send this process `signum` `times` times at optimizer step `step` (a preemption)."""

    def __init__(self, step: int, signum: int = int(signal.SIGTERM), times: int = 1) -> None:
        self.step = step
        self.signum = signum
        self.times = times

    def on_step_end(self, state, lr: float) -> None:
        if state.global_step == self.step:
            for _ in range(self.times):
                os.kill(os.getpid(), self.signum)
                time.sleep(1.5)  # past the window in which a repeat counts as the same signal


class FailAt(Callback):
    """Raise at optimizer step `step` on process `rank` (critical: the run must fail)."""

    critical = True
    main_process_only = False

    def __init__(self, step: int, rank: int = 0) -> None:
        self.step = step
        self.rank = rank

    def on_step_end(self, state, lr: float) -> None:
        rank = int(os.environ.get("RANK", "0"))
        if state.global_step == self.step and rank == self.rank:
            raise RuntimeError(f"injected failure at step {self.step} on rank {rank}")
