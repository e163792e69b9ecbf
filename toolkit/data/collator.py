"""Dynamic padding: each batch is padded to its own longest example."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from toolkit.data.features import IGNORE_INDEX


def target_tokens(labels: torch.Tensor, causal: bool) -> torch.Tensor:
    """Tokens that carry loss (decoder-only models predict position t+1 from t)."""
    return (labels[:, 1:] != IGNORE_INDEX).sum() if causal else (labels != IGNORE_INDEX).sum()


def pad(sequences: list[list[int]], value: int, left: bool = False) -> torch.Tensor:
    width = max(len(s) for s in sequences)
    rows = [[value] * (width - len(s)) + s if left else s + [value] * (width - len(s))
            for s in sequences]
    return torch.tensor(rows, dtype=torch.long)


@dataclass
class TrainCollator:
    """input_ids / attention_mask padded with the pad id, labels padded with -100."""

    pad_token_id: int

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        ids = [f["input_ids"] for f in features]
        input_ids = pad(ids, self.pad_token_id)
        mask = pad([[1] * len(s) for s in ids], 0)
        return {"input_ids": input_ids, "attention_mask": mask,
                "labels": pad([f["labels"] for f in features], IGNORE_INDEX)}


@dataclass
class GenerationCollator:
    """Prompts only; decoder-only models are padded on the left so generation continues."""

    pad_token_id: int
    left: bool

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        prompts = [f["input_ids"][: f["prompt_length"]] for f in features]
        return {"input_ids": pad(prompts, self.pad_token_id, self.left),
                "attention_mask": pad([[1] * len(p) for p in prompts], 0, self.left)}
