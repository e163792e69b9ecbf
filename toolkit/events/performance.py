"""Performance subscriber: step time, samples/s, target tokens/s, data wait, peak memory."""

from __future__ import annotations

import logging
import resource
import sys
import time

import torch

from toolkit.events.bus import PRODUCER, Callback, RunContext
from toolkit.state import TrainState

logger = logging.getLogger("toolkit")


def peak_memory_mb() -> float:
    """Peak accelerator memory where there is one, else the process's peak RSS."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return torch.cuda.max_memory_allocated() / 2**20
    if torch.backends.mps.is_available():
        return torch.mps.driver_allocated_memory() / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


class PerformanceMonitor(Callback):
    """Adds perf/* metrics to every log and warns when the loss jumps above its running mean."""

    order = PRODUCER

    def __init__(self, spike_factor: float = 3.0) -> None:
        self.spike_factor = spike_factor
        self.last_time = 0.0
        self.last_step = 0
        self.last_samples = 0
        self.mean_loss: float | None = None

    def on_train_begin(self, state: TrainState, run: RunContext) -> None:
        self.last_time = time.perf_counter()
        self.last_step = state.global_step
        self.last_samples = state.samples_seen

    def on_log(self, state: TrainState, metrics: dict[str, float]) -> None:
        now = time.perf_counter()
        elapsed = max(now - self.last_time, 1e-9)
        steps = max(state.global_step - self.last_step, 1)
        metrics["perf/step_time_s"] = elapsed / steps
        metrics["perf/samples_per_s"] = (state.samples_seen - self.last_samples) / elapsed
        if "train/target_tokens" in metrics:
            metrics["perf/target_tokens_per_s"] = metrics["train/target_tokens"] / elapsed
        if "train/data_wait_s" in metrics:
            metrics["perf/data_wait_fraction"] = metrics["train/data_wait_s"] / elapsed
        metrics["perf/peak_memory_mb"] = peak_memory_mb()
        self.last_time, self.last_step, self.last_samples = now, state.global_step, \
            state.samples_seen
        self._check_spike(state, metrics.get("train/loss"))

    def _check_spike(self, state: TrainState, loss: float | None) -> None:
        if loss is None:
            return
        if self.mean_loss is not None and loss > self.spike_factor * self.mean_loss:
            logger.warning("loss spike at step %d: %.4f vs running mean %.4f", state.global_step,
                           loss, self.mean_loss)
        self.mean_loss = loss if self.mean_loss is None else 0.9 * self.mean_loss + 0.1 * loss

    def on_evaluate(self, state: TrainState, metrics: dict[str, float],
                    samples: list[dict[str, str]]) -> None:
        # evaluation time is not training time
        self.last_time = time.perf_counter()
