"""The toolkit callback that times the training loop phase for the benchmarks.

Loaded into `toolkit/train.py` as ``benchmarks.timing:LoopTimer``. The clock starts after
optimizer step ``skip_steps`` (0: at TRAIN_BEGIN, after setup: tokenization, model build,
optimizer) and stops at the last step, or at the first step ending after ``deadline``
(time.time()) once a few steps are timed (``past_deadline``), which also stops the run.
Queued CUDA work is waited for at both ends. It appends ``bench/loop_seconds``,
``bench/loop_cpu_seconds``, ``bench/steps`` and ``bench/samples`` (timed),
``bench/first_step``, ``bench/peak_memory_mb`` to the run's metrics.jsonl; at the end,
``bench/heldout_loss`` of final/ on `heldout` (saved features).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from benchmarks.common import past_deadline, peak_rss_mb, synchronize
from toolkit.events import Callback, RunContext, StopTraining
from toolkit.events.bus import AFTER_LOGGERS
from toolkit.events.performance import peak_memory_mb
from toolkit.state import TrainState


class LoopTimer(Callback):
    """Loop time, samples, peak memory and the held-out loss of the run."""

    order = AFTER_LOGGERS  # after the metric producers and MetricsHistory

    def __init__(self, heldout: str | None = None, skip_steps: int = 0,
                 deadline: float | None = None, causal: bool = False,
                 heldout_batch_size: int = 32) -> None:
        self.heldout = heldout
        self.heldout_batch_size = heldout_batch_size
        self.skip_steps = skip_steps
        self.deadline = deadline
        self.causal = causal
        self.start = self.cpu_start = self.rss_before = 0.0
        self.start_samples = 0
        self.started = self.done = False
        self.path: Path | None = None

    def _append(self, state: TrainState, record: dict) -> None:
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"step": state.global_step, **record}) + "\n")

    def _start(self, state: TrainState) -> None:
        synchronize()
        self.start, self.cpu_start = time.perf_counter(), time.process_time()
        self.start_samples, self.started = state.samples_seen, True

    def on_train_begin(self, state: TrainState, run: RunContext) -> None:
        self.path = run.run_dir / "metrics.jsonl"
        self.rss_before = peak_rss_mb()
        if self.skip_steps == 0:
            self._start(state)

    def on_step_end(self, state: TrainState, lr: float) -> None:
        if self.done:
            return
        if not self.started and state.global_step == self.skip_steps:
            self._start(state)
        late = past_deadline(self.deadline, state.global_step, self.skip_steps)
        if state.global_step < state.max_steps and not late:
            return
        synchronize()
        self.done = True
        timed = self.started
        self._append(state, {
            "bench/loop_seconds": time.perf_counter() - self.start if timed else None,
            "bench/loop_cpu_seconds": time.process_time() - self.cpu_start if timed else None,
            "bench/steps": state.global_step - self.skip_steps if timed else 0,
            "bench/samples": state.samples_seen - self.start_samples if timed else 0,
            "bench/first_step": self.skip_steps, "bench/stopped_by_deadline": late,
            "bench/peak_memory_mb": peak_memory_mb(),
            "bench/rss_mb_before_loop": self.rss_before, "bench/rss_mb_after_loop": peak_rss_mb()})
        if late:
            raise StopTraining("benchmark time budget spent")

    def on_train_end(self, state: TrainState, result) -> None:
        if self.heldout is None:
            return
        import datasets

        from benchmarks.common import heldout_loss, load_trained

        model, tokenizer = load_trained(result.final_model_path)
        loss = heldout_loss(model, datasets.load_from_disk(self.heldout),
                            tokenizer.pad_token_id, self.heldout_batch_size, self.causal)
        self._append(state, {"bench/heldout_loss": loss})
