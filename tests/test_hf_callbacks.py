"""Hugging Face TrainerCallbacks, unchanged, in one real tiny training run: the seed guide's
CustomMetricCallback (logging into the user's own offline W&B run), transformers' own
EarlyStoppingCallback, and a recorder of what a callback sees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import wandb
from transformers import (
    EarlyStoppingCallback,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)

from tests.helpers import ROOT, tiny_overrides
from tests.test_wandb import finished_log, history, offline_env
from toolkit.engine.trainer import create_trainer
from toolkit.errors import ToolkitError
from toolkit.events import Callback
from toolkit.events.factory import as_subscriber, build_one
from toolkit.integrations.hf_callbacks import HFCallbackAdapter

BASE = str(ROOT / "config" / "base_config.yaml")


# The seed guide's example, as written there (usage_guide.md, "커스텀 콜백 추가").
class CustomMetricCallback(TrainerCallback):
    def on_evaluate(self, args, state, control, metrics, **kwargs):
        # 커스텀 메트릭 계산
        custom_score = self.calculate_custom_metric(metrics)

        # 로깅
        if wandb.run:
            wandb.log({'custom_score': custom_score})

    def calculate_custom_metric(self, metrics):
        # 도메인 특화 메트릭 계산 로직
        return (metrics.get('eval_rouge1', 0) +
                metrics.get('eval_rouge2', 0) * 2) / 3


class Recorder(TrainerCallback):
    """Records what each hook receives; asks for a checkpoint at step 3."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, Any]] = []
        self.seen: dict[str, Any] = {}

    def on_train_begin(self, args, state, control, **kwargs):
        self.seen["types"] = (type(args), type(state), type(control))
        self.seen["output_dir"] = args.output_dir
        self.seen["begin"] = (state.global_step, state.max_steps, state.is_world_process_zero)
        self.calls.append(("on_train_begin", state.global_step, None))

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.calls.append(("on_epoch_begin", state.global_step, state.epoch))

    def on_step_end(self, args, state, control, **kwargs):
        self.calls.append(("on_step_end", state.global_step, state.epoch))
        if state.global_step == 3:
            control.should_save = True
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.calls.append(("on_log", state.global_step, sorted(logs)))

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self.calls.append(("on_evaluate", state.global_step, dict(metrics)))
        self.seen.setdefault("best_during_evaluate", []).append(state.best_metric)

    def on_save(self, args, state, control, **kwargs):
        self.calls.append(("on_save", state.global_step, None))

    def on_epoch_end(self, args, state, control, **kwargs):
        self.calls.append(("on_epoch_end", state.global_step, state.epoch))

    def on_train_end(self, args, state, control, **kwargs):
        self.calls.append(("on_train_end", state.global_step, None))
        self.seen["end"] = (state.best_metric, state.best_model_checkpoint,
                            len(state.log_history), state.log_history[-1])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path):
    """One run, 8 steps (2 epochs) planned, evaluated every 2; the W&B run is the user's."""
    tmp = tmp_path_factory.mktemp("hf")
    with offline_env(tmp):
        user = wandb.init(project="dialogue-summarization", dir=str(tmp / "user"))
        overrides = tiny_overrides(tmp, cache_dir, data__embedded_train_size=32,
                                   data__embedded_eval_size=8, training__max_steps=8,
                                   training__eval_strategy="steps", training__eval_steps=2,
                                   checkpoint__save_total_limit=10, tracking__enabled="false")
        trainer = create_trainer(BASE, overrides=overrides)
        recorder = Recorder()
        trainer.add_callback(CustomMetricCallback())
        trainer.add_callback(EarlyStoppingCallback(early_stopping_patience=1,
                                                   early_stopping_threshold=1.0))
        trainer.add_callback(recorder)
        result = trainer.train()
        user.finish()
        log = finished_log(tmp / "user")
        yield result, recorder, history(log)


@pytest.mark.slow
def test_the_seed_guides_custom_metric_callback_logs_into_the_users_run(trained) -> None:
    result, _, rows = trained
    evals = [json.loads(line) for line in (Path(result.run_dir) / "metrics.jsonl")
             .read_text().splitlines() if "eval/loss" in line]
    expected = [(e["eval/rouge1_f1"] + 2 * e["eval/rouge2_f1"]) / 3 for e in evals]
    assert [r["custom_score"] for r in rows if "custom_score" in r] == pytest.approx(expected)
    # the toolkit's own logging into the same run still lands (wandb.enabled: auto)
    assert [r["eval/loss"] for r in rows if "eval/loss" in r] == [e["eval/loss"] for e in evals]


@pytest.mark.slow
def test_transformers_early_stopping_callback_stops_the_run(trained) -> None:
    result, recorder, _ = trained
    # threshold 1.0: the evaluation at step 4 cannot improve on step 2's; patience 1 ends it
    assert result.global_step == 4 and result.status == "completed"
    assert [step for hook, step, _ in recorder.calls if hook == "on_evaluate"] == [2, 4]
    assert recorder.calls[-1] == ("on_train_end", 4, None)


@pytest.mark.slow
def test_callbacks_get_real_args_state_control_and_the_trainers_metric_names(trained) -> None:
    result, recorder, _ = trained
    assert recorder.seen["types"] == (TrainingArguments, TrainerState, TrainerControl)
    assert recorder.seen["output_dir"] == result.run_dir
    assert recorder.seen["begin"] == (0, 8, True)
    [first, second] = [m for hook, _, m in recorder.calls if hook == "on_evaluate"]
    for name in ("eval_loss", "eval_rouge1", "eval_rouge2", "eval_rougeL",
                 "eval_rouge_combined_f1", "eval/rouge_combined_f1"):
        assert name in first
    assert first["eval_rouge1"] == first["eval/rouge1_f1"]
    logs = [keys for hook, step, keys in recorder.calls if hook == "on_log" and step == 1]
    assert {"loss", "learning_rate", "epoch", "train/loss"} <= set(logs[0])
    # as in the Trainer: best_metric during on_evaluate is the best before it
    assert recorder.seen["best_during_evaluate"] == [None, first["eval/rouge_combined_f1"]]
    best, checkpoint, entries, last = recorder.seen["end"]
    assert best == result.best_metrics["rouge_combined_f1"]
    assert checkpoint == str(Path(result.run_dir) / "best")
    assert entries == 4 + 2 and last["step"] == 4 and "eval_loss" in last  # 4 logs, 2 evals
    epochs = [(hook, step, epoch) for hook, step, epoch in recorder.calls if "epoch" in hook]
    assert epochs == [("on_epoch_begin", 0, 0.0), ("on_epoch_end", 4, 1.0)]
    # fractional as in the Trainer, from the first log on (step 1's on_step_end precedes it)
    assert [epoch for hook, _, epoch in recorder.calls if hook == "on_step_end"][1:] == [
        0.5, 0.75, 1.0]


@pytest.mark.slow
def test_control_should_save_is_honoured_after_the_step(trained) -> None:
    result, recorder, _ = trained
    assert 3 in [step for hook, step, _ in recorder.calls if hook == "on_save"]
    assert (Path(result.run_dir) / "checkpoints" / "step-3").is_dir()


def test_as_subscriber_accepts_toolkit_and_hf_callbacks_and_names_what_it_takes() -> None:
    ours = Callback()
    assert as_subscriber(ours) is ours
    adapted = as_subscriber(EarlyStoppingCallback)  # a class, as the Trainer allows
    assert isinstance(adapted, HFCallbackAdapter)
    assert isinstance(adapted.callback, EarlyStoppingCallback)
    with pytest.raises(ToolkitError, match="transformers.TrainerCallback"):
        as_subscriber(object())


def test_an_hf_callback_can_be_named_in_the_config() -> None:
    built = build_one({"name": "transformers:EarlyStoppingCallback",
                       "early_stopping_patience": 2})
    assert isinstance(built, HFCallbackAdapter)
    assert built.callback.early_stopping_patience == 2
