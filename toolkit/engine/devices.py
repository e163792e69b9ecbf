"""Device profiles: the precision rule (with TF32 on CUDA) and what to say about a launch that
will not work as asked (one CPU process, ranks set up alone, a setting accelerate refused)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from toolkit.errors import ConfigError


def _deepspeed_precision() -> str | None:
    """`fp16`/`bf16` when the DeepSpeed JSON of this launch enables one explicitly (not `auto`)."""
    path = os.environ.get("ACCELERATE_DEEPSPEED_CONFIG_FILE")
    if os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() != "true" or not path:
        return None
    try:
        ds = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None  # accelerate itself reports an unreadable file
    enabled = [name for name in ("fp16", "bf16")
               if (ds.get(name) or {}).get("enabled") is True]
    return enabled[0] if enabled else None


def choose_precision(setting: str) -> tuple[str, str]:
    """The precision of this run and why, by one rule (stated in the log).

    1. ``training.mixed_precision`` set to fp16/bf16/no decides; a DeepSpeed JSON that enables
       another precision explicitly is refused (set one of them to ``auto``).
    2. With ``auto``: a DeepSpeed JSON's explicit fp16/bf16, else the accelerate config's
       ``mixed_precision`` (``accelerate launch`` exports it) when it is not ``no``, else the
       device: bf16 on CUDA where supported, fp16 (with a grad scaler) on older CUDA, fp32 on
       CPU and MPS (MPS autocast support varies by op; CPU bf16 is opt-in).
    """
    from_deepspeed = _deepspeed_precision()
    if from_deepspeed == "fp16" and not torch.cuda.is_available():
        raise ConfigError([
            "the DeepSpeed config enables fp16, which DeepSpeed runs on CUDA GPUs only and this "
            "machine has none; set `\"fp16\": {\"enabled\": \"auto\"}` in the DeepSpeed JSON "
            "(training.mixed_precision then decides)"])
    if setting != "auto":
        if from_deepspeed and from_deepspeed != setting:
            raise ConfigError([
                f"the DeepSpeed config enables {from_deepspeed} but training.mixed_precision is "
                f"`{setting}`; set `\"{from_deepspeed}\": {{\"enabled\": \"auto\"}}` in the DeepSpeed "
                f"JSON, or training.mixed_precision={from_deepspeed}"])
        return setting, "training.mixed_precision"
    if from_deepspeed:
        return from_deepspeed, "the DeepSpeed config (training.mixed_precision is auto)"
    launched = os.environ.get("ACCELERATE_MIXED_PRECISION", "no").lower()
    if launched not in ("no", ""):
        return launched, "the accelerate config (training.mixed_precision is auto)"
    if os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true"):
        return "no", "CPU (training.mixed_precision is auto)"
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        chosen = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return chosen, "the GPU (training.mixed_precision is auto)"
    return "no", "no CUDA device (training.mixed_precision is auto)"


def single_cpu_process_note(num_processes: int) -> str | None:
    """A warning when `accelerate launch` with a MULTI_CPU config started one process only.

    Without an MPI launcher, accelerate runs a MULTI_CPU config as one plain process: it
    exports MASTER_ADDR for the processes it was asked for, but no launcher set WORLD_SIZE.
    """
    env = os.environ
    asked_for_more = (env.get("ACCELERATE_USE_CPU", "").lower() == "true" and "MASTER_ADDR" in env
                      and not any(name in env for name in ("WORLD_SIZE", "PMI_SIZE",
                                                           "OMPI_COMM_WORLD_SIZE")))
    if num_processes > 1 or not asked_for_more:
        return None
    return ("the accelerate config asks for several CPU processes, but without an MPI launcher "
            "accelerate started one: this run trains in a single process. For several CPU "
            "processes use launch/cpu_multiprocess.sh (torchrun with gloo)")


def lone_ranks_problem(num_processes: int) -> str | None:
    """Why a run must not start when a launcher started several processes (WORLD_SIZE) but
    accelerate set each up alone: every one would train the whole job into the same run dir.

    torchrun on a machine without GPUs does this unless ACCELERATE_USE_CPU=true is set, and so
    does an FSDP request there.
    """
    world = os.environ.get("WORLD_SIZE", "1")
    if num_processes > 1 or not world.isdigit() or int(world) <= 1:
        return None
    return (f"the launcher started {world} processes (WORLD_SIZE={world}), but accelerate set "
            f"each up as a single-process run, so each would train the whole job alone into the "
            f"same output directory. On CPUs set ACCELERATE_USE_CPU=true (launch/"
            f"cpu_multiprocess.sh does), or launch one process; FSDP needs GPUs.")


def accelerate_refusal(error: Exception) -> str:
    """The paragraph for a launch setting accelerate refused while building the Accelerator."""
    fsdp_on_cpu = (os.environ.get("ACCELERATE_USE_FSDP", "").lower() in ("1", "true")
                   and not torch.cuda.is_available())
    return (f"accelerate cannot start this run: {error}\nThe launch settings come from the "
            f"accelerate config file (`accelerate launch --config_file FILE`, else the default "
            f"one `accelerate config` wrote) and the ACCELERATE_*, FSDP_* and DEEPSPEED_* "
            f"environment variables it sets; change the setting named above there."
            + (" This accelerate runs FSDP on GPUs only; on CPUs use accelerate_configs/cpu.yaml "
               "(DDP) or a DeepSpeed config." if fsdp_on_cpu else ""))

