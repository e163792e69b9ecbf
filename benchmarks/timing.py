"""The toolkit callback that times the training loop phase for the benchmark.

Loaded into `toolkit/train.py` as ``benchmarks.timing:LoopTimer``. At the last optimizer step
it appends ``bench/loop_seconds``, ``bench/loop_cpu_seconds`` (from TRAIN_BEGIN, after setup:
tokenization, model build, optimizer; to the end of the last step, before the final save) and
``bench/samples`` to the run's metrics.jsonl; at the end, ``bench/heldout_loss`` of final/.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from benchmarks.common import peak_rss_mb
from toolkit.events import Callback, RunContext
from toolkit.state import TrainState


class LoopTimer(Callback):
    """Loop time, samples and the held-out loss (on `heldout`, saved features) of the run."""

    order = 200  # after the metric producers and MetricsHistory

    def __init__(self, heldout: str | None = None) -> None:
        self.heldout = heldout
        self.start = self.cpu_start = self.rss_before = 0.0
        self.path: Path | None = None

    def _append(self, state: TrainState, record: dict) -> None:
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"step": state.global_step, **record}) + "\n")

    def on_train_begin(self, state: TrainState, run: RunContext) -> None:
        self.path = run.run_dir / "metrics.jsonl"
        self.start, self.cpu_start = time.perf_counter(), time.process_time()
        self.rss_before = peak_rss_mb()

    def on_step_end(self, state: TrainState, lr: float) -> None:
        if state.global_step == state.max_steps:
            self._append(state, {"bench/loop_seconds": time.perf_counter() - self.start,
                                 "bench/loop_cpu_seconds": time.process_time() - self.cpu_start,
                                 "bench/samples": state.samples_seen,
                                 "bench/rss_mb_before_loop": self.rss_before,
                                 "bench/rss_mb_after_loop": peak_rss_mb()})

    def on_train_end(self, state: TrainState, result) -> None:
        if self.heldout is None:
            return
        import datasets

        from benchmarks.common import heldout_loss
        from toolkit.evaluation.predict import load_model_dir

        bundle = load_model_dir(result.final_model_path)
        loss = heldout_loss(bundle.model, datasets.load_from_disk(self.heldout),
                            bundle.tokenizer.pad_token_id)
        self._append(state, {"bench/heldout_loss": loss})
