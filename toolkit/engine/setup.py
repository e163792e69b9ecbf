"""Everything the loop works on, built from the config: accelerator, loader, optimizer, schedule.

``build_accelerator`` comes first (the trainer needs it for the tokenizer and the data);
``prepare`` comes last and hands the model, optimizer and schedule to ``accelerator.prepare``
(DDP, DeepSpeed or FSDP as the accelerate config says), which is why the DeepSpeed `auto`
values are filled just before it.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import DummyOptim, DummyScheduler, set_seed

from toolkit.config.schema import Config, Training
from toolkit.console import setup_logging
from toolkit.data.collator import TrainCollator
from toolkit.data.sampler import EpochBatchSampler
from toolkit.data.splits import DialogueSplit
from toolkit.engine.batch_size import fit_micro_batch, probe_step
from toolkit.engine.deepspeed_config import check_deepspeed, deepspeed_config, fill_schedule
from toolkit.engine.devices import (
    accelerate_refusal,
    choose_precision,
    lone_ranks_problem,
    single_cpu_process_note,
)
from toolkit.engine.optim import build_optimizer, build_scheduler, param_groups, warmup_steps
from toolkit.errors import ToolkitError

logger = logging.getLogger("toolkit")


def build_accelerator(cfg: Config) -> Accelerator:
    """The Accelerator for this config, logging and seeds set, DeepSpeed's JSON checked.

    Runs before any data is read, so a refused precision or DeepSpeed value costs seconds.
    """
    t = cfg.training
    precision, reason = choose_precision(t.mixed_precision)
    AcceleratorState._reset_state()  # keeps the process group, drops an earlier precision
    try:
        accelerator = Accelerator(gradient_accumulation_steps=t.gradient_accumulation_steps,
                                  mixed_precision=precision, step_scheduler_with_optimizer=False)
    except (ValueError, RuntimeError) as error:  # a plugin's validation (FSDP, DeepSpeed)
        raise ToolkitError(accelerate_refusal(error)) from None
    lone = lone_ranks_problem(accelerator.num_processes)
    if lone:
        raise ToolkitError(lone)
    setup_logging(accelerator.is_main_process, cfg.general.log_level)
    if accelerator.is_main_process:
        logger.info("precision %s, from %s", precision, reason)
        note = single_cpu_process_note(accelerator.num_processes)
        if note:
            logger.warning(note)
    check_deepspeed(accelerator, t, precision)
    set_seed(cfg.general.seed)
    if cfg.general.deterministic:  # the guide's reproducibility.deterministic
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True)
    return accelerator


def build_loader(cfg: Config, accelerator: Accelerator, train: DialogueSplit,
                 pad_token_id: int) -> torch.utils.data.DataLoader:
    """Global batches cut by (seed, epoch) alone, so resume and world size keep the order."""
    t = cfg.training
    sampler = EpochBatchSampler(train.features["length"], t.per_device_train_batch_size,
                                accelerator.num_processes, accelerator.process_index,
                                cfg.general.seed, t.group_by_length)
    return torch.utils.data.DataLoader(
        train.features, batch_sampler=sampler, collate_fn=TrainCollator(pad_token_id),
        num_workers=t.dataloader_num_workers, pin_memory=accelerator.device.type == "cuda",
        # its own generator: creating an iterator must not draw from the global RNG, or a
        # resumed run's dropout masks would differ from the uninterrupted run's
        generator=torch.Generator().manual_seed(cfg.general.seed))


def planned_steps(t: Training, batches_per_epoch: int) -> int:
    """Optimizer steps of the whole run: max_steps, or the epochs' accumulation windows."""
    if t.max_steps > 0:
        return t.max_steps
    return max(1, math.ceil(t.num_train_epochs * batches_per_epoch
                            / t.gradient_accumulation_steps))


def fit_batch_size(t: Training, accelerator: Accelerator, model: torch.nn.Module,
                   train: DialogueSplit, pad_token_id: int) -> None:
    """Shrink the micro-batch until one step fits; accumulation keeps the global batch."""
    if accelerator.device.type == "cpu":
        if accelerator.is_main_process:
            logger.warning("training.auto_find_batch_size has no effect on CPU: running out of "
                           "host memory kills the process instead of raising")
        return
    model.to(accelerator.device)
    step = probe_step(model, train.features, TrainCollator(pad_token_id), accelerator.device)
    t.per_device_train_batch_size, t.gradient_accumulation_steps = fit_micro_batch(
        step, t.per_device_train_batch_size, t.gradient_accumulation_steps)
    accelerator.gradient_accumulation_steps = t.gradient_accumulation_steps


@dataclass
class Prepared:
    """The prepared training objects; the scheduler is stepped by the loop once per step."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    max_steps: int


def prepare(cfg: Config, accelerator: Accelerator, model: torch.nn.Module,
            batches_per_epoch: int) -> Prepared:
    """Optimizer and schedule for the planned steps, through ``accelerator.prepare``.

    Ours unless the DeepSpeed JSON has `optimizer` / `scheduler` sections (then DeepSpeed
    builds and steps them, and saves them in its checkpoint). Our schedule is built on the
    *prepared* optimizer: under ZeRO-Offload accelerate swaps the torch AdamW for
    DeepSpeedCPUAdam, and a schedule on the original would change a learning rate nobody uses.
    """
    t = cfg.training
    max_steps = planned_steps(t, batches_per_epoch)
    warmup = warmup_steps(t.warmup_steps, t.warmup_ratio, max_steps)
    ds = deepspeed_config(accelerator)
    ds_optimizer, ds_scheduler = (ds is not None and "optimizer" in ds,
                                  ds is not None and "scheduler" in ds)
    if ds_optimizer:
        optimizer = DummyOptim(param_groups(model, t.weight_decay), lr=t.learning_rate,
                               weight_decay=t.weight_decay)
    else:
        optimizer = build_optimizer(model, t.learning_rate, t.weight_decay,
                                    (t.adam_beta1, t.adam_beta2), t.adam_epsilon, t.optim)
    if ds_scheduler:
        fill_schedule(ds, t, max_steps, warmup)
        scheduler = DummyScheduler(optimizer, warmup_num_steps=warmup)
    elif ds_optimizer:  # DeepSpeed's optimizer, our schedule (DeepSpeed steps it)
        scheduler = DummyScheduler(optimizer, lr_scheduler_callable=lambda built: build_scheduler(
            built, t.lr_scheduler_type, warmup, max_steps))
    if ds_optimizer or ds_scheduler:
        model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    else:
        model, optimizer = accelerator.prepare(model, optimizer)
        scheduler = build_scheduler(optimizer, t.lr_scheduler_type, warmup, max_steps)
    if t.torch_compile:
        model = torch.compile(model)
    return Prepared(model, optimizer, scheduler, max_steps)
