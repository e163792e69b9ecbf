"""TrainingResult: what `trainer.train()` returns and `on_train_end` receives."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrainingResult:
    best_metrics: dict[str, float]  # eval metrics at the best evaluation, keys without prefix
    final_metrics: dict[str, float]  # last eval metrics (or last train metrics) without prefix
    model_path: str  # best/ (a save_pretrained directory)
    final_model_path: str  # final/ (last weights)
    run_dir: str
    status: str = "completed"  # completed | interrupted
    global_step: int = 0
    best_step: int | None = None
    train_loss: float | None = None  # mean loss of the last logging window
    experiment_id: str | None = None  # filled by the tracker subscriber
    model_id: str | None = None  # filled by the registry subscriber
    extra: dict[str, object] = field(default_factory=dict)
