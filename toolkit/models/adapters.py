"""LoRA and QLoRA adapters (peft): wrapping a base model, what a checkpoint of one holds, what
the tracker records, and the saved adapter directory (adapter + tokenizer, base by reference).

Only adapter weights train; the optimizer is built from parameters with requires_grad, so it
sees only them. Checkpoints store the trainable tensors alone (`trainable_state`): a few
MB for a billion-parameter base, and exact resume because the frozen base is reloaded as is.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from toolkit.errors import CheckpointError, ConfigError, ToolkitError

logger = logging.getLogger(__name__)

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


def require_peft():
    try:
        import peft
    except ImportError:
        raise ConfigError(["peft.method needs the peft package; install the llm extra "
                           "(pip install -e '.[llm]') or set peft.method=none"]) from None
    return peft


def check_peft(method: str, checkpoint: str | None) -> None:
    """Refuse what cannot work before anything loads: adapters on a random base, 4-bit off GPU."""
    if method == "none":
        return
    require_peft()
    if checkpoint is None:
        raise ConfigError([f"peft.method={method} adapts a pretrained base, but model.checkpoint "
                           f"is null (a from-scratch model has nothing to adapt and its random "
                           f"base could not be found again); set model.checkpoint or "
                           f"peft.method=none"])
    if method == "qlora":
        require_bitsandbytes("peft.method=qlora", "loads the base in 4 bits",
                             "peft.method=lora")


def quantization_config(method: str, compute_dtype: torch.dtype = torch.bfloat16):
    """4-bit NF4 with double quantization (the QLoRA recipe); None unless method is qlora."""
    if method != "qlora":
        return None
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                              bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=compute_dtype)


def apply_adapters(model: torch.nn.Module, peft_cfg, causal: bool,
                   gradient_checkpointing: bool = False) -> torch.nn.Module:
    """The model wrapped with LoRA adapters; every base weight frozen."""
    peft = require_peft()
    if peft_cfg.method == "qlora":
        model = peft.prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False})
    elif gradient_checkpointing:
        model.enable_input_require_grads()  # frozen embeddings: checkpointed blocks need a grad
    config = peft.LoraConfig(
        r=peft_cfg.r, lora_alpha=peft_cfg.alpha, lora_dropout=peft_cfg.dropout,
        target_modules=list(peft_cfg.target_modules) or "all-linear",
        modules_to_save=list(peft_cfg.modules_to_save) or None,
        task_type="CAUSAL_LM" if causal else "SEQ_2_SEQ_LM")
    try:
        return peft.get_peft_model(model, config)
    except ValueError as error:
        raise ConfigError([f"peft.target_modules {list(peft_cfg.target_modules)} do not fit the "
                           f"model ({str(error).splitlines()[0]}); name modules it has (e.g. "
                           f"q_proj, v_proj) or leave the list empty for every linear layer"]
                          ) from None


def is_adapter(model: torch.nn.Module) -> bool:
    try:
        from peft import PeftModel
    except ImportError:
        return False
    return isinstance(model, PeftModel)


def parameter_counts(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameters; 4-bit weights count their real number of values."""
    trainable = total = 0
    for param in model.parameters():
        count = param.numel()
        if getattr(param, "quant_state", None) is not None:  # bitsandbytes packs 2 per byte
            count *= 2
        total += count
        trainable += count if param.requires_grad else 0
    return trainable, total


def model_info(model: torch.nn.Module, model_cfg, peft_cfg, architecture: str) -> dict[str, Any]:
    """What the tracker and registry record about the model (RunContext.model_info)."""
    trainable, total = parameter_counts(model)
    info: dict[str, Any] = {
        "architecture": architecture, "checkpoint": model_cfg.checkpoint,
        "preset": None if model_cfg.checkpoint else model_cfg.preset,
        "num_parameters": total, "trainable_parameters": trainable,
        "torch_dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
    }
    if peft_cfg.method != "none":
        info["adapter"] = {"method": peft_cfg.method, "r": peft_cfg.r, "alpha": peft_cfg.alpha,
                           "dropout": peft_cfg.dropout,
                           "target_modules": list(peft_cfg.target_modules) or "all-linear",
                           "modules_to_save": list(peft_cfg.modules_to_save)}
    return info


# ------------------------------------------------------------------------- checkpoints
def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor] | None:
    """The tensors a checkpoint must hold when part of `model` is frozen (an adapter's), else
    None: the whole model is saved."""
    if all(p.requires_grad for p in model.parameters()):
        return None
    return {name: p.detach().contiguous() for name, p in model.named_parameters()
            if p.requires_grad}


def load_trainable_state(model: torch.nn.Module, state: dict[str, torch.Tensor],
                         source: Path) -> None:
    """Put the saved trainable tensors back into a base that was loaded again."""
    missing = {name for name, p in model.named_parameters() if p.requires_grad} - set(state)
    if missing:
        raise CheckpointError(f"checkpoint {source} lacks {len(missing)} trainable tensors (e.g. "
                              f"{sorted(missing)[0]}); it was saved with other adapter settings; "
                              f"resume with the run's config")
    model.load_state_dict(state, strict=False)


# -------------------------------------------------------------- saved adapter directories
def is_adapter_dir(directory: str | Path) -> bool:
    directory = Path(directory)
    return (directory / ADAPTER_CONFIG).is_file() and any(
        (directory / name).is_file() for name in ADAPTER_WEIGHTS)


def base_of(directory: Path) -> str:
    """The base checkpoint an adapter directory was trained on."""
    config = json.loads((directory / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    base = config.get("base_model_name_or_path")
    if not base:
        raise ToolkitError(f"{directory / ADAPTER_CONFIG} names no base model "
                           f"(base_model_name_or_path); set it to the checkpoint the adapter "
                           f"was trained on")
    return base


def load_adapter_model(directory: Path, auto_class, dtype: str | torch.dtype = "auto",
                       merge: bool = False) -> torch.nn.Module:
    """The base checkpoint with the adapter in `directory` applied (merged if asked)."""
    peft = require_peft()
    base = base_of(directory)
    try:
        model = auto_class.from_pretrained(base, dtype=dtype)
    except (OSError, ValueError) as error:
        raise ToolkitError(f"cannot load the base model `{base}` of the adapter in {directory} "
                           f"({type(error).__name__}: {str(error).splitlines()[0]}); make the "
                           f"base available at that path (or edit base_model_name_or_path in "
                           f"{ADAPTER_CONFIG})") from None
    model = peft.PeftModel.from_pretrained(model, str(directory))
    return model.merge_and_unload() if merge else model


def require_bitsandbytes(setting: str, purpose: str, fallback: str) -> Any:
    """The bitsandbytes module for `setting`, or a ConfigError saying why it cannot run here."""
    if not torch.cuda.is_available():
        raise ConfigError([f"{setting} {purpose} with bitsandbytes, whose kernels need a CUDA "
                           f"GPU, and this machine has none; use {fallback} here"])
    try:
        import bitsandbytes
    except ImportError:
        raise ConfigError([f"{setting} needs the bitsandbytes package; install it (pip install "
                           f"-e '.[qlora]') or use {fallback}"]) from None
    return bitsandbytes
