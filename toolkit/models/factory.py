"""Models and tokenizers: from a hub id or local directory, or a from-scratch size preset."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    BartConfig,
    BartForConditionalGeneration,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
    T5Config,
    T5ForConditionalGeneration,
)

from toolkit.data.features import SEPARATOR
from toolkit.errors import ConfigError, ToolkitError, weights_error
from toolkit.models.families import Family, family_of, resolve_family
from toolkit.models.tokenizer_training import train_tokenizer

__all__ = ["build_tokenizer", "family_of", "load_model", "load_tokenizer", "resolve_family"]

logger = logging.getLogger(__name__)

DROPOUT_KEYS = {"bart": ("dropout",), "t5": ("dropout_rate",), "mt5": ("dropout_rate",),
                "gpt2": ("resid_pdrop", "embd_pdrop", "attn_pdrop")}
LLAMA_STYLE = ("llama", "qwen2", "qwen3", "mistral", "gemma")  # from-scratch presets exist
# d_model, layers (each side for seq2seq), heads, feed-forward width
PRESETS = {"tiny": (128, 2, 4, 512), "small": (256, 3, 4, 1024), "base": (768, 6, 12, 3072)}
DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


def _require_local(what: str, source: str) -> None:
    """A path-like source that is not there: say so (hub ids are `name` or `owner/name`)."""
    path = Path(source).expanduser()
    if (path.is_absolute() or source.startswith((".", "~")) or source.count("/") > 1) \
            and not path.exists():
        raise ToolkitError(f"the {what} directory {source} does not exist; set model.checkpoint "
                           f"(or tokenizer.path) to a save_pretrained directory or a hub id")


def _load_error(what: str, source: str, error: Exception) -> ToolkitError:
    local = Path(source).exists()
    fix = ("check that the directory holds a save_pretrained model" if local else
           "check the hub id, or download it where a network exists and pass the local "
           "directory as model.checkpoint")
    return ToolkitError(f"cannot load the {what} from `{source}` ({type(error).__name__}: "
                        f"{str(error).splitlines()[0] if str(error) else ''}); {fix}")


def saved_as_generic(source: str) -> bool:
    """A local tokenizer saved as the generic tokenizers backend (the toolkit trains those).

    AutoTokenizer would rebuild it as the model type's own class for some types (a qwen2
    checkpoint's tokenizer becomes Qwen2Tokenizer, byte-level), which mangles a Metaspace one.
    """
    path = Path(source).expanduser() / "tokenizer_config.json"
    if not path.is_file():
        return False
    try:
        declared = json.loads(path.read_text(encoding="utf-8")).get("tokenizer_class")
    except (json.JSONDecodeError, AttributeError):
        return False
    return declared in ("TokenizersBackend", "PreTrainedTokenizerFast")


def load_tokenizer(source: str) -> PreTrainedTokenizerBase:
    _require_local("tokenizer", source)
    try:
        if saved_as_generic(source):
            return PreTrainedTokenizerFast.from_pretrained(source)
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise _load_error("tokenizer", source, error) from None


def build_tokenizer(source: str | None, texts: Iterable[str], tags: list[str], vocab_size: int,
                    algorithm: str, family: str, add_tokens: bool = True,
                    ) -> PreTrainedTokenizerBase:
    """A pretrained tokenizer, or one trained on `texts`; tags and separator added either way.

    `add_tokens=False` (adapters: the embedding matrix stays frozen and its size fixed) adds
    nothing: tags are then spelled with ordinary tokens and a missing pad token reuses EOS.
    Decoder-only models get the <|summary|> separator unless their tokenizer has a chat template.
    """
    tokenizer = load_tokenizer(source) if source else train_tokenizer(texts, tags, vocab_size,
                                                                      algorithm)
    if add_tokens:
        vocab = tokenizer.get_vocab()
        new = [t for t in tags if t not in vocab]
        if family == "causal" and not tokenizer.chat_template and SEPARATOR not in vocab:
            new.append(SEPARATOR)
        if new:
            tokenizer.add_special_tokens({"additional_special_tokens": new},
                                         replace_extra_special_tokens=False)
        if tokenizer.pad_token is None:
            tokenizer.add_special_tokens({"pad_token": "<pad>"})
        if tokenizer.eos_token is None:
            tokenizer.add_special_tokens({"eos_token": "</s>"})
    elif tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ToolkitError(f"the tokenizer of `{source}` has neither a pad nor an eos token; "
                               f"save one with a pad token set and pass it as tokenizer.path")
        tokenizer.pad_token = tokenizer.eos_token
    if family == "causal":
        tokenizer.padding_side = "left"
    return tokenizer


def dropout_overrides(architecture: str, dropout: float | None) -> dict[str, float]:
    """Config attributes that set the family's dropout (the names differ per family)."""
    if dropout is None:
        return {}
    model_type = resolve_family(architecture).model_type
    if model_type in DROPOUT_KEYS:
        return dict.fromkeys(DROPOUT_KEYS[model_type], dropout)
    if model_type in LLAMA_STYLE:
        return {"attention_dropout": dropout}
    raise ConfigError([f"model.dropout is not supported for {architecture}; remove it (the "
                       f"checkpoint's own dropout applies)"])


def scratch_model(architecture: str, preset: str, tokenizer: PreTrainedTokenizerBase,
                  max_positions: int, dropout: float | None = None) -> PreTrainedModel:
    """A randomly initialised model of the family, sized by the preset, on this vocabulary."""
    d_model, layers, heads, ffn = PRESETS[preset]
    ids = {"pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id,
           "bos_token_id": tokenizer.bos_token_id, **dropout_overrides(architecture, dropout)}
    vocab = len(tokenizer)
    model_type = resolve_family(architecture).model_type
    if model_type == "bart":
        config = BartConfig(vocab_size=vocab, d_model=d_model, encoder_layers=layers,
                            decoder_layers=layers, encoder_attention_heads=heads,
                            decoder_attention_heads=heads, encoder_ffn_dim=ffn,
                            decoder_ffn_dim=ffn, max_position_embeddings=max_positions,
                            decoder_start_token_id=tokenizer.eos_token_id,
                            forced_bos_token_id=None, forced_eos_token_id=tokenizer.eos_token_id,
                            scale_embedding=False, **ids)
        return BartForConditionalGeneration(config)
    if model_type in ("t5", "mt5"):
        config = T5Config(vocab_size=vocab, d_model=d_model, d_kv=d_model // heads, d_ff=ffn,
                          num_layers=layers, num_decoder_layers=layers, num_heads=heads,
                          decoder_start_token_id=tokenizer.pad_token_id, **ids)
        return T5ForConditionalGeneration(config)
    if model_type == "gpt2":
        config = GPT2Config(vocab_size=vocab, n_positions=max_positions, n_embd=d_model,
                            n_layer=layers * 2, n_head=heads, n_inner=ffn, **ids)
        return GPT2LMHeadModel(config)
    if model_type in LLAMA_STYLE:  # grouped-query attention: half as many key/value heads
        config = AutoConfig.for_model(
            model_type, vocab_size=vocab, hidden_size=d_model, intermediate_size=ffn,
            num_hidden_layers=layers * 2, num_attention_heads=heads,
            num_key_value_heads=max(1, heads // 2), head_dim=d_model // heads,
            max_position_embeddings=max_positions, tie_word_embeddings=False, **ids)
        return AutoModelForCausalLM.from_config(config)
    raise ConfigError([f"no from-scratch preset for {architecture}; set model.checkpoint, or "
                       f"use bart, t5, gpt2 or one of {', '.join(LLAMA_STYLE)}"])


def load_dtype(dtype: str, frozen_base: bool) -> torch.dtype | str:
    """`model.torch_dtype` for from_pretrained: auto keeps the checkpoint's dtype for a frozen
    base (adapters), and loads float32 master weights for full fine-tuning (mixed precision
    autocasts the compute)."""
    if dtype == "auto":
        return "auto" if frozen_base else torch.float32
    return DTYPES[dtype]


def attention_kwargs(attn_implementation: str | None) -> dict[str, str]:
    """`attn_implementation`, with flash-attention falling back to sdpa (logged) where the
    flash_attn package or a CUDA device is missing."""
    if attn_implementation is None:
        return {}
    if attn_implementation == "flash_attention_2":
        from transformers.utils import is_flash_attn_2_available

        if not (torch.cuda.is_available() and is_flash_attn_2_available()):
            logger.warning("model.attn_implementation=flash_attention_2 needs a CUDA GPU and the "
                           "flash-attn package; using sdpa instead")
            return {"attn_implementation": "sdpa"}
    return {"attn_implementation": attn_implementation}


def enable_checkpointing(model: PreTrainedModel) -> None:
    """Non-reentrant activation checkpointing (works with frozen inputs, i.e. adapters)."""
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.2x
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    model.config.use_cache = False


def from_pretrained(family: Family, checkpoint: str, **kwargs) -> PreTrainedModel:
    """The checkpoint's weights in the family's auto class; an unsupported attention kernel
    falls back to eager with a warning."""
    auto = AutoModelForSeq2SeqLM if family.kind == "seq2seq" else AutoModelForCausalLM
    _require_local("model", checkpoint)
    local = Path(checkpoint).expanduser()
    if local.exists():  # absolute: an adapter records where its base is
        checkpoint = str(local.resolve())
    try:
        return auto.from_pretrained(checkpoint, **kwargs)
    except ValueError as error:
        if "attn_implementation" in kwargs and "attention" in str(error).lower():
            logger.warning("%s does not support attn_implementation=%s (%s); using eager",
                           checkpoint, kwargs["attn_implementation"], str(error).splitlines()[0])
            return from_pretrained(family, checkpoint, **{**kwargs,
                                                          "attn_implementation": "eager"})
        raise _load_error("model", checkpoint, error) from None
    except OSError as error:
        raise _load_error("model", checkpoint, error) from None
    except Exception as error:  # corrupt safetensors, or a pickle weights_only refuses
        raise (weights_error(checkpoint, error) or error) from None


def load_model(architecture: str, checkpoint: str | None, preset: str,
               tokenizer: PreTrainedTokenizerBase, max_positions: int,
               gradient_checkpointing: bool = False, dropout: float | None = None,
               dtype: str = "auto", attn_implementation: str | None = None,
               frozen_base: bool = False, quantization_config=None) -> PreTrainedModel:
    """The model to train, with embeddings resized to the tokenizer's vocabulary.

    Weights load straight into their final dtype (no float32 copy first); a quantized base
    goes to this process's GPU as it loads.
    """
    family = resolve_family(architecture, checkpoint)
    if checkpoint:
        kwargs = {**dropout_overrides(family.model_type, dropout),
                  **attention_kwargs(attn_implementation),
                  "dtype": load_dtype(dtype, frozen_base)}
        if quantization_config is not None:
            kwargs.update(quantization_config=quantization_config,
                          device_map={"": torch.cuda.current_device()})
        model = from_pretrained(family, checkpoint, **kwargs)
    else:
        model = scratch_model(architecture, preset, tokenizer, max_positions, dropout)
        if dtype not in ("auto", "float32"):
            model.to(DTYPES[dtype])
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer))
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if gradient_checkpointing:
        enable_checkpointing(model)
    return model
