"""DeepSpeed JSONs as the HF Trainer takes them: `auto` comes from training.*, explicit is checked.

Accepted: every `auto` of the Transformers and Accelerate templates, and `optimizer` /
`scheduler` sections. Without them the toolkit's AdamW and schedule run (the schedule built on
the prepared optimizer, the one that really steps, also when ZeRO-Offload swaps in
DeepSpeedCPUAdam); with them DeepSpeed builds and steps its own. Explicit batch sizes,
accumulation, clipping and precision that disagree with the toolkit config are refused with
the fix; explicit optimizer hyperparameters win over training.* and the log says so. All of it
runs right after the Accelerator exists, before any data is read.
"""

from __future__ import annotations

import logging
from typing import Any

from accelerate import Accelerator
from accelerate.utils import DistributedType

from toolkit.config.schema import Training
from toolkit.errors import ConfigError

logger = logging.getLogger("toolkit")


def deepspeed_config(accelerator: Accelerator) -> dict[str, Any] | None:
    """The live DeepSpeed config dict of this run (accelerate passes it on), or None."""
    if accelerator.distributed_type != DistributedType.DEEPSPEED:
        return None
    return accelerator.state.deepspeed_plugin.deepspeed_config


def _fill(section: dict[str, Any], key: str, value: Any, where: str, problems: list[str],
          source: str) -> None:
    current = section.get(key, "auto")
    if current == "auto":
        section[key] = value
    elif float(current) != float(value):
        problems.append(f"the DeepSpeed config sets {where}={current} but {source} gives "
                        f"{value}; set it to \"auto\" in the DeepSpeed JSON so the value comes "
                        f"from the toolkit config, or change {source}")


def _honour(params: dict[str, Any], key: str, value: Any, source: str) -> None:
    current = params.get(key, "auto")
    if current == "auto":
        params[key] = value
    elif current != value:
        logger.warning("the DeepSpeed config's optimizer sets %s=%s, which wins over %s=%s",
                       key, current, source, value)


def check_deepspeed(accelerator: Accelerator, t: Training, precision: str) -> None:
    """Fill the `auto` values that need no step count; refuse explicit ones that disagree."""
    ds = deepspeed_config(accelerator)
    if ds is None:
        return
    problems: list[str] = []
    micro, accumulation = t.per_device_train_batch_size, t.gradient_accumulation_steps
    _fill(ds, "train_micro_batch_size_per_gpu", micro, "train_micro_batch_size_per_gpu",
          problems, "training.per_device_train_batch_size")
    _fill(ds, "gradient_accumulation_steps", accumulation, "gradient_accumulation_steps",
          problems, "training.gradient_accumulation_steps")
    _fill(ds, "train_batch_size", micro * accumulation * accelerator.num_processes,
          "train_batch_size", problems,
          "per_device_train_batch_size x gradient_accumulation_steps x processes")
    _fill(ds, "gradient_clipping", t.max_grad_norm, "gradient_clipping", problems,
          "training.max_grad_norm")
    for name in ("fp16", "bf16"):
        enabled = (ds.get(name) or {}).get("enabled", "auto")
        if enabled is False and precision == name:
            problems.append(f"the DeepSpeed config disables {name} but the run uses {name}; "
                            f"set \"{name}\": {{\"enabled\": \"auto\"}} in the DeepSpeed JSON")
    if "optimizer" in ds:
        params = ds["optimizer"].setdefault("params", {})
        _honour(params, "lr", t.learning_rate, "training.learning_rate")
        _honour(params, "betas", [t.adam_beta1, t.adam_beta2], "training.adam_beta1/2")
        _honour(params, "eps", t.adam_epsilon, "training.adam_epsilon")
        _honour(params, "weight_decay", t.weight_decay, "training.weight_decay")
    if problems:
        raise ConfigError(problems)


def fill_schedule(ds: dict[str, Any], t: Training, max_steps: int, warmup: int) -> None:
    """The scheduler section's `auto` values, once the planned optimizer steps are known."""
    params = ds["scheduler"].setdefault("params", {})
    lr = ds.get("optimizer", {}).get("params", {}).get("lr", t.learning_rate)
    for key, value in (("warmup_min_lr", 0.0), ("warmup_max_lr", lr), ("cos_min_ratio", 0.0),
                       ("warmup_num_steps", warmup), ("total_num_steps", max_steps)):
        if params.get(key) == "auto":
            params[key] = value
