"""auto_find_batch_size: the halving keeps the global batch (the step is a real function that
runs out of memory above a size, as CUDA would)."""

import pytest
import torch

from toolkit.engine.batch_size import fit_micro_batch
from toolkit.errors import ToolkitError


def step_that_fits(limit: int):
    tried = []

    def step(n: int) -> None:
        tried.append(n)
        if n > limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    return step, tried


def test_halves_micro_batch_and_doubles_accumulation():
    step, tried = step_that_fits(8)
    assert fit_micro_batch(step, 32, 1) == (8, 4)
    assert tried == [32, 16, 8]


def test_other_errors_pass_through():
    def step(n: int) -> None:
        raise ValueError("not memory")

    with pytest.raises(ValueError):
        fit_micro_batch(step, 16, 1)


def test_gives_up_with_advice_at_one():
    step, _ = step_that_fits(0)
    with pytest.raises(ToolkitError, match="gradient_checkpointing"):
        fit_micro_batch(step, 4, 1)
