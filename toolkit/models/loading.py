"""The model of a config (base, dtype, attention, adapters), and model directories: saving
best/ and final/ (a full model or an adapter, always with tokenizer and prompt format), and
loading either kind back for predict, evaluate and export."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from accelerate import Accelerator
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    GenerationConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from toolkit.errors import ToolkitError, weights_error
from toolkit.models.adapters import (
    apply_adapters,
    base_of,
    check_peft,
    is_adapter,
    is_adapter_dir,
    load_adapter_model,
    quantization_config,
)
from toolkit.models.factory import DTYPES, load_model, load_tokenizer
from toolkit.models.families import Family, needs_bos, resolve_family
from toolkit.models.prompts import PromptFormat

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")


def build_model(cfg, tokenizer: PreTrainedTokenizerBase, family: Family | None = None
                ) -> PreTrainedModel:
    """The model a config trains: `model.*` loading options, then `peft.*` adapters."""
    m, p, t = cfg.model, cfg.peft, cfg.tokenizer
    check_peft(p.method, m.checkpoint)
    family = family or resolve_family(m.architecture, m.checkpoint)
    adapters = p.method != "none"
    model = load_model(m.architecture, m.checkpoint, m.preset, tokenizer,
                       max_positions=t.max_source_length + t.max_target_length,
                       gradient_checkpointing=m.gradient_checkpointing and p.method != "qlora",
                       dropout=m.dropout, dtype=m.torch_dtype,
                       attn_implementation=m.attn_implementation, frozen_base=adapters,
                       quantization_config=quantization_config(
                           p.method, DTYPES.get(m.torch_dtype, torch.bfloat16)))
    if adapters:
        model = apply_adapters(model, p, family.causal, m.gradient_checkpointing)
    return model


def save_model_dir(accelerator: Accelerator, model: torch.nn.Module,
                   tokenizer: PreTrainedTokenizerBase, directory: Path,
                   generation_config: GenerationConfig, prompt: PromptFormat | None) -> None:
    """A save_pretrained dir (weights gathered from every rank; an adapter alone when the model
    has one), with tokenizer and prompt format, written to a temp dir then renamed."""
    state_dict = accelerator.get_state_dict(model)  # a collective under ZeRO-3 / FSDP
    tmp = directory.with_name(f".{directory.name}.tmp")
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        unwrapped = accelerator.unwrap_model(model)
        base = unwrapped.get_base_model() if is_adapter(unwrapped) else unwrapped
        base.generation_config = generation_config
        unwrapped.save_pretrained(tmp, state_dict=state_dict, safe_serialization=True)
        if is_adapter(unwrapped):  # the generation settings travel with the adapter too
            generation_config.save_pretrained(tmp)
        positions = getattr(base.config, "max_position_embeddings", None)
        if positions:  # learned positions: truncation=True must not exceed them
            tokenizer.model_max_length = min(tokenizer.model_max_length, positions)
        tokenizer.save_pretrained(tmp)
        if prompt is not None:
            prompt.save(tmp)
        shutil.rmtree(directory, ignore_errors=True)
        tmp.rename(directory)
    accelerator.wait_for_everyone()


@dataclass
class SavedModel:
    """A model directory loaded back: the model, its tokenizer and how prompts are built."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    config: object  # the (base) model's PretrainedConfig
    causal: bool
    prompt: PromptFormat
    generation_config: GenerationConfig


def check_model_dir(path: str | Path) -> Path:
    """The directory, if it holds a saved model or adapter; else a ToolkitError."""
    directory = Path(path)
    if not directory.is_dir():
        raise ToolkitError(f"model directory {directory} does not exist; pass the best/ or "
                           f"final/ directory of a training run as --model")
    full = (directory / "config.json").is_file() and any(
        (directory / name).is_file() for name in WEIGHT_FILES)
    if not (full or is_adapter_dir(directory)):
        raise ToolkitError(f"{directory} holds no saved model (config.json and "
                           f"model.safetensors) nor adapter (adapter_config.json and "
                           f"adapter_model.safetensors); pass the best/ or final/ directory "
                           f"of a run")
    return directory


def _auto_class(config) -> type:
    return AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM


def load_saved(path: str | Path, merge: bool = False) -> SavedModel:
    """A full model directory, or an adapter directory (its base + the adapter, merged when
    `merge`), with the tokenizer and prompt format saved beside it."""
    directory = check_model_dir(path)
    adapter = is_adapter_dir(directory)
    source = base_of(directory) if adapter else str(directory)
    try:
        config = AutoConfig.from_pretrained(source)
        auto = _auto_class(config)
        model = (load_adapter_model(directory, auto, merge=merge) if adapter
                 else auto.from_pretrained(directory))
    except (OSError, ValueError, KeyError) as error:
        raise ToolkitError(f"cannot load the model in {directory} ({type(error).__name__}: "
                           f"{error}); check that it is a complete save_pretrained dir") from None
    except Exception as error:  # corrupt safetensors, or a pickle weights_only refuses
        raise (weights_error(directory, error) or error) from None
    tokenizer = load_tokenizer(str(directory))
    if tokenizer.pad_token_id is None:
        raise ToolkitError(f"the tokenizer in {directory} has no pad token; save the tokenizer "
                           f"the model was trained with next to it")
    causal = not config.is_encoder_decoder
    prompt = PromptFormat.load(directory) or legacy_prompt(config.model_type, causal, tokenizer,
                                                           directory)
    generation = model.generation_config
    if adapter and (directory / "generation_config.json").is_file():
        generation = GenerationConfig.from_pretrained(directory)
        model.generation_config = generation
    return SavedModel(model, tokenizer, config, causal, prompt, generation)


def legacy_prompt(model_type: str, causal: bool, tokenizer: PreTrainedTokenizerBase,
                  directory: Path) -> PromptFormat:
    """The format of a model saved before prompt_format.json existed: the seed's layout."""
    from toolkit.data.features import SEPARATOR

    if causal and SEPARATOR not in tokenizer.get_vocab():
        raise ToolkitError(f"the tokenizer in {directory} lacks the {SEPARATOR} separator the "
                           f"toolkit's decoder-only models are trained with, and the directory "
                           f"has no prompt_format.json")
    return PromptFormat(suffix=SEPARATOR if causal else "", add_bos=needs_bos(model_type))

