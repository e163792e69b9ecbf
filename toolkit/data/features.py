"""Tokenized features for both model families, built with `datasets.map` and cached on disk.

seq2seq (BART, T5): input_ids = dialogue (+ bos for BART) + eos, labels = summary + eos.
causal (GPT-2):      input_ids = [bos] dialogue <sep> summary eos, labels -100 on the prompt;
                     generation continues after <sep>.
Every example carries `prompt_length` (tokens given to `generate`) and `length` (for batching).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import datasets
from transformers import PreTrainedTokenizerBase

FEATURE_VERSION = 3  # bump when the layout of the features changes, to miss old caches
SEPARATOR = "<|summary|>"
IGNORE_INDEX = -100


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    """Stable across processes: the backend's serialised form plus the added tokens."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    body = backend.to_str() if backend is not None else json.dumps(tokenizer.get_vocab(),
                                                                   sort_keys=True)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def rows_fingerprint(rows: list[dict]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row["dialogue"].encode("utf-8"))
        digest.update(b"\x00")
        digest.update(row["references"][0].encode("utf-8") if row["references"] else b"")
        digest.update(b"\x01")
    return digest.hexdigest()[:16]


class FeatureBuilder:
    """Turns normalised rows into token features for one tokenizer and family."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, family: str, max_source_length: int,
                 max_target_length: int, add_bos: bool):
        self.tokenizer = tokenizer
        self.family = family
        self.max_source_length = max_source_length
        self.max_target_length = max_target_length
        self.add_bos = add_bos and tokenizer.bos_token_id is not None
        self.eos = tokenizer.eos_token_id
        self.sep = tokenizer.convert_tokens_to_ids(SEPARATOR) if family == "causal" else None

    def _encode(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(texts, add_special_tokens=False)["input_ids"]

    def _batch(self, batch: dict[str, list]) -> dict[str, list]:
        sources = self._encode(batch["dialogue"])
        targets = self._encode([refs[0] if refs else "" for refs in batch["references"]])
        bos = [self.tokenizer.bos_token_id] if self.add_bos else []
        out: dict[str, list] = {"input_ids": [], "labels": [], "prompt_length": [], "length": []}
        for source, target in zip(sources, targets):
            keep = self.max_target_length - 1 - (len(bos) if self.family == "seq2seq" else 0)
            target = target[:keep] + [self.eos]
            if self.family == "seq2seq":
                source = bos + source[: self.max_source_length - 1 - len(bos)] + [self.eos]
                ids, labels, prompt = source, bos + target if bos else target, len(source)
            else:
                prompt_ids = bos + source[: self.max_source_length - 1 - len(bos)] + [self.sep]
                ids = prompt_ids + target
                labels = [IGNORE_INDEX] * len(prompt_ids) + target
                prompt = len(prompt_ids)
            out["input_ids"].append(ids)
            out["labels"].append(labels)
            out["prompt_length"].append(prompt)
            out["length"].append(len(ids))
        return out

    def build(self, rows: list[dict], cache_dir: Path | None, num_proc: int | None = None,
              ) -> datasets.Dataset:
        """Features for `rows`, read from the cache when the same data and settings were seen."""
        table = datasets.Dataset.from_list(
            [{"dialogue": r["dialogue"], "references": r["references"]} for r in rows])
        cache_file = None
        if cache_dir is not None:
            key = hashlib.sha256(json.dumps([
                FEATURE_VERSION, tokenizer_fingerprint(self.tokenizer), self.family,
                self.max_source_length, self.max_target_length, self.add_bos,
                rows_fingerprint(rows), len(rows),
            ]).encode()).hexdigest()[:24]
            cache_dir.mkdir(parents=True, exist_ok=True)
            cache_file = str(cache_dir / f"features-{key}.arrow")
        return table.map(self._batch, batched=True, remove_columns=table.column_names,
                         cache_file_name=cache_file, load_from_cache_file=cache_file is not None,
                         num_proc=num_proc if num_proc and num_proc > 1 else None,
                         desc="Tokenizing")
