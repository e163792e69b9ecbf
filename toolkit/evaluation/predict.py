"""Prediction from a saved model (or adapter) directory: load, build prompts, generate sorted by length.

The one place that turns a ``save_pretrained`` directory (model, tokenizer, generation_config)
into something that generates; ``toolkit predict``, ``toolkit evaluate`` and the benchmarks
all load through :func:`load_model_dir`.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import torch
import yaml
from accelerate import Accelerator
from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase
from transformers.cache_utils import Cache, EncoderDecoderCache

from toolkit.data.features import FeatureBuilder
from toolkit.data.preprocess import normalise
from toolkit.data.readers import Columns, normalise_rows, read_rows, reference_columns
from toolkit.errors import DataError, ToolkitError
from toolkit.evaluation.generate import generate_everywhere
from toolkit.models.loading import check_model_dir as check_model_dir  # re-exported for the CLI
from toolkit.models.loading import load_saved
from toolkit.models.prompts import PromptFormat

logger = logging.getLogger("toolkit")

GENERATION_KEYS = ("max_new_tokens", "min_new_tokens", "num_beams", "length_penalty",
                   "no_repeat_ngram_size", "early_stopping", "repetition_penalty", "do_sample")
DEFAULT_MAX_NEW_TOKENS = 64
DEFAULT_MAX_SOURCE_LENGTH = 512


@dataclass
class ModelBundle:
    """A loaded model directory and what generation needs to know about it."""

    directory: Path
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    family: str  # seq2seq | causal
    add_bos: bool
    generation_config: GenerationConfig
    max_source_length: int
    prompt: PromptFormat

    @property
    def causal(self) -> bool:
        return self.family == "causal"


def _run_config(directory: Path) -> dict[str, Any]:
    """The training run's config.yaml when the model dir is a run's best/ or final/."""
    path = directory.parent / "config.yaml"
    if not path.is_file():
        return {}
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _source_length(config, directory: Path, causal: bool, max_new_tokens: int) -> int:
    """Dialogue tokens kept: the run's tokenizer.max_source_length, else what positions allow."""
    section = _run_config(directory).get("tokenizer")
    if isinstance(section, dict) and isinstance(section.get("max_source_length"), int):
        return section["max_source_length"]
    positions = getattr(config, "max_position_embeddings", None) or getattr(
        config, "n_positions", None)
    if not positions:
        return DEFAULT_MAX_SOURCE_LENGTH
    return max(8, positions - max_new_tokens) if causal else positions


def load_model_dir(path: str | Path, device: torch.device | str | None = None,
                   max_source_length: int | None = None) -> ModelBundle:
    """Model (seq2seq or causal; a full model or base + adapter), tokenizer, prompt format and
    generation config from one saved directory, in eval mode on ``device``."""
    saved = load_saved(path)
    directory = Path(path)
    max_new = saved.generation_config.max_new_tokens or DEFAULT_MAX_NEW_TOKENS
    saved.model.to(device or "cpu").eval()
    return ModelBundle(
        directory=directory, model=saved.model, tokenizer=saved.tokenizer,
        family="causal" if saved.causal else "seq2seq", add_bos=saved.prompt.add_bos,
        generation_config=saved.generation_config,
        max_source_length=max_source_length or _source_length(saved.config, directory,
                                                              saved.causal, max_new),
        prompt=saved.prompt)


def generation_kwargs(bundle: ModelBundle, **overrides: Any) -> dict[str, Any]:
    """The saved generation settings, with every override that is not None applied."""
    saved = bundle.generation_config
    kwargs = {key: getattr(saved, key) for key in GENERATION_KEYS
              if getattr(saved, key, None) is not None}
    kwargs.setdefault("max_new_tokens", DEFAULT_MAX_NEW_TOKENS)
    kwargs.update({key: value for key, value in overrides.items() if value is not None})
    if kwargs.get("num_beams", 1) == 1:  # beam-only settings would only raise warnings
        kwargs.pop("length_penalty", None)
        kwargs.pop("early_stopping", None)
    return kwargs


def prompt_features(bundle: ModelBundle, rows: list[dict], max_target_length: int = 128,
                    ) -> datasets.Dataset:
    """Token features of normalised rows ({dialogue, references}) as the trainer builds them."""
    builder = FeatureBuilder(bundle.tokenizer, bundle.family, bundle.max_source_length,
                             max_target_length, prompt=bundle.prompt)
    return builder.build(rows, cache_dir=None)


def require_columns(rows: list[dict], source: str, needed: dict[str, str]) -> None:
    """Raise a DataError naming the flag to fix when a column is missing ({column: flag})."""
    keys = list(rows[0])
    for column, flag in needed.items():
        if column not in keys:
            raise DataError(f"{source} has no `{column}` column (it has {', '.join(keys)}); "
                            f"pass {flag} with the right name")


def read_dialogues(path: str | Path, columns: Columns) -> tuple[list[str], list[dict | None]]:
    """Every row's id and its normalised row (None where the dialogue is empty), in file order."""
    raw = read_rows(path)
    require_columns(raw, str(path), {columns.id: "--id-column",
                                     columns.dialogue: "--dialogue-column"})
    ids = [str(row.get(columns.id, "") or f"row_{i}") for i, row in enumerate(raw)]
    present = [i for i, row in enumerate(raw) if str(row.get(columns.dialogue) or "").strip()]
    if not present:
        raise DataError(f"{path}: every row has an empty `{columns.dialogue}`; nothing to predict")
    kept, _ = normalise_rows([raw[i] for i in present], columns, str(path), need_summary=False)
    rows: list[dict | None] = [None] * len(raw)
    for position, row in zip(present, kept):
        row["dialogue"] = normalise(row["dialogue"])
        rows[position] = row
    if len(present) < len(raw):
        logger.warning("%s: %d row(s) with an empty dialogue get an empty summary", path,
                       len(raw) - len(present))
    return ids, rows


def read_references(path: str | Path, columns: Columns) -> list[dict]:
    """Normalised rows with at least one reference (summary or summary1..summaryN)."""
    raw = read_rows(path)
    require_columns(raw, str(path), {columns.dialogue: "--dialogue-column"})
    if not reference_columns(list(raw[0]), columns.summary):
        raise DataError(f"{path} has no `{columns.summary}` column nor summary1..summaryN "
                        f"(it has {', '.join(raw[0])}); pass --summary-column")
    rows, dropped = normalise_rows(raw, columns, str(path), need_summary=True)
    for row in rows:
        row["dialogue"] = normalise(row["dialogue"])
        row["references"] = [normalise(r) for r in row["references"]]
    if dropped:
        logger.warning("%s: dropped %d row(s) with an empty dialogue or summary", path, dropped)
    return rows


def _reorder_self_attention_only(cache: Cache, beam_idx: torch.Tensor) -> Cache:
    """Beam search's per-step cache reorder, minus the cross-attention keys/values: all beams
    of an example hold the same encoder states and ``beam_idx`` never leaves its example, so
    that reorder copies the largest part of the cache for nothing (transformers #28357)."""
    if isinstance(cache, EncoderDecoderCache):
        cache.self_attention_cache.reorder_cache(beam_idx)
    else:
        cache.reorder_cache(beam_idx)
    return cache


@contextmanager
def lean_beam_search(model: PreTrainedModel) -> Iterator[None]:
    """While active, beam search on an encoder-decoder model skips reordering the cross-attention
    cache (same outputs; 2-3x faster on CPU with 4 beams); other models are left alone."""
    if not model.config.is_encoder_decoder or hasattr(model, "_reorder_cache"):
        yield
        return
    model._reorder_cache = _reorder_self_attention_only  # generate()'s per-model hook
    try:
        yield
    finally:
        del model._reorder_cache


@torch.inference_mode()
def predict_features(accelerator: Accelerator, bundle: ModelBundle, features: datasets.Dataset,
                     batch_size: int, gen_kwargs: dict[str, Any], show_progress: bool = True,
                     ) -> list[str]:
    """One summary per feature row, in row order, generated across all processes."""
    with lean_beam_search(bundle.model):
        predictions, _ = generate_everywhere(accelerator, bundle.model, bundle.tokenizer,
                                             features, batch_size, bundle.causal, gen_kwargs,
                                             desc="Predicting", show_progress=show_progress)
    return predictions


def check_output(output: str | Path, inputs: Sequence[str | Path] = (),
                 overwrite: bool = False) -> Path:
    """The csv to write, refused (before any generation) where writing would fail or destroy:
    a directory, a path under a file, one of the inputs, an existing file without overwrite."""
    target = Path(output)
    if target.is_dir():
        raise ToolkitError(f"--output {target} is a directory; pass a file name such as "
                           f"{target / 'submission.csv'}")
    parent = next((p for p in target.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ToolkitError(f"--output {target} lies under {parent}, which is a file; pass a path "
                           f"inside a directory")
    if target.exists():
        if any(Path(source).exists() and target.samefile(source) for source in inputs):
            raise ToolkitError(f"--output {target} is the input file: writing it would destroy "
                               f"the dialogues; pass another --output")
        if not overwrite:
            raise ToolkitError(f"--output {target} already exists; pass --overwrite to replace "
                               f"it, or another --output")
    return target


def write_submission(path: str | Path, ids: Sequence[str], summaries: Sequence[str],
                     id_column: str = "fname") -> None:
    """``<id_column>,summary`` rows in the given order (parent folders created), written whole."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([id_column, "summary"])
        writer.writerows(zip(ids, summaries))
    os.replace(tmp, target)  # a crash mid-write leaves the previous file whole
