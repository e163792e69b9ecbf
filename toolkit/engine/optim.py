"""The optimizer (`training.optim`; no decay on biases and norms, only trainable parameters)
and a warmup schedule counted in optimizer steps."""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LambdaLR

from toolkit.models.adapters import require_bitsandbytes

NO_DECAY = ("bias", "norm", "layernorm", "layer_norm", "ln_")


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        lowered = name.lower()
        skip = param.ndim < 2 or any(marker in lowered for marker in NO_DECAY)
        (no_decay if skip else decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    # no empty group (LoRA has no biases): DeepSpeed drops them, and a schedule built on the
    # original groups would then no longer match the optimizer's
    return [group for group in groups if group["params"]]


def build_optimizer(model: torch.nn.Module, lr: float, weight_decay: float,
                    betas: tuple[float, float], eps: float, optim: str = "adamw_torch_fused",
                    ) -> torch.optim.Optimizer:
    """The `training.optim` optimizer over the trainable parameters.

    adamw_torch_fused: torch AdamW, fused when every parameter is on a device that supports it;
    adamw: torch AdamW unfused; adafactor: transformers' Adafactor at a fixed learning rate (the
    schedule drives it); adamw_8bit: bitsandbytes' 8-bit AdamW (CUDA only).
    """
    groups = param_groups(model, weight_decay)
    if optim == "adafactor":
        from transformers.optimization import Adafactor

        return Adafactor(groups, lr=lr, scale_parameter=False, relative_step=False,
                         warmup_init=False)
    if optim == "adamw_8bit":
        return adamw_8bit(groups, lr, betas, eps)
    if optim == "adamw_torch_fused":
        devices = {p.device.type for p in model.parameters()}
        fused = devices <= {"cuda", "mps", "cpu"} and tuple(int(part) for part in torch.__version__.split(".")[:2]) >= (2, 4)
        try:
            return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, fused=fused)
        except (RuntimeError, TypeError):
            pass
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps)


def adamw_8bit(groups: list[dict], lr: float,
               betas: tuple[float, float], eps: float) -> torch.optim.Optimizer:
    bnb = require_bitsandbytes("training.optim=adamw_8bit", "keeps its state in 8 bits",
                               "adamw_torch_fused or adafactor")
    return bnb.optim.AdamW8bit(groups, lr=lr, betas=betas, eps=eps)


def lr_lambda(kind: str, warmup: int, total: int):
    """Multiplier of the peak learning rate after `step` optimizer steps."""
    def schedule(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / (warmup + 1)
        if kind == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total - warmup)
        if kind == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
        return max(0.0, 1.0 - progress)
    return schedule


def warmup_steps(steps: int, ratio: float, total_steps: int) -> int:
    """training.warmup_steps, else warmup_ratio of the planned optimizer steps."""
    return steps or int(round(ratio * total_steps))


def build_scheduler(optimizer: torch.optim.Optimizer, kind: str, warmup: int, total_steps: int
                    ) -> LambdaLR:
    """Stepped once per optimizer step by the loop itself (never once per process)."""
    return LambdaLR(optimizer, lr_lambda(kind, warmup, total_steps))
