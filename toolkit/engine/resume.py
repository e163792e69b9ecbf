"""Resuming: which checkpoint, whether the config still describes the same run, and the restore."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accelerate import Accelerator
from accelerate.utils import broadcast_object_list

from toolkit.config.loader import config_hash
from toolkit.config.schema import Config
from toolkit.engine import checkpoint
from toolkit.engine import run_dir as runs
from toolkit.errors import CheckpointError
from toolkit.state import TrainState

logger = logging.getLogger("toolkit")


def resume_point(resume: str | None, output_dir: str, experiment_name: str) -> Path | None:
    """The checkpoint to continue (`auto`, a run dir or a step dir), or None for a new run."""
    if not resume:
        return None
    return runs.find_resume_checkpoint(str(resume), output_dir, experiment_name)


def choose_run_dir(accelerator: Accelerator, resume_from: Path | None, output_dir: str,
                   experiment_name: str) -> Path:
    """The resumed run's directory, or a new one named on the main process for every rank."""
    if resume_from is not None:
        return resume_from.parent.parent
    chosen = [None]
    if accelerator.is_main_process:
        chosen[0] = str(runs.new_run_dir(output_dir, experiment_name))
    if accelerator.num_processes > 1:
        broadcast_object_list(chosen, from_process=0)
    return Path(chosen[0])


def check_same_run(run_dir: Path, config: dict[str, Any], num_processes: int) -> str | None:
    """Refuse a config that changes the run; a warning when only the world size differs."""
    changes = runs.check_resume_config(run_dir, config)
    if changes:
        raise CheckpointError(
            "the config differs from the run being resumed in keys that change the run: "
            + "; ".join(changes) + ". Resume with the run's own config (its config.yaml), "
            "or start a new run without --resume")
    before = runs.saved_world_size(run_dir)
    if before is not None and before != num_processes:
        return (f"the run was started with {before} process(es) and resumes with "
                f"{num_processes}: the global batch and the data order change from here on, "
                f"so the result will not match an uninterrupted run")
    return None


@dataclass
class RunStart:
    """Where this run lives and what it continues, decided the same on every process."""

    run_dir: Path
    resume_from: Path | None  # the checkpoint to continue, or None for a new run
    world_note: str | None  # a warning when the process count changed since the checkpoint
    config_hash: str


def start_run(accelerator: Accelerator, cfg: Config, resume: str | None) -> RunStart:
    """Find the checkpoint, choose the run directory, refuse a changed run, write its files."""
    config = dataclasses.asdict(cfg)
    resume_from = resume_point(resume or cfg.checkpoint.resume, cfg.general.output_dir,
                               cfg.meta.experiment_name)
    run_dir = choose_run_dir(accelerator, resume_from, cfg.general.output_dir,
                             cfg.meta.experiment_name)
    world_note = check_same_run(run_dir, config, accelerator.num_processes) \
        if resume_from else None
    if accelerator.is_main_process:
        runs.write_run_files(run_dir, config, accelerator.num_processes,
                             accelerator.mixed_precision)
        for stale in (run_dir / "checkpoints").glob(".tmp-*"):  # a save a kill interrupted
            shutil.rmtree(stale, ignore_errors=True)
    accelerator.wait_for_everyone()
    return RunStart(run_dir, resume_from, world_note, config_hash(config))


def restore(accelerator: Accelerator, directory: Path, parts: checkpoint.Resumable,
            planned: TrainState, world_note: str | None) -> TrainState:
    """Model, optimizer, scheduler, scaler and RNG from `directory`, plus the TrainState."""
    try:
        state = checkpoint.load(accelerator, directory, parts)
    except CheckpointError:
        raise
    except Exception as error:
        raise CheckpointError(f"cannot load checkpoint {directory}: {type(error).__name__}: "
                              f"{error}; resume from an earlier checkpoint") from None
    state.max_steps = planned.max_steps  # the current config may extend the run
    if world_note:
        logger.warning(world_note)
        # batch_in_epoch counts global micro-batches: re-express it in the new global size
        state.batch_in_epoch = (state.batch_in_epoch * state.global_batch_size
                                // planned.global_batch_size)
        state.world_size = planned.world_size
        state.global_batch_size = planned.global_batch_size
    if accelerator.is_main_process:
        logger.info("resumed from %s at step %d (epoch %d, batch %d)", directory,
                    state.global_step, state.epoch, state.batch_in_epoch)
    return state
