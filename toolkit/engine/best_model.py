"""best/ and final/: which evaluation is best, the patience counter, and the exported model.

Every evaluation during training compares ``training.metric_for_best_model`` with the best so
far in the direction ``training.greater_is_better`` says (never guessed from the name). An
improvement exports ``best/`` and writes ``predictions.csv``; otherwise
``state.evals_since_improvement`` grows, which the ``early_stopping`` subscriber compares with
its patience. ``best/`` exists only once an evaluation has chosen it; ``final/`` holds the last
weights. Both are ``save_pretrained`` directories, consolidated from every rank and renamed
into place, so a reader never sees half of one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from accelerate import Accelerator
from transformers import GenerationConfig, PreTrainedTokenizerBase

from toolkit.data.splits import DialogueSplit
from toolkit.evaluation.csv_output import write_csv
from toolkit.evaluation.evaluator import EvalSettings, evaluate
from toolkit.events import Event, EventBus
from toolkit.models.loading import save_model_dir
from toolkit.models.prompts import PromptFormat
from toolkit.state import TrainState


def export_model(accelerator: Accelerator, model: torch.nn.Module,
                 tokenizer: PreTrainedTokenizerBase, generation_config: GenerationConfig,
                 directory: Path, prompt: PromptFormat | None = None) -> None:
    """A save_pretrained dir (weights gathered from every rank; an adapter alone for a LoRA
    model) with tokenizer and prompt format, written then renamed (toolkit.models.loading)."""
    save_model_dir(accelerator, model, tokenizer, directory, generation_config, prompt)


def write_predictions(path: Path, split: DialogueSplit, predictions: list[str]) -> None:
    write_csv(path, ["fname", "prediction", "reference", "dialogue"],
              ([row["id"], prediction, row["references"][0], row["dialogue"]]
               for row, prediction in zip(split.rows, predictions)))


@dataclass
class BestModelKeeper:
    """Evaluates during training and keeps best/ at the best value of one metric."""

    accelerator: Accelerator
    tokenizer: PreTrainedTokenizerBase
    validation: DialogueSplit
    settings: EvalSettings
    metric: str  # without the eval/ prefix
    greater_is_better: bool
    generation_config: GenerationConfig
    run_dir: Path
    save_predictions: bool
    num_samples: int
    prompt: PromptFormat | None = None

    def improves(self, value: float, best: float | None) -> bool:
        return best is None or (value > best if self.greater_is_better else value < best)

    def evaluate(self, model: torch.nn.Module, state: TrainState, bus: EventBus
                 ) -> dict[str, float]:
        """ROUGE on the validation split; on improvement best/ and predictions.csv."""
        out = evaluate(self.accelerator, model, self.tokenizer, self.validation.features,
                       self.validation.references, self.settings)
        scores = {k: v for k, v in out.metrics.items() if k != "num_examples"}
        state.last_eval_step = state.global_step
        if self.improves(scores[self.metric], state.best_metric):
            state.best_metric, state.best_step = scores[self.metric], state.global_step
            state.evals_since_improvement = 0
            export_model(self.accelerator, model, self.tokenizer, self.generation_config,
                         self.run_dir / "best", self.prompt)
            if self.accelerator.is_main_process and self.save_predictions:
                write_predictions(self.run_dir / "predictions.csv", self.validation,
                                  out.predictions)
            state.last_metrics.update({f"best/{k}": v for k, v in scores.items()})
        else:
            state.evals_since_improvement += 1
        metrics = {f"eval/{k}": v for k, v in scores.items()}
        state.last_metrics.update(metrics)
        samples = [{"input": row["dialogue"], "prediction": prediction,
                    "reference": row["references"][0]}
                   for row, prediction in zip(self.validation.rows[:self.num_samples],
                                              out.predictions[:self.num_samples])]
        bus.emit(Event.EVALUATE, state, metrics=metrics, samples=samples)
        return metrics
