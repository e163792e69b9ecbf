"""Tokenized features for both model families, built with `datasets.map` and cached on disk.

seq2seq (BART, T5): input_ids = [bos] prefix dialogue eos, labels = [bos] summary eos.
causal (GPT-2, Llama, Qwen, ...): input_ids = [bos] prefix dialogue suffix | summary
                     answer_suffix eos, labels -100 on the prompt (everything before `|`);
                     generation continues after the prompt.
prefix / suffix / answer_suffix come from a PromptFormat (toolkit/models/prompts.py): the
<|summary|> separator, a prompt template, or a chat template. Only the dialogue is truncated.
Every example carries `prompt_length` (tokens given to `generate`) and `length` (for batching).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import datasets
from transformers import PreTrainedTokenizerBase

if TYPE_CHECKING:
    from toolkit.models.prompts import PromptFormat

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
    """Turns normalised rows into token features for one tokenizer, family and prompt format.

    Without a `prompt`, the seed's layout: `add_bos`, and for decoder-only models the dialogue
    followed by the <|summary|> separator.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase, family: str, max_source_length: int,
                 max_target_length: int, add_bos: bool = False,
                 prompt: PromptFormat | None = None):
        self.tokenizer = tokenizer
        self.family = family
        self.max_source_length = max_source_length
        self.max_target_length = max_target_length
        if prompt is None:
            from toolkit.models.prompts import PromptFormat

            prompt = PromptFormat(suffix=SEPARATOR if family == "causal" else "",
                                  add_bos=add_bos)
        self.prompt = prompt
        self.add_bos = prompt.add_bos and tokenizer.bos_token_id is not None
        self.eos = tokenizer.eos_token_id
        pieces = self._encode([prompt.prefix, prompt.suffix, prompt.answer_suffix])
        self.prefix, self.suffix, self.answer_suffix = pieces
        if self.eos not in self.answer_suffix[:1] + self.answer_suffix[-1:]:
            self.answer_suffix = [*self.answer_suffix, self.eos]

    def _encode(self, texts: list[str]) -> list[list[int]]:
        return [ids if text else [] for text, ids in
                zip(texts, self.tokenizer(texts, add_special_tokens=False)["input_ids"])]

    def _batch(self, batch: dict[str, list]) -> dict[str, list]:
        sources = self._encode(batch["dialogue"])
        targets = self._encode([refs[0] if refs else "" for refs in batch["references"]])
        bos = [self.tokenizer.bos_token_id] if self.add_bos else []
        head = bos + self.prefix
        out: dict[str, list] = {"input_ids": [], "labels": [], "prompt_length": [], "length": []}
        for source, target in zip(sources, targets):
            if self.family == "seq2seq":
                keep = max(0, self.max_target_length - len(bos) - len(self.answer_suffix))
                source = head + source[: max(0, self.max_source_length - 1 - len(head))] + [self.eos]
                ids, labels, prompt = source, bos + target[:keep] + self.answer_suffix, len(source)
            else:
                keep = max(0, self.max_target_length - len(self.answer_suffix))
                room = max(0, self.max_source_length - len(head) - len(self.suffix))
                prompt_ids = head + source[:room] + self.suffix
                answer = target[:keep] + self.answer_suffix
                ids = prompt_ids + answer
                labels = [IGNORE_INDEX] * len(prompt_ids) + answer
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
                self.prefix, self.suffix, self.answer_suffix,
                rows_fingerprint(rows), len(rows),
            ]).encode()).hexdigest()[:24]
            cache_dir.mkdir(parents=True, exist_ok=True)
            cache_file = str(cache_dir / f"features-{key}.arrow")
        return table.map(self._batch, batched=True, remove_columns=table.column_names,
                         cache_file_name=cache_file, load_from_cache_file=cache_file is not None,
                         num_proc=num_proc if num_proc and num_proc > 1 else None,
                         desc="Tokenizing")
