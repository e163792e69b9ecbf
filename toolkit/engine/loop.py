"""The training loop, top to bottom. Everything it needs is built beforehand (engine/setup.py).

One optimizer step = one accumulation window of micro-batches. The loss of every micro-batch is
its summed token loss divided by the target tokens of the *whole window across all processes*,
so accumulation and world size never change the gradient (the 2024 accumulation-loss bug).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from accelerate import Accelerator

from toolkit.data.collator import target_tokens
from toolkit.engine import checkpoint
from toolkit.engine.loss import token_loss_sum
from toolkit.events import Event, EventBus, RunContext
from toolkit.state import TrainState

logger = logging.getLogger(__name__)


@dataclass
class LoopParts:
    """What the loop works on; built by engine/setup.py from the config."""

    accelerator: Accelerator
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    loader: torch.utils.data.DataLoader  # batch_sampler is an EpochBatchSampler
    bus: EventBus
    run: RunContext
    state: TrainState
    causal: bool
    accumulation: int
    max_grad_norm: float
    label_smoothing: float
    logging_steps: int
    eval_every: int  # optimizer steps; 0 = only at epoch ends (when evaluating at all)
    eval_at_epoch_end: bool
    save_every: int
    save_total_limit: int | None
    batches_per_epoch: int
    evaluate: Callable[[], dict[str, float]]  # runs evaluation, updates best/, returns metrics
    stop_requested: Callable[[], bool]  # a preemption signal arrived on this process


def windows(batches: Iterator[dict], size: int) -> Iterator[list[dict]]:
    """Consecutive accumulation windows; the epoch's last one may be shorter."""
    while window := list(itertools.islice(batches, size)):
        yield window


def timed_batches(loader: torch.utils.data.DataLoader, device: torch.device,
                  waited: list[float]) -> Iterator[dict]:
    """Batches on the device; seconds spent waiting for the loader are added to waited[0]."""
    iterator = iter(loader)
    while True:
        start = time.perf_counter()
        try:
            batch = next(iterator)
        except StopIteration:
            return
        waited[0] += time.perf_counter() - start
        yield {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def sync_context(accelerator: Accelerator, model: torch.nn.Module, sync: bool):
    """What `accelerator.accumulate` does, for windows whose length we decide ourselves.

    `accumulate` counts micro-batches itself and syncs every gradient_accumulation_steps-th,
    so an epoch's shorter last window would never step (its gradients would leak into the next
    epoch's first window). The flag it sets is private API (`GradientState._set_sync_gradients`;
    it gates clipping, AcceleratedOptimizer.step and DeepSpeed's engine step) and
    tests/test_loop.py pins both facts, so an accelerate upgrade that changes them fails there.
    """
    accelerator.gradient_state._set_sync_gradients(sync)
    return contextlib.nullcontext() if sync else accelerator.no_sync(model)


def agree(accelerator: Accelerator, *flags: bool) -> list[bool]:
    """Each flag true on every process when it is true on any (one tiny all-reduce)."""
    if accelerator.num_processes == 1:
        return list(flags)
    value = torch.tensor([1.0 if flag else 0.0 for flag in flags], device=accelerator.device)
    return [bool(v > 0) for v in accelerator.reduce(value, reduction="sum").tolist()]


def train_loop(p: LoopParts) -> str:
    """Train until max_steps, a stop request or a signal; returns completed or interrupted."""
    acc, model, state, bus = p.accelerator, p.model, p.state, p.bus
    device = acc.device
    params = [q for q in model.parameters() if q.requires_grad]
    # summed token loss (this rank's) and tokens (all ranks') since the last log; a resumed
    # run restores the open window, its loss carried by the main process alone
    log_loss = torch.tensor(state.pending_loss_sum if acc.is_main_process else 0.0,
                            device=device)
    log_tokens = torch.tensor(state.pending_tokens, device=device)
    waited = [0.0]  # seconds spent waiting for data since the last log
    bus.emit(Event.TRAIN_BEGIN, state, run=p.run)
    model.train()
    control = bus.control
    while state.global_step < state.max_steps:
        sampler = p.loader.batch_sampler
        sampler.set_epoch(state.epoch, start_batch=state.batch_in_epoch)
        if state.batch_in_epoch == 0:
            bus.emit(Event.EPOCH_BEGIN, state)
        for window in windows(timed_batches(p.loader, device, waited), p.accumulation):
            # tokens of the whole window on every process: the loss denominator
            local_tokens = [target_tokens(b["labels"], p.causal) for b in window]
            window_tokens = acc.reduce(torch.stack(local_tokens).sum().float(), reduction="sum")
            scale = acc.num_processes * acc.gradient_accumulation_steps / window_tokens.clamp(min=1)
            for index, (batch, tokens) in enumerate(zip(window, local_tokens)):
                with sync_context(acc, model, sync=index == len(window) - 1):
                    loss_sum = token_loss_sum(model, batch, tokens, p.causal, p.label_smoothing)
                    acc.backward(loss_sum * scale)
                log_loss += loss_sum.detach()
            log_tokens += window_tokens
            # the optimizer step (only here do DDP gradients synchronise)
            grad_norm = acc.clip_grad_norm_(params, p.max_grad_norm) if p.max_grad_norm else None
            p.optimizer.step()
            p.scheduler.step()
            p.optimizer.zero_grad(set_to_none=True)
            state.global_step += 1
            state.micro_step += len(window)
            state.batch_in_epoch += len(window)
            state.samples_seen += sum(len(b["labels"]) for b in window) * acc.num_processes
            lr = p.optimizer.param_groups[0]["lr"]  # what the optimizer used, whoever schedules it
            bus.emit(Event.STEP_END, state, lr=lr)
            # logging: the only place a step reads values back to the host
            if state.global_step % p.logging_steps == 0 or state.global_step == state.max_steps:
                total = acc.reduce(log_loss, reduction="sum") / log_tokens.clamp(min=1)
                epoch = state.epoch + state.batch_in_epoch / p.batches_per_epoch
                metrics = {"train/loss": total.item(), "train/learning_rate": lr,
                           "train/epoch": round(epoch, 4),
                           "train/target_tokens": log_tokens.item(),
                           "train/data_wait_s": waited[0]}
                if grad_norm is not None:
                    metrics["train/grad_norm"] = float(grad_norm)
                state.last_metrics.update(metrics)
                log_loss.zero_()
                log_tokens.zero_()
                waited[0] = 0.0
                bus.emit(Event.LOG, state, metrics=metrics)
            if p.eval_every and state.global_step % p.eval_every == 0:
                p.evaluate()
                model.train()
            preempted, stop, save_now = agree(acc, p.stop_requested(),
                                              control.should_training_stop, control.should_save)
            if preempted:
                save(p, log_loss, log_tokens)
                return "interrupted"
            ends_here = stop or state.global_step >= state.max_steps
            inside_epoch = state.batch_in_epoch < p.batches_per_epoch
            if save_now or (p.save_every and state.global_step % p.save_every == 0) or (
                    ends_here and inside_epoch):  # a run that ends mid-epoch keeps its last step
                save(p, log_loss, log_tokens)
            if ends_here:
                if stop:
                    logger.info("Stopping: %s", control.stop_reason)
                if inside_epoch:
                    return "completed"
                break  # the epoch's end comes next
        # the epoch ran out
        state.epoch += 1
        state.batch_in_epoch = 0
        bus.emit(Event.EPOCH_END, state)
        if p.eval_at_epoch_end:
            p.evaluate()
            model.train()
        save(p, log_loss, log_tokens)
        (stop,) = agree(acc, control.should_training_stop)
        if stop:
            logger.info("Stopping: %s", control.stop_reason)
            break
    return "completed"


def save(p: LoopParts, log_loss: torch.Tensor, log_tokens: torch.Tensor) -> Path:
    """Commit a checkpoint of this step (all ranks), then rotate old ones (main only)."""
    p.state.pending_loss_sum = p.accelerator.reduce(log_loss.clone(), reduction="sum").item()
    p.state.pending_tokens = log_tokens.item()
    parts = checkpoint.Resumable(p.model, p.optimizer, p.scheduler, p.loader.generator)
    directory = checkpoint.save(p.accelerator, p.run.run_dir, p.state, parts)
    if p.accelerator.is_main_process:
        checkpoint.rotate(p.run.run_dir, p.save_total_limit, p.state.best_step)
    p.bus.control.should_save = False
    p.bus.emit(Event.SAVE, p.state, checkpoint_dir=directory)
    return directory
