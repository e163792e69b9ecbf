"""A run's progress and outcome, shared by the engine that changes them and the subscribers that
read them: TrainState (everything a checkpoint must carry to continue exactly) and
TrainingResult (what `trainer.train()` returns and `on_train_end` receives)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class TrainState:
    """Progress counters; only the loop mutates them, subscribers read them."""

    epoch: int = 0  # current epoch, 0-based
    global_step: int = 0  # optimizer steps taken
    micro_step: int = 0  # forward/backward passes taken, across epochs
    samples_seen: int = 0  # training examples consumed across all processes
    batch_in_epoch: int = 0  # micro-batches consumed inside the current epoch (per process)
    max_steps: int = 0  # total optimizer steps planned
    best_metric: float | None = None
    best_step: int | None = None
    evals_since_improvement: int = 0  # the early-stopping patience counter
    last_eval_step: int | None = None
    # the logging window in progress (summed token loss, tokens), so a resumed run logs alike
    pending_loss_sum: float = 0.0
    pending_tokens: float = 0.0
    config_hash: str = ""
    world_size: int = 1
    global_batch_size: int = 0
    last_metrics: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    def save(self, path: Path) -> None:
        path.write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> TrainState:
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


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
