"""Why the loop sets accelerate's sync flag itself (engine/loop.py `sync_context`)."""

from __future__ import annotations

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState

from toolkit.engine.loop import agree, sync_context, windows


def prepared(accumulation: int) -> tuple[Accelerator, torch.nn.Module, torch.optim.Optimizer]:
    AcceleratorState._reset_state()
    accelerator = Accelerator(gradient_accumulation_steps=accumulation, cpu=True)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model, optimizer = accelerator.prepare(model, optimizer)
    return accelerator, model, optimizer


def one_micro_batch(accelerator: Accelerator, model: torch.nn.Module) -> None:
    accelerator.backward(model(torch.ones(2, 4)).sum())


def test_accumulate_would_skip_a_short_last_window() -> None:
    accelerator, model, optimizer = prepared(accumulation=4)
    before = model.weight.detach().clone()
    with accelerator.accumulate(model):  # one micro-batch of a window of 4
        one_micro_batch(accelerator, model)
    assert not accelerator.sync_gradients
    optimizer.step()  # AcceleratedOptimizer skips the step while gradients are not synced
    assert torch.equal(model.weight, before)


def test_sync_context_steps_a_window_of_any_length() -> None:
    accelerator, model, optimizer = prepared(accumulation=4)
    before = model.weight.detach().clone()
    with sync_context(accelerator, model, sync=True):  # the last micro-batch of a short window
        one_micro_batch(accelerator, model)
    assert accelerator.sync_gradients
    optimizer.step()
    assert not torch.equal(model.weight, before)
    with sync_context(accelerator, model, sync=False):
        one_micro_batch(accelerator, model)
    assert not accelerator.sync_gradients


def test_windows_cut_an_epoch_with_a_shorter_last_window() -> None:
    assert [len(w) for w in windows(iter(range(10)), 4)] == [4, 4, 2]


def test_agree_on_one_process_is_the_flags_themselves() -> None:
    accelerator, _, _ = prepared(accumulation=1)
    assert agree(accelerator, True, False, True) == [True, False, True]
