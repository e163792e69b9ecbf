"""Which family a model belongs to: seq2seq or decoder-only, its transformers model type, and
whether its inputs start with a BOS token. The one place these rules live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import ConfigError, ToolkitError

# The toolkit's own names for well-known checkpoints, and the model type each one is.
ALIASES = {"kobart": "bart", "kogpt2": "gpt2"}
# Model types whose inputs do not start with BOS (T5's vocabulary has none; the rest add it when
# the tokenizer has one: BART, GPT-2 as this toolkit trains them, Llama, Mistral, Gemma, ...).
NO_BOS_TYPES = frozenset({"t5", "mt5", "umt5", "longt5"})
SCRATCH_DEFAULT = "bart"  # `auto` without a checkpoint: the family the toolkit always built


@dataclass(frozen=True)
class Family:
    """A resolved `model.architecture`."""

    architecture: str  # as configured (kobart, llama, ...), or the checkpoint's type for auto
    model_type: str  # transformers' config.model_type
    kind: str  # seq2seq | causal

    @property
    def causal(self) -> bool:
        return self.kind == "causal"

    @property
    def adds_bos(self) -> bool:
        return needs_bos(self.model_type)


def needs_bos(model_type: str) -> bool:
    """Whether this toolkit starts the inputs of a model type with BOS (if the tokenizer has one)."""
    return model_type not in NO_BOS_TYPES


def kind_of(model_type: str) -> str | None:
    """seq2seq or causal for a model type transformers knows; None for one it does not."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES,
    )

    if model_type in MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES:
        return "seq2seq"
    if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return "causal"
    return None


def checkpoint_config(checkpoint: str):
    """The checkpoint's AutoConfig (a local directory or a cached hub id)."""
    from transformers import AutoConfig

    path = Path(checkpoint).expanduser()
    try:
        return AutoConfig.from_pretrained(str(path) if path.exists() else checkpoint)
    except (OSError, ValueError, KeyError) as error:
        raise ToolkitError(
            f"cannot read the model config of `{checkpoint}` ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}); set model.checkpoint to a "
            f"save_pretrained directory or a downloaded hub id") from None


def resolve_family(architecture: str, checkpoint: str | None = None) -> Family:
    """`model.architecture` (auto, an alias, or a transformers model type) as a Family.

    auto reads the checkpoint's config (`is_encoder_decoder` and `model_type`); without a
    checkpoint it builds BART from scratch, the toolkit's historical default.
    """
    if architecture == "auto":
        if checkpoint is None:
            return resolve_family(SCRATCH_DEFAULT)
        config = checkpoint_config(checkpoint)
        kind = "seq2seq" if getattr(config, "is_encoder_decoder", False) else "causal"
        return Family(config.model_type, config.model_type, kind_of(config.model_type) or kind)
    model_type = ALIASES.get(architecture, architecture)
    kind = kind_of(model_type)
    if kind is None:
        raise ConfigError([f"model.architecture `{architecture}` is not a seq2seq or causal "
                           f"language model type transformers knows; use auto (read from the "
                           f"checkpoint), bart, kobart, t5, mt5, gpt2, kogpt2, llama, qwen2, "
                           f"gemma, mistral or another model_type of a generative model"])
    return Family(architecture, model_type, kind)


def family_of(architecture: str, checkpoint: str | None = None) -> str:
    """seq2seq or causal (the seed's helper)."""
    return resolve_family(architecture, checkpoint).kind
