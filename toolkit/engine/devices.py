"""Device profiles: precision per device, TF32, logging per rank, DeepSpeed `auto` values."""

from __future__ import annotations

import logging
import os

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType

from toolkit.errors import ConfigError


def pick_precision(setting: str) -> str:
    """`auto`: bf16 on CUDA where supported, else fp16 (with a grad scaler); fp32 elsewhere.

    Precision lives in the toolkit config alone: the accelerate config files ship `no` and
    the DeepSpeed JSONs `auto`, so one key decides everywhere.
    """
    if setting != "auto":
        return setting
    if os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true"):
        return "no"
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "no"  # MPS autocast support varies by op; CPU bf16 is opt-in (mixed_precision=bf16)


class ConsoleFormatter(logging.Formatter):
    """One line per record: tracebacks go to the run's train.log, never to the console."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text
        record.exc_info = record.exc_text = None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text = saved


def setup_logging(is_main_process: bool, level: str) -> None:
    """Console logs on the main process only; other ranks report errors alone."""
    import datasets
    import transformers

    toolkit_logger = logging.getLogger("toolkit")
    if not any(getattr(h, "_toolkit_console", False) for h in toolkit_logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(ConsoleFormatter("%(levelname)s %(message)s"))
        handler._toolkit_console = True
        toolkit_logger.addHandler(handler)
    toolkit_logger.setLevel(logging.DEBUG)
    for handler in toolkit_logger.handlers:
        if getattr(handler, "_toolkit_console", False):
            handler.setLevel(getattr(logging, level.upper()) if is_main_process else logging.ERROR)
    toolkit_logger.propagate = False
    if not is_main_process:
        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
        transformers.logging.set_verbosity_error()


def configure_deepspeed(accelerator: Accelerator, micro_batch: int, accumulation: int,
                        max_grad_norm: float) -> None:
    """Fill the DeepSpeed config's `auto` values from the toolkit config; refuse mismatches."""
    if accelerator.distributed_type != DistributedType.DEEPSPEED:
        return
    ds = accelerator.state.deepspeed_plugin.deepspeed_config
    owned = [key for key in ("optimizer", "scheduler") if key in ds]
    if owned:
        raise ConfigError([f"the DeepSpeed config has a `{key}` section; remove it: the toolkit "
                           f"builds AdamW and the schedule from training.* so hyperparameters "
                           f"live in one place" for key in owned])
    wanted = {"train_micro_batch_size_per_gpu": micro_batch,
              "gradient_accumulation_steps": accumulation,
              "gradient_clipping": max_grad_norm,
              "train_batch_size": micro_batch * accumulation * accelerator.num_processes}
    problems = []
    for key, value in wanted.items():
        current = ds.get(key, "auto")
        if current == "auto":
            ds[key] = value
        elif float(current) != float(value):
            problems.append(f"the DeepSpeed config sets {key}={current} but the toolkit config "
                            f"implies {value}; set it to \"auto\" in the DeepSpeed JSON so the "
                            f"value comes from the toolkit config")
    if problems:
        raise ConfigError(problems)
