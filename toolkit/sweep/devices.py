"""GPUs for local sweep workers: each worker's trials see only its own (CUDA_VISIBLE_DEVICES)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from toolkit.errors import ToolkitError


def visible_gpus(environ: Mapping[str, str] | None = None) -> list[str]:
    """The GPU ids the trials may use: CUDA_VISIBLE_DEVICES when set, else every GPU torch
    sees (none on a CPU machine)."""
    environ = os.environ if environ is None else environ
    if "CUDA_VISIBLE_DEVICES" in environ:
        return [d.strip() for d in environ["CUDA_VISIBLE_DEVICES"].split(",") if d.strip()]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def assign(workers: int, gpus: list[str]) -> list[list[str] | None]:
    """Each worker's GPUs: `gpus` cut into `workers` contiguous groups, the first ones one GPU
    larger when they do not divide evenly; None for every worker on a machine without GPUs."""
    if not gpus:
        return [None] * workers
    if workers > len(gpus):
        raise ToolkitError(f"--workers {workers} needs a GPU per worker, but {len(gpus)} are "
                           f"visible ({','.join(gpus)}); use --workers {len(gpus)} or fewer, or "
                           f"run the other workers on another node with the same --storage")
    size, larger = divmod(len(gpus), workers)
    groups, start = [], 0
    for index in range(workers):
        end = start + size + (index < larger)
        groups.append(gpus[start:end])
        start = end
    return groups
