"""The run directory: its name, the saved config, and finding the checkpoint to resume from."""

from __future__ import annotations

import json
import logging
import platform
import time
from pathlib import Path
from typing import Any

import yaml

from toolkit.config.loader import config_hash, redact
from toolkit.engine import checkpoint
from toolkit.errors import CheckpointError, ToolkitError
from toolkit.versions import library_versions

logger = logging.getLogger("toolkit")

RUN_INFO = "run_info.json"
# Keys whose change makes a resumed run a different run.
EXACTNESS_KEYS = [
    ("data", "train_path"), ("data", "max_train_samples"), ("data", "embedded_train_size"),
    ("model", "architecture"), ("model", "checkpoint"), ("model", "preset"),
    ("tokenizer", "path"), ("tokenizer", "vocab_size"), ("tokenizer", "max_source_length"),
    ("tokenizer", "max_target_length"), ("training", "per_device_train_batch_size"),
    ("training", "gradient_accumulation_steps"), ("training", "group_by_length"),
    ("general", "seed"),
    # the adapter's shape and the prompt around every example
    ("peft", "method"), ("peft", "r"), ("peft", "target_modules"), ("peft", "modules_to_save"),
    ("data", "source_prefix"), ("data", "system_prompt"), ("data", "instruction"),
    ("data", "prompt_template"),
]




def new_run_dir(output_dir: str, experiment_name: str) -> Path:
    """Create and return `<output_dir>/<experiment>_<time>[_n]` (a new one, even when racing)."""
    stamp = time.strftime("%Y%m%d_%H%M%S")
    base = Path(output_dir) / f"{experiment_name}_{stamp}"
    candidate, n = base, 1
    while True:
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            n += 1
            candidate = base.with_name(f"{base.name}_{n}")
        except OSError as error:  # output_dir is a file, or is not writable
            raise ToolkitError(
                f"cannot create the run directory {candidate} ({error.strerror or error}); set "
                f"general.output_dir to a writable directory (it is {output_dir!r})") from None


def write_run_files(run_dir: Path, config: dict[str, Any], world_size: int,
                    precision: str | None = None) -> str:
    """config.yaml (resolved, redacted, loadable with --config) and run_info.json (with the
    precision the run really uses, which `training.mixed_precision: auto` leaves open)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    clean = redact(config)
    (run_dir / "config.yaml").write_text(
        yaml.safe_dump(clean, allow_unicode=True, sort_keys=False), encoding="utf-8")
    digest = config_hash(config)
    info = {"config_hash": digest, "versions": library_versions(), "world_size": world_size,
            "precision": precision, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": platform.node()}
    (run_dir / RUN_INFO).write_text(json.dumps(info, indent=2), encoding="utf-8")
    return digest


def find_resume_checkpoint(resume: str, output_dir: str, experiment_name: str) -> Path:
    """`auto` (the newest complete checkpoint of this experiment) or a run/checkpoint path."""
    if resume == "auto":
        runs = sorted(Path(output_dir).glob(f"{experiment_name}_*"),
                      key=lambda p: p.stat().st_mtime, reverse=True)
        for run in runs:
            found = checkpoint.newest_valid(run)
            if found is not None:
                return found
        raise CheckpointError(
            f"--resume auto found no complete checkpoint for experiment `{experiment_name}` "
            f"under {output_dir}; start without --resume, or pass a checkpoint directory")
    path = Path(resume)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist; pass a run directory, a "
                              f"checkpoints/step-N directory, or `auto`")
    if checkpoint.STEP_DIR.match(path.name):
        checkpoint.verify(path)
        return path
    found = checkpoint.newest_valid(path)
    if found is None:
        raise CheckpointError(f"{path} holds no complete checkpoint (no checkpoints/step-N with "
                              f"a manifest); start a new run or pass another directory")
    return found


def check_resume_config(run_dir: Path, config: dict[str, Any]) -> list[str]:
    """Differences in the keys that make a resumed run a different run."""
    saved_file = run_dir / "config.yaml"
    if not saved_file.is_file():
        return []
    saved = yaml.safe_load(saved_file.read_text(encoding="utf-8")) or {}
    changes = []
    for section, key in EXACTNESS_KEYS:
        if key not in (saved.get(section) or {}):
            continue  # saved by a toolkit without this key: its default applied
        before = saved.get(section, {}).get(key)
        now = config.get(section, {}).get(key)
        if before != now:
            changes.append(f"{section}.{key}: {before!r} -> {now!r}")
    return changes


def saved_world_size(run_dir: Path) -> int | None:
    try:
        return json.loads((run_dir / RUN_INFO).read_text(encoding="utf-8"))["world_size"]
    except (OSError, KeyError, json.JSONDecodeError):
        return None
