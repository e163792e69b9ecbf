"""Atomic checkpoints: written to a temp dir, a manifest last, then renamed; safe rotation.

A directory `checkpoints/step-N/` exists only when complete: `accelerator.save_state` output
from every rank, `trainer_state.json`, and `manifest.json` (every file with its size), written
last before the rename. Anything else (a `.tmp-*` dir, a missing or mismatched manifest) is
not a checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path

from accelerate import Accelerator

from toolkit.errors import CheckpointError
from toolkit.state import TrainState

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
STATE_FILE = "trainer_state.json"
STEP_DIR = re.compile(r"^step-(\d+)$")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_manifest(directory: Path) -> None:
    files = {str(p.relative_to(directory)): p.stat().st_size
             for p in sorted(directory.rglob("*")) if p.is_file() and p.name != MANIFEST}
    tmp = directory / f"{MANIFEST}.tmp"
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump({"files": files}, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.rename(directory / MANIFEST)


def verify(directory: Path) -> None:
    """Raise CheckpointError naming the first missing, truncated or unlisted part."""
    manifest = directory / MANIFEST
    if not manifest.is_file():
        raise CheckpointError(f"checkpoint {directory} has no {MANIFEST}: it was never "
                              f"completed; resume from an earlier checkpoint")
    try:
        files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    except (json.JSONDecodeError, KeyError) as error:
        raise CheckpointError(f"{manifest} is corrupt ({error}); resume from an earlier "
                              f"checkpoint") from None
    for name, size in files.items():
        path = directory / name
        if not path.is_file():
            raise CheckpointError(f"checkpoint file {path} is missing; the checkpoint is "
                                  f"incomplete, resume from an earlier one")
        if path.stat().st_size != size:
            raise CheckpointError(f"checkpoint file {path} has {path.stat().st_size} bytes, "
                                  f"the manifest says {size}: it is corrupt, resume from an "
                                  f"earlier checkpoint")
    if STATE_FILE not in files:
        raise CheckpointError(f"checkpoint {directory} has no {STATE_FILE}")


def step_of(directory: Path) -> int:
    match = STEP_DIR.match(directory.name)
    return int(match.group(1)) if match else -1


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Committed checkpoint dirs of a run, oldest first (not verified)."""
    root = run_dir / "checkpoints"
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.is_dir() and STEP_DIR.match(p.name)),
                  key=step_of)


def newest_valid(run_dir: Path) -> Path | None:
    """The newest checkpoint that verifies; broken newer ones are reported and skipped."""
    for directory in reversed(list_checkpoints(run_dir)):
        try:
            verify(directory)
        except CheckpointError as error:
            logger.warning("Skipping checkpoint %s: %s", directory.name, error)
            continue
        return directory
    return None


def save(accelerator: Accelerator, run_dir: Path, state: TrainState) -> Path:
    """Write a complete checkpoint of the current step on every rank; return its path."""
    root = run_dir / "checkpoints"
    final = root / f"step-{state.global_step}"
    tmp = root / f".tmp-step-{state.global_step}"
    if accelerator.is_main_process:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp), safe_serialization=True)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        state.save(tmp / STATE_FILE)
        write_manifest(tmp)
        if final.exists():  # the same step saved twice (epoch end == save step): replace it
            shutil.rmtree(final)
        tmp.rename(final)
        _fsync_dir(root)
    accelerator.wait_for_everyone()
    return final


def rotate(run_dir: Path, keep: int | None, best_step: int | None) -> list[Path]:
    """Delete the oldest committed checkpoints beyond `keep`, never the newest or the best."""
    checkpoints = list_checkpoints(run_dir)
    if keep is None or len(checkpoints) <= keep:
        return []
    protected = {checkpoints[-1]} | {c for c in checkpoints if step_of(c) == best_step}
    removable = [c for c in checkpoints if c not in protected]
    excess = len(checkpoints) - keep
    removed = removable[:max(0, excess)]
    for directory in removed:
        shutil.rmtree(directory, ignore_errors=True)
    return removed
