"""The summed token loss of a batch: the model's own mean loss times its target tokens, or,
with label smoothing, a smoothed cross-entropy summed over the same tokens."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from toolkit.data.features import IGNORE_INDEX


def token_loss_sum(model: torch.nn.Module, batch: dict[str, torch.Tensor],
                   tokens: torch.Tensor, causal: bool, label_smoothing: float = 0.0,
                   ) -> torch.Tensor:
    """Summed (not mean) loss over the target tokens of `batch`, in float32.

    `tokens` is `target_tokens(batch["labels"], causal)`; decoder-only models predict position
    t+1 from t, so their logits and labels are shifted by one before comparing.
    """
    output = model(**batch)
    if not label_smoothing:
        return output.loss.float() * tokens
    logits, labels = output.logits, batch["labels"]
    if causal:
        logits, labels = logits[:, :-1], labels[:, 1:]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1),
                           ignore_index=IGNORE_INDEX, reduction="sum",
                           label_smoothing=label_smoothing)
