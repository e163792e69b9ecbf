"""AdamW with no decay on biases and norms, and a warmup schedule counted in optimizer steps."""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LambdaLR

NO_DECAY = ("bias", "norm", "layernorm", "layer_norm", "ln_")


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        lowered = name.lower()
        skip = param.ndim < 2 or any(marker in lowered for marker in NO_DECAY)
        (no_decay if skip else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: torch.nn.Module, lr: float, weight_decay: float,
                    betas: tuple[float, float], eps: float) -> torch.optim.Optimizer:
    """torch AdamW, fused when every parameter is on a device that supports it."""
    devices = {p.device.type for p in model.parameters()}
    fused = devices <= {"cuda", "mps", "cpu"} and torch.__version__ >= "2.4"
    groups = param_groups(model, weight_decay)
    try:
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, fused=fused)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps)


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
