"""Tiny decoder-only checkpoints as a hub id would give them: a Llama- or Qwen2-style model built
from a config, saved with `save_pretrained` beside a locally trained tokenizer that carries a
chat template. Tests load them through `model.checkpoint: DIR`, the same path as a hub id."""

from __future__ import annotations

import string
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

from toolkit.corpus import embedded_splits
from toolkit.data.preprocess import KNOWN_TAGS, normalise
from toolkit.models.factory import scratch_model
from toolkit.models.tokenizer_training import train_tokenizer

# ChatML, as Qwen2 and many instruction models write it; the Llama flavour opens with BOS.
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
TEMPLATES = {"qwen2": CHATML, "llama": "{{ bos_token }}" + CHATML}
MAX_POSITIONS = 256


def rows(count: int = 64, seed: int = 3) -> list[dict]:
    """Normalised embedded rows ({id, dialogue, references})."""
    return [{"id": r["fname"], "dialogue": normalise(r["dialogue"]),
             "references": [normalise(r["summary"])]}
            for r in embedded_splits(count, 4, seed=seed)["train"]]


def byte_level_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    """Byte-level BPE as Qwen2 uses it (transformers loads a qwen2 checkpoint's tokenizer as
    Qwen2Tokenizer, which decodes bytes): no BOS, `<|im_end|>` is EOS as in Qwen2.5-Instruct."""
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", *KNOWN_TAGS]
    backend.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=600, special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>",
                                   additional_special_tokens=specials[1:])


def chat_tokenizer(model_type: str, texts: list[str]) -> PreTrainedTokenizerBase:
    """A tokenizer trained on `texts` with ChatML turn markers and a chat template.

    Qwen2-style: byte-level (above); Llama-style: the toolkit's Metaspace BPE with BOS `<s>` and
    EOS `</s>`, so the end of turn is a separate stop token.
    """
    texts = [*texts, string.printable, "Summarize the following dialogue. system user"]
    if model_type == "qwen2":
        tokenizer = byte_level_tokenizer(texts)
    else:
        tokenizer = train_tokenizer(texts, KNOWN_TAGS, vocab_size=500)
        tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]},
                                     replace_extra_special_tokens=False)
    tokenizer.chat_template = TEMPLATES[model_type]
    return tokenizer


def save_base(directory: Path, model_type: str = "llama", seed: int = 0) -> Path:
    """A from-scratch tiny model and its chat tokenizer, saved as a checkpoint directory."""
    texts = [text for row in rows(96) for text in (row["dialogue"], row["references"][0])]
    tokenizer = chat_tokenizer(model_type, texts)
    torch.manual_seed(seed)
    model = scratch_model(model_type, "tiny", tokenizer, MAX_POSITIONS)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
