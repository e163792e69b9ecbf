"""Models and tokenizers: from a hub id or local directory, or a from-scratch size preset."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from transformers import (
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    BartConfig,
    BartForConditionalGeneration,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    T5Config,
    T5ForConditionalGeneration,
)

from toolkit.data.features import SEPARATOR
from toolkit.data.tokenizer_training import train_tokenizer
from toolkit.errors import ToolkitError, weights_error

logger = logging.getLogger(__name__)

FAMILIES = {"bart": "seq2seq", "kobart": "seq2seq", "t5": "seq2seq", "mt5": "seq2seq",
            "gpt2": "causal", "kogpt2": "causal"}
DROPOUT_KEYS = {"bart": ("dropout",), "t5": ("dropout_rate",),
                "gpt2": ("resid_pdrop", "embd_pdrop", "attn_pdrop")}
# d_model, layers (each side for seq2seq), heads, feed-forward width
PRESETS = {"tiny": (128, 2, 4, 512), "small": (256, 3, 4, 1024), "base": (768, 6, 12, 3072)}


def family_of(architecture: str) -> str:
    return FAMILIES[architecture]


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


def load_tokenizer(source: str) -> PreTrainedTokenizerBase:
    _require_local("tokenizer", source)
    try:
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise _load_error("tokenizer", source, error) from None


def build_tokenizer(source: str | None, texts: Iterable[str], tags: list[str], vocab_size: int,
                    algorithm: str, family: str) -> PreTrainedTokenizerBase:
    """A pretrained tokenizer, or one trained on `texts`; tags and separator added either way."""
    if source:
        tokenizer = load_tokenizer(source)
    else:
        tokenizer = train_tokenizer(texts, tags, vocab_size, algorithm)
    new_tags = [t for t in tags if t not in tokenizer.get_vocab()]
    extra = {"additional_special_tokens": new_tags}
    if family == "causal" and SEPARATOR not in tokenizer.get_vocab():
        extra["additional_special_tokens"] = [*new_tags, SEPARATOR]
    if extra["additional_special_tokens"]:
        tokenizer.add_special_tokens(extra, replace_extra_special_tokens=False)
    if tokenizer.pad_token is None:
        tokenizer.add_special_tokens({"pad_token": "<pad>"})
    if tokenizer.eos_token is None:
        tokenizer.add_special_tokens({"eos_token": "</s>"})
    if family == "causal":
        tokenizer.padding_side = "left"
    return tokenizer


def dropout_overrides(architecture: str, dropout: float | None) -> dict[str, float]:
    """Config attributes that set the family's dropout (the T5 and BART names differ)."""
    if dropout is None:
        return {}
    base = architecture.removeprefix("ko").removeprefix("m")
    return dict.fromkeys(DROPOUT_KEYS[base], dropout)


def scratch_model(architecture: str, preset: str, tokenizer: PreTrainedTokenizerBase,
                  max_positions: int, dropout: float | None = None) -> PreTrainedModel:
    """A randomly initialised model of the family, sized by the preset, on this vocabulary."""
    d_model, layers, heads, ffn = PRESETS[preset]
    ids = {"pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id,
           "bos_token_id": tokenizer.bos_token_id, **dropout_overrides(architecture, dropout)}
    vocab = len(tokenizer)
    if architecture in ("bart", "kobart"):
        config = BartConfig(vocab_size=vocab, d_model=d_model, encoder_layers=layers,
                            decoder_layers=layers, encoder_attention_heads=heads,
                            decoder_attention_heads=heads, encoder_ffn_dim=ffn,
                            decoder_ffn_dim=ffn, max_position_embeddings=max_positions,
                            decoder_start_token_id=tokenizer.eos_token_id,
                            forced_bos_token_id=None, forced_eos_token_id=tokenizer.eos_token_id,
                            scale_embedding=False, **ids)
        return BartForConditionalGeneration(config)
    if architecture in ("t5", "mt5"):
        config = T5Config(vocab_size=vocab, d_model=d_model, d_kv=d_model // heads, d_ff=ffn,
                          num_layers=layers, num_decoder_layers=layers, num_heads=heads,
                          decoder_start_token_id=tokenizer.pad_token_id, **ids)
        return T5ForConditionalGeneration(config)
    config = GPT2Config(vocab_size=vocab, n_positions=max_positions, n_embd=d_model,
                        n_layer=layers * 2, n_head=heads, n_inner=ffn, **ids)
    return GPT2LMHeadModel(config)


def load_model(architecture: str, checkpoint: str | None, preset: str,
               tokenizer: PreTrainedTokenizerBase, max_positions: int,
               gradient_checkpointing: bool = False, dropout: float | None = None,
               ) -> PreTrainedModel:
    """The model to train, with embeddings resized to the tokenizer's vocabulary."""
    family = family_of(architecture)
    if checkpoint:
        auto = AutoModelForSeq2SeqLM if family == "seq2seq" else AutoModelForCausalLM
        _require_local("model", checkpoint)
        try:
            model = auto.from_pretrained(checkpoint, **dropout_overrides(architecture, dropout))
        except (OSError, ValueError) as error:
            raise _load_error("model", checkpoint, error) from None
        except Exception as error:  # corrupt safetensors, or a pickle weights_only refuses
            raise (weights_error(checkpoint, error) or error) from None
    else:
        model = scratch_model(architecture, preset, tokenizer, max_positions, dropout)
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer))
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    return model
