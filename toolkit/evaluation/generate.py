"""Batched generation over a process's share of a dataset, sorted by length for little padding."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from accelerate import Accelerator
from accelerate.utils import gather_object
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from toolkit.data.collator import GenerationCollator


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


def decode(tokenizer: PreTrainedTokenizerBase, sequences: torch.Tensor) -> list[str]:
    """Text of generated ids without pad/bos/eos; speaker tags (#Person1#) stay."""
    drop = {t for t in (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id)
            if t is not None}
    rows = [[t for t in seq if t not in drop] for seq in sequences.tolist()]
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
        if causal:
            output = output[:, inputs["input_ids"].shape[1]:]
        for index, text in zip(real, decode(tokenizer, output)):
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
