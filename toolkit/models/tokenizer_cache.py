"""A tokenizer for the run: the checkpoint's own, or one trained on the training split and cached.

A trained tokenizer is keyed by everything that shapes it (algorithm, vocabulary size, family,
protected tags and the training texts) and stored under ``<cache_dir>/tokenizer-<key>``, so a
second run on the same data, a resumed run and every rank find the same one. The main process
trains and writes it (to a temporary name, then renamed); the others wait and load it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from accelerate import Accelerator
from transformers import PreTrainedTokenizerBase

from toolkit.config.schema import Tokenizer
from toolkit.data.splits import DialogueSplit
from toolkit.models.factory import build_tokenizer, load_tokenizer


def tokenizer_key(settings: Tokenizer, family: str, tags: list[str], train: DialogueSplit) -> str:
    parts = [settings.algorithm, str(settings.vocab_size), family, *tags, *train.dialogues,
             *(refs[0] for refs in train.references)]
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:16]


def run_tokenizer(settings: Tokenizer, source: str | None, family: str, tags: list[str],
                  train: DialogueSplit, cache_dir: Path, accelerator: Accelerator,
                  add_tokens: bool = True) -> PreTrainedTokenizerBase:
    """`source`'s tokenizer with the tags added (unless `add_tokens` is false: adapters keep the
    vocabulary), or the cached one trained on `train`."""
    if source:
        return build_tokenizer(source, [], tags, 0, "", family, add_tokens=add_tokens)
    cached = cache_dir / f"tokenizer-{tokenizer_key(settings, family, tags, train)}"
    with accelerator.main_process_first():
        if cached.is_dir():
            return load_tokenizer(str(cached))
        texts = train.dialogues + [refs[0] for refs in train.references]
        tokenizer = build_tokenizer(None, texts, tags, settings.vocab_size, settings.algorithm,
                                    family)
        if accelerator.is_main_process:
            tmp = cached.with_name(f"{cached.name}.tmp{os.getpid()}")
            tokenizer.save_pretrained(tmp)
            if cached.exists():  # another process finished first
                shutil.rmtree(tmp)
            else:
                os.replace(tmp, cached)
        return tokenizer
