"""Batched generation over a process's share of a dataset, sorted by length for little padding,
and the generation settings of a config (one function: `generation_kwargs`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import gather_object
from tqdm.auto import tqdm
from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

from toolkit.data.collator import GenerationCollator

SEQ2SEQ_BEAMS = 4  # num_beams: null means beam search for seq2seq, greedy for decoder-only


def generation_kwargs(g, causal: bool) -> dict[str, Any]:
    """`generate()` keyword arguments from the config's `generation` section."""
    beams = g.num_beams or (1 if causal else SEQ2SEQ_BEAMS)
    kwargs: dict[str, Any] = {"max_new_tokens": g.max_new_tokens, "num_beams": beams,
                              "repetition_penalty": g.repetition_penalty,
                              "do_sample": g.do_sample}
    if beams > 1:  # beam-only settings would only raise warnings otherwise
        kwargs.update(length_penalty=g.length_penalty, early_stopping=g.early_stopping)
    if g.do_sample:
        kwargs.update(temperature=g.temperature, top_p=g.top_p, top_k=g.top_k)
    if g.min_new_tokens:
        kwargs["min_new_tokens"] = g.min_new_tokens
    if g.no_repeat_ngram_size:
        kwargs["no_repeat_ngram_size"] = g.no_repeat_ngram_size
    return kwargs


def generation_config(model: PreTrainedModel, g, causal: bool,
                      stop_ids: Sequence[int] = ()) -> GenerationConfig:
    """The model's generation config with the `generation` section applied, the model's special
    token ids, and extra stop tokens (a chat template's end of turn) next to EOS."""
    base = model.generation_config.to_dict()
    base.update(generation_kwargs(g, causal))
    if not g.do_sample:  # a checkpoint's sampling defaults (Qwen's top_p) would only warn
        for key in ("temperature", "top_p", "top_k"):
            base.pop(key, None)
    for name in ("pad_token_id", "eos_token_id", "bos_token_id", "decoder_start_token_id"):
        value = getattr(model.config, name, None)
        if value is not None:
            base[name] = value
    eos = base.get("eos_token_id")
    eos = list(eos) if isinstance(eos, (list, tuple)) else [] if eos is None else [eos]
    eos += [t for t in stop_ids if t not in eos]
    if eos:
        base["eos_token_id"] = eos[0] if len(eos) == 1 else eos
    base.pop("max_length", None)
    base.pop("transformers_version", None)
    return GenerationConfig(**base)


def shard_batches(lengths: Sequence[int], batch_size: int, num_processes: int,
                  process_index: int) -> list[list[int]]:
    """This process's batches of example indices, longest first.

    Every process gets the same number of batches (needed when generation is a collective, as
    under ZeRO-3); a short shard is padded with -1 entries that the caller skips.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    per_process = -(-len(order) // num_processes)
    mine = order[process_index * per_process:(process_index + 1) * per_process]
    mine += [-1] * (per_process - len(mine))
    return [mine[i:i + batch_size] for i in range(0, len(mine), batch_size)]


def decode(tokenizer: PreTrainedTokenizerBase, sequences: torch.Tensor,
           stop_ids: Sequence[int] = ()) -> list[str]:
    """Text of generated ids without pad/bos/eos, each cut at its first stop token (new tokens
    of a decoder-only model); speaker tags (#Person1#) stay."""
    drop = {t for t in (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id)
            if t is not None}
    rows = []
    for seq in sequences.tolist():
        ends = [seq.index(t) for t in stop_ids if t in seq]
        rows.append([t for t in seq[:min(ends, default=len(seq))] if t not in drop])
    return [text.strip() for text in tokenizer.batch_decode(rows, skip_special_tokens=False)]


@torch.no_grad()
def generate_batches(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, features,
                     batches: list[list[int]], device: torch.device, causal: bool,
                     gen_kwargs: dict, synced_gpus: bool = False,
                     on_batch: Callable[[], None] | None = None) -> dict[int, str]:
    """Generated text by example index for the given batches (padding entries skipped)."""
    collate = GenerationCollator(tokenizer.pad_token_id, left=causal)
    out: dict[int, str] = {}
    was_training = model.training
    model.eval()
    for batch in batches:
        real = [i for i in batch if i >= 0]
        picked = real or [0]  # an all-padding batch still joins the collective generate call
        inputs = {k: v.to(device) for k, v in collate([features[i] for i in picked]).items()}
        output = model.generate(**inputs, **gen_kwargs, synced_gpus=synced_gpus,
                                pad_token_id=tokenizer.pad_token_id)
        stops: Sequence[int] = ()
        if causal:  # only the new tokens, up to the first end-of-answer token
            output = output[:, inputs["input_ids"].shape[1]:]
            eos = model.generation_config.eos_token_id
            stops = eos if isinstance(eos, (list, tuple)) else [eos] if eos is not None else ()
        for index, text in zip(real, decode(tokenizer, output, stops)):
            out[index] = text
        if on_batch is not None:
            on_batch()
    model.train(was_training)
    return out


def generate_everywhere(accelerator: Accelerator, model: PreTrainedModel,
                        tokenizer: PreTrainedTokenizerBase, features, batch_size: int,
                        causal: bool, gen_kwargs: dict, synced_gpus: bool = False,
                        desc: str = "Generating", show_progress: bool = True,
                        ) -> tuple[list[str], list[list[int]]]:
    """One text per feature row, in row order, each generated once across all processes.

    Also returns this process's batches, for callers that run more passes over the same shard.
    """
    lengths = features["prompt_length"][:]  # a list: indexing a datasets Column is slow
    batches = shard_batches(lengths, batch_size, accelerator.num_processes,
                            accelerator.process_index)
    with tqdm(total=len(batches), desc=desc, leave=False,
              disable=not (show_progress and accelerator.is_main_process)) as bar:
        local = generate_batches(model, tokenizer, features, batches, accelerator.device, causal,
                                 gen_kwargs, synced_gpus=synced_gpus, on_batch=bar.update)
    merged: dict[int, str] = {}
    for part in gather_object([local]):
        merged.update(part)
    return [merged[i] for i in range(len(lengths))], batches
