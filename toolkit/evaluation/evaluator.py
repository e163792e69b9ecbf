"""Evaluation on every process: shard, generate, gather each example once, ROUGE on the main one."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType, broadcast_object_list

from toolkit.data.collator import TrainCollator, target_tokens
from toolkit.evaluation.generate import generate_everywhere
from toolkit.evaluation.rouge import compute_rouge


@dataclass
class EvalSettings:
    batch_size: int
    causal: bool
    gen_kwargs: dict
    rouge_tokenizer: str = "auto"
    multi_reference: str = "mean"
    with_loss: bool = True
    show_progress: bool = True
    rouge_workers: int = 1


@dataclass
class EvalOutput:
    metrics: dict[str, float]  # without prefix: rouge1_f1, ..., loss
    predictions: list[str]  # one per example, in the split's order
    extra: dict = field(default_factory=dict)


def needs_synced_gpus(accelerator: Accelerator) -> bool:
    """ZeRO-3 and FSDP shard the weights: every rank must take part in every forward."""
    if accelerator.num_processes == 1:
        return False
    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        return accelerator.state.deepspeed_plugin.zero_stage == 3
    return accelerator.distributed_type == DistributedType.FSDP


@torch.no_grad()
def eval_loss(accelerator: Accelerator, model: torch.nn.Module, features, batches, pad_id: int,
              causal: bool) -> float:
    """Token-weighted loss over this process's batches, summed across processes."""
    collate = TrainCollator(pad_id)
    loss = torch.zeros((), device=accelerator.device)
    tokens = torch.zeros((), device=accelerator.device)
    was_training = model.training
    model.eval()
    for batch in batches:
        real = [i for i in batch if i >= 0]
        inputs = {k: v.to(accelerator.device)
                  for k, v in collate([features[i] for i in (real or [0])]).items()}
        count = target_tokens(inputs["labels"], causal).float() * (1 if real else 0)
        loss += model(**inputs).loss.float() * count
        tokens += count
    model.train(was_training)
    total = accelerator.reduce(torch.stack([loss, tokens]), reduction="sum")
    return (total[0] / total[1].clamp(min=1)).item()


def evaluate(accelerator: Accelerator, model: torch.nn.Module, tokenizer, features,
             references: list[list[str]], settings: EvalSettings) -> EvalOutput:
    """Generate for every example once across processes; ROUGE on main, shared with all."""
    predictions, batches = generate_everywhere(
        accelerator, accelerator.unwrap_model(model), tokenizer, features, settings.batch_size,
        settings.causal, settings.gen_kwargs, synced_gpus=needs_synced_gpus(accelerator),
        desc="Evaluating", show_progress=settings.show_progress)
    metrics: list = [None]
    if accelerator.is_main_process:
        metrics[0] = compute_rouge(predictions, references, settings.rouge_tokenizer,
                                   settings.multi_reference, settings.rouge_workers)
    if accelerator.num_processes > 1:
        broadcast_object_list(metrics, from_process=0)
    result = dict(metrics[0])
    if settings.with_loss:
        result["loss"] = eval_loss(accelerator, model, features, batches, tokenizer.pad_token_id,
                                   settings.causal)
    return EvalOutput(result, predictions)
