"""`training.auto_find_batch_size`: halve the micro-batch on out-of-memory, keep the global batch.

Before training, forward and backward run once on the longest micro-batch; on an OOM the
micro-batch halves and accumulation doubles (accelerate's `find_executable_batch_size` idea,
but the global batch, and so the training run, stays the same).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable

import torch
from accelerate.utils.memory import should_reduce_batch_size

from toolkit.errors import ToolkitError

logger = logging.getLogger("toolkit")


def fit_micro_batch(try_step: Callable[[int], None], micro_batch: int, accumulation: int
                    ) -> tuple[int, int]:
    """The largest micro-batch (halving from `micro_batch`) for which `try_step` fits."""
    while True:
        try:
            try_step(micro_batch)
            return micro_batch, accumulation
        except Exception as error:
            if not should_reduce_batch_size(error):
                raise
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            if micro_batch == 1 or micro_batch % 2:
                raise ToolkitError(
                    f"out of memory with a micro-batch of {micro_batch}; lower "
                    f"tokenizer.max_source_length, enable model.gradient_checkpointing, or use "
                    f"a DeepSpeed ZeRO config") from None
            micro_batch, accumulation = micro_batch // 2, accumulation * 2
            logger.warning("out of memory: micro-batch %d with %d accumulation steps (the "
                           "global batch is unchanged)", micro_batch, accumulation)


def probe_step(model: torch.nn.Module, features, collate, device: torch.device
               ) -> Callable[[int], None]:
    """Forward and backward on the `n` longest training examples, gradients dropped after."""
    longest = sorted(range(len(features)), key=lambda i: -features[i]["length"])

    def run(n: int) -> None:
        batch = {k: v.to(device) for k, v in collate([features[i] for i in longest[:n]]).items()}
        try:
            model(**batch).loss.backward()
        finally:
            model.zero_grad(set_to_none=True)
            del batch

    return run
