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

    @classmethod
    def from_state(cls, state: TrainState, run_dir: Path, status: str) -> TrainingResult:
        """The result of a run that ended in `state`: best/ when an evaluation chose one."""
        def section(prefix: str) -> dict[str, float]:
            return {k.removeprefix(prefix): v for k, v in state.last_metrics.items()
                    if k.startswith(prefix)}

        final = section("eval/") or section("train/")
        best_dir = run_dir / "best" if (run_dir / "best").is_dir() else run_dir / "final"
        return cls(best_metrics=section("best/") or dict(final), final_metrics=final,
                   model_path=str(best_dir), final_model_path=str(run_dir / "final"),
                   run_dir=str(run_dir), status=status, global_step=state.global_step,
                   best_step=state.best_step, train_loss=state.last_metrics.get("train/loss"))
