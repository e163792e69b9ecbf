"""`toolkit export`: a run's model directory as a plain transformers model.

An adapter directory (best/ or final/ of a LoRA run) needs `--merge`: the adapter is folded into
its base and the result loads with `AutoModelForCausalLM.from_pretrained` without peft. A full
model directory is copied as a fresh save_pretrained. The tokenizer, generation config and
prompt format go along.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

logger = logging.getLogger("toolkit")


def export(model_dir: str | Path, output: str | Path, merge: bool = False,
           dtype: str | None = None) -> Path:
    """Write the plain model of `model_dir` to `output`; returns `output`."""
    import torch

    from toolkit.errors import ToolkitError
    from toolkit.models.adapters import is_adapter_dir
    from toolkit.models.loading import check_model_dir, load_saved

    source, target = check_model_dir(model_dir), Path(output)
    if is_adapter_dir(source) and not merge:
        raise ToolkitError(f"{source} holds a LoRA adapter, not a full model; pass --merge to "
                           f"fold it into its base and write a plain model")
    if target.resolve() == source.resolve():
        raise ToolkitError(f"--output {target} is the model directory itself; choose another")
    saved = load_saved(source, merge=True)
    if dtype:
        saved.model.to(getattr(torch, dtype))
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    saved.model.generation_config = saved.generation_config
    saved.model.save_pretrained(tmp, safe_serialization=True)
    saved.tokenizer.save_pretrained(tmp)
    saved.prompt.save(tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    logger.info("exported %s to %s (%s parameters)", source, target,
                f"{saved.model.num_parameters():,}")
    return target


def _run(args: argparse.Namespace) -> int:
    from toolkit.console import setup_logging

    setup_logging(True, "info")
    export(args.model, args.output, args.merge, args.dtype)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="Write a run's model (an adapter merged into its base) as a plain model.")
    parser.add_argument("--model", required=True, help="A run's best/ or final/ directory.")
    parser.add_argument("--output", required=True, help="Directory to write.")
    parser.add_argument("--merge", action="store_true",
                        help="Fold a LoRA adapter into its base (required for adapter dirs).")
    parser.add_argument("--dtype", choices=("bfloat16", "float16", "float32"), default=None,
                        help="Cast the weights before saving (default: as loaded).")
    parser.set_defaults(func=_run)
