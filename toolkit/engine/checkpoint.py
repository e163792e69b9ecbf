"""Atomic, verified checkpoints that never unpickle arbitrary objects.

`checkpoints/step-N/` exists only when complete: written into `.tmp-step-N/`, `manifest.json`
(every file with its size and SHA-256) last, then renamed. Resume verifies every checksum first
and refuses a changed, missing or unlisted file by name.

Nothing in a checkpoint can run code when loaded (accelerate's `save_state` pickles the RNG
state and registered objects, and loads them with `torch.load(weights_only=False)`):

    model.safetensors      weights (safetensors: tensors only)
    optimizer.pt           optimizer state, loaded with torch.load(weights_only=True)
    scheduler.json         LR scheduler state
    scaler.json            fp16 gradient scaler state (when there is one)
    rng_state_<rank>.json  Python, NumPy, torch, CUDA and data-loader generator states
    trainer_state.json     TrainState
    pytorch_model/         under DeepSpeed instead of the first two: its own files, loaded through
                           its checkpoint engine restricted to weights_only with an allowlist of
                           DeepSpeed's plain record classes
    under FSDP             accelerate's sharded files; torch.distributed.checkpoint reads their
                           `.metadata` with plain pickle: resume FSDP checkpoints you trust
                           (checksums catch corruption, not a forged manifest)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType
from safetensors.torch import load_file, load_model, save_file, save_model

from toolkit.errors import CheckpointError
from toolkit.models.adapters import load_trainable_state, trainable_state
from toolkit.state import TrainState

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 2  # 1: sizes only, accelerate's pickled state
STATE_FILE = "trainer_state.json"
WEIGHTS_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.pt"
SCHEDULER_FILE = "scheduler.json"
SCALER_FILE = "scaler.json"
DEEPSPEED_TAG = "pytorch_model"
STEP_DIR = re.compile(r"^step-(\d+)$")


@dataclass
class Resumable:
    """The live objects a checkpoint saves and restores besides the TrainState."""

    model: torch.nn.Module  # as returned by accelerator.prepare
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generator: torch.Generator | None = None  # the training DataLoader's


# ------------------------------------------------------------------------------- manifest
def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_manifest(directory: Path) -> None:
    files = {str(p.relative_to(directory)): {"size": p.stat().st_size, "sha256": sha256(p)}
             for p in sorted(directory.rglob("*")) if p.is_file() and p.name != MANIFEST}
    tmp = directory / f"{MANIFEST}.tmp"
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump({"format": MANIFEST_FORMAT, "files": files}, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.rename(directory / MANIFEST)


def _read_manifest(directory: Path) -> dict[str, dict[str, Any]]:
    manifest = directory / MANIFEST
    if not manifest.is_file():
        raise CheckpointError(f"checkpoint {directory} has no {MANIFEST}: it was never "
                              f"completed; resume from an earlier checkpoint")
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        files = data["files"]
        version = data.get("format", 1)
    except (ValueError, KeyError, TypeError, AttributeError) as error:  # also not UTF-8
        raise CheckpointError(f"{manifest} is corrupt ({error}); resume from an earlier "
                              f"checkpoint") from None
    if version != MANIFEST_FORMAT:
        raise CheckpointError(
            f"checkpoint {directory} was written by an older toolkit (no checksums, pickled "
            f"state) and cannot be resumed safely; start a new run, or start from its weights "
            f"with model.checkpoint=<run>/final")
    return files


_verified: set[tuple[str, int]] = set()  # (directory, manifest mtime): hash each file once


def verify(directory: Path) -> None:
    """Raise CheckpointError naming the first missing, changed or unlisted file."""
    files = _read_manifest(directory)
    key = (str(directory.resolve()), (directory / MANIFEST).stat().st_mtime_ns)
    if key in _verified:
        return
    advice = "resume from an earlier checkpoint"
    present = {str(p.relative_to(directory)) for p in directory.rglob("*")
               if p.is_file() and p.name != MANIFEST}
    unlisted = sorted(present - set(files))
    if unlisted:
        raise CheckpointError(f"checkpoint file {directory / unlisted[0]} is not in the "
                              f"manifest: the checkpoint was changed after it was written; "
                              f"{advice}")
    for name, entry in files.items():
        path = directory / name
        try:
            size, digest = int(entry["size"]), str(entry["sha256"])
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{directory / MANIFEST} is corrupt (entry {name!r}); "
                                  f"{advice}") from None
        if name not in present:
            raise CheckpointError(f"checkpoint file {path} is missing; the checkpoint is "
                                  f"incomplete, {advice}")
        if path.stat().st_size != size:
            raise CheckpointError(f"checkpoint file {path} has {path.stat().st_size} bytes, "
                                  f"the manifest says {size}: it is corrupt, {advice}")
        if sha256(path) != digest:
            raise CheckpointError(f"checkpoint file {path} does not match its SHA-256 in the "
                                  f"manifest: it is corrupt or was changed, {advice}")
    if STATE_FILE not in files:
        raise CheckpointError(f"checkpoint {directory} has no {STATE_FILE}")
    _verified.add(key)


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


# ------------------------------------------------------------------------- RNG as JSON
def _rng_file(accelerator: Accelerator) -> str:
    return f"rng_state_{accelerator.process_index}.json"


def rng_state(generator: torch.Generator | None) -> dict[str, Any]:
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys.tolist(), pos, has_gauss, cached],
        "torch": torch.get_rng_state().tolist(),
        "cuda": [s.tolist() for s in torch.cuda.get_rng_state_all()]
        if torch.cuda.is_available() else [],
    }
    if generator is not None:
        state["loader"] = generator.get_state().tolist()
    return state


def set_rng_state(state: dict[str, Any], generator: torch.Generator | None) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]])
    if generator is not None and "loader" in state:
        generator.set_state(torch.tensor(state["loader"], dtype=torch.uint8))


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------- DeepSpeed
def _deepspeed_safe_globals() -> list[Any]:
    """Plain record classes DeepSpeed pickles into its ZeRO optimizer files, nothing callable."""
    from deepspeed.runtime.fp16.loss_scaler import DynamicLossScaler, LossScaler
    from deepspeed.runtime.zero.config import ZeroStageEnum
    from deepspeed.utils.tensor_fragment import fragment_address

    return [LossScaler, DynamicLossScaler, ZeroStageEnum, fragment_address]


class _WeightsOnlyLoads:
    """DeepSpeed's checkpoint engine, except that `load` refuses arbitrary pickled objects."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def load(self, path: str, map_location: Any = None) -> Any:
        with torch.serialization.safe_globals(_deepspeed_safe_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)


@contextmanager
def _weights_only_deepspeed(engine: Any) -> Iterator[None]:
    if engine.load_universal_checkpoint():  # its loaders call torch.load(weights_only=False)
        raise CheckpointError("resuming a DeepSpeed universal checkpoint is not supported "
                              "(it unpickles arbitrary objects); set "
                              "`load_universal_checkpoint: false` in the DeepSpeed config")
    original = engine.checkpoint_engine
    engine.checkpoint_engine = _WeightsOnlyLoads(original)
    try:
        yield
    finally:
        engine.checkpoint_engine = original


# ----------------------------------------------------------------------- save and load
def _save_parts(accelerator: Accelerator, directory: Path, parts: Resumable) -> None:
    """Every rank writes its RNG state; the main process the shared state."""
    kind = accelerator.distributed_type
    if kind == DistributedType.DEEPSPEED:
        parts.model.save_checkpoint(str(directory), DEEPSPEED_TAG)
    elif kind == DistributedType.FSDP:
        from accelerate.utils import save_fsdp_model, save_fsdp_optimizer

        fsdp = accelerator.state.fsdp_plugin
        save_fsdp_model(fsdp, accelerator, parts.model, str(directory))
        save_fsdp_optimizer(fsdp, accelerator, parts.optimizer, parts.model, str(directory))
    elif accelerator.is_main_process:
        model = accelerator.unwrap_model(parts.model)
        adapter = trainable_state(model)  # a frozen base is not saved again: adapters alone
        if adapter is None:
            save_model(model, str(directory / WEIGHTS_FILE))
        else:
            save_file(adapter, str(directory / WEIGHTS_FILE))
        torch.save(parts.optimizer.state_dict(), directory / OPTIMIZER_FILE)
    if accelerator.is_main_process:
        _write_json(directory / SCHEDULER_FILE, parts.scheduler.state_dict())
        if accelerator.scaler is not None:
            _write_json(directory / SCALER_FILE, accelerator.scaler.state_dict())
    _write_json(directory / _rng_file(accelerator), rng_state(parts.generator))


def save(accelerator: Accelerator, run_dir: Path, state: TrainState, parts: Resumable) -> Path:
    """Write a complete checkpoint of the current step on every rank; return its path."""
    root = run_dir / "checkpoints"
    final = root / f"step-{state.global_step}"
    tmp = root / f".tmp-step-{state.global_step}"
    if accelerator.is_main_process:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    _save_parts(accelerator, tmp, parts)
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


def load(accelerator: Accelerator, directory: Path, parts: Resumable) -> TrainState:
    """Verify `directory`, restore `parts` and every RNG from it, and return its TrainState."""
    verify(directory)
    kind = accelerator.distributed_type
    if kind == DistributedType.DEEPSPEED:
        with _weights_only_deepspeed(parts.model):
            loaded, _ = parts.model.load_checkpoint(str(directory), DEEPSPEED_TAG)
        if loaded is None:
            raise CheckpointError(f"DeepSpeed found no checkpoint `{DEEPSPEED_TAG}` in "
                                  f"{directory}; resume from an earlier checkpoint")
    elif kind == DistributedType.FSDP:
        from accelerate.utils import load_fsdp_model, load_fsdp_optimizer

        fsdp = accelerator.state.fsdp_plugin
        load_fsdp_model(fsdp, accelerator, parts.model, str(directory))
        load_fsdp_optimizer(fsdp, accelerator, parts.optimizer, parts.model, str(directory))
    else:
        model = accelerator.unwrap_model(parts.model)
        if trainable_state(model) is None:
            load_model(model, str(directory / WEIGHTS_FILE))
        else:
            load_trainable_state(model, load_file(str(directory / WEIGHTS_FILE)), directory)
        parts.optimizer.load_state_dict(
            torch.load(directory / OPTIMIZER_FILE, map_location="cpu", weights_only=True))
    parts.scheduler.load_state_dict(_read_json(directory / SCHEDULER_FILE))
    if accelerator.scaler is not None and (directory / SCALER_FILE).is_file():
        accelerator.scaler.load_state_dict(_read_json(directory / SCALER_FILE))
    rng_file = directory / _rng_file(accelerator)
    if rng_file.is_file():  # absent when resuming with more processes than were saved
        set_rng_state(_read_json(rng_file), parts.generator)
    return TrainState.load(directory / STATE_FILE)


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
