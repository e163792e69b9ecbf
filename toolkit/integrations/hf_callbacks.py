"""Hugging Face ``TrainerCallback``s on the event bus, unchanged.

The adapter calls the callback's hooks with real transformers objects: ``args`` (a
TrainingArguments built from the config, ``output_dir`` being the run directory), ``state`` (a
TrainerState kept in step with the loop's) and ``control`` (a TrainerControl whose
``should_training_stop`` and ``should_save`` go to ``run.control`` after every hook, so the loop
honours them after the current step). Metrics and logs carry the Trainer's key names beside
ours: ``eval_loss``, ``eval_rouge1``, ``eval_rouge2``, ``eval_rougeL``,
``eval_rouge_combined_f1`` (``eval_<name>`` for every ``eval/<name>``), and ``loss``,
``learning_rate``, ``grad_norm``, ``epoch`` for training logs.

As in the Trainer, an evaluation reaches ``on_log`` before ``on_evaluate``, ``state.log_history``
holds both, and ``state.best_metric`` during ``on_evaluate`` is the best before this evaluation.
The Trainer's ``load_best_model_at_end`` is what best/ always is, so ``args`` says so (with
``save_strategy="best"``, the one save strategy HF accepts with any evaluation cadence).

Not available, for want of an event or because subscribers never reach into the loop:
``on_step_begin``, ``on_substep_end``, ``on_pre_optimizer_step``, ``on_optimizer_step``,
``on_prediction_step`` (``on_init_end`` is called at train begin); the ``model``, ``optimizer``,
``lr_scheduler`` and dataloader keyword arguments; ``should_log``, ``should_evaluate`` and
``should_epoch_stop``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from toolkit.events.bus import Callback, RunContext

if TYPE_CHECKING:
    from toolkit.state import TrainingResult, TrainState

# ours -> the Trainer's
TRAIN_KEYS = {"train/loss": "loss", "train/learning_rate": "learning_rate",
              "train/grad_norm": "grad_norm", "train/epoch": "epoch"}
ROUGE_KEYS = {"rouge1_f1": "rouge1", "rouge2_f1": "rouge2", "rougeL_f1": "rougeL"}
# training keys whose meaning is the same in TrainingArguments
SAME_TRAINING_KEYS = (
    "per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps",
    "learning_rate", "weight_decay", "adam_beta1", "adam_beta2", "adam_epsilon",
    "max_grad_norm", "num_train_epochs", "max_steps", "lr_scheduler_type", "logging_steps",
    "eval_strategy", "metric_for_best_model", "greater_is_better", "dataloader_num_workers")


def with_trainer_names(metrics: dict[str, float]) -> dict[str, float]:
    """Our metrics plus the same values under the names the Trainer gives them."""
    out = dict(metrics)
    for key, value in metrics.items():
        if key in TRAIN_KEYS:
            out[TRAIN_KEYS[key]] = value
        elif key.startswith("eval/"):
            name = key.removeprefix("eval/")
            out[f"eval_{name}"] = value
            if name in ROUGE_KEYS:
                out[f"eval_{ROUGE_KEYS[name]}"] = value
    return out


def training_arguments(run: RunContext) -> TrainingArguments:
    """The run's config as the Trainer's arguments (keys the config does not set keep HF's
    defaults)."""
    config = run.config
    training = config.get("training", {})
    kwargs: dict[str, Any] = {k: training[k] for k in SAME_TRAINING_KEYS if k in training}
    if training.get("eval_steps"):
        kwargs["eval_steps"] = training["eval_steps"]
    if training.get("save_steps"):
        kwargs["save_steps"] = training["save_steps"]
    if training.get("warmup_steps") or training.get("warmup_ratio"):
        kwargs["warmup_steps"] = training.get("warmup_steps") or training["warmup_ratio"]
    if "seed" in config.get("general", {}):
        kwargs["seed"] = config["general"]["seed"]
    if "save_total_limit" in config.get("checkpoint", {}):
        kwargs["save_total_limit"] = config["checkpoint"]["save_total_limit"]
    # use_configured_state: the training run's Accelerator, which HF would otherwise reset
    return TrainingArguments(output_dir=str(run.run_dir), report_to="none",
                             load_best_model_at_end=True, save_strategy="best",
                             accelerator_config={"use_configured_state": True}, **kwargs)


class HFCallbackAdapter(Callback):
    """Delivers the bus's events to one ``transformers.TrainerCallback``, on every process
    (as the Trainer does; ``state.is_world_process_zero`` tells the callback where it runs)."""

    main_process_only = False

    def __init__(self, callback: TrainerCallback):
        self.callback = callback
        self.args: TrainingArguments | None = None
        self.state = TrainerState()
        self.control = TrainerControl()
        self.run: RunContext | None = None
        # the Trainer's epoch is fractional: the share of an epoch one batch is, learnt from the
        # first log on (before it, state.epoch is the epoch's start)
        self.epoch_per_batch = 0.0

    def __repr__(self) -> str:
        return f"HFCallbackAdapter({type(self.callback).__name__})"

    def _call(self, hook: str, state: TrainState, **kwargs: Any) -> None:
        """The hook with (args, state, control, **kwargs), then its control requests."""
        self._sync(state)
        returned = getattr(self.callback, hook)(self.args, self.state, self.control, **kwargs)
        if isinstance(returned, TrainerControl):  # the Trainer keeps a returned control
            self.control = returned
        if self.control.should_training_stop:
            self.run.control.request_stop(
                f"{type(self.callback).__name__} set control.should_training_stop")
        if self.control.should_save:
            self.run.control.should_save = True
            self.control.should_save = False  # handed over: the loop clears its own once saved

    def _sync(self, state: TrainState) -> None:
        hf = self.state
        hf.global_step, hf.max_steps = state.global_step, state.max_steps
        hf.epoch = state.epoch + state.batch_in_epoch * self.epoch_per_batch

    def _best_to_state(self, state: TrainState) -> None:
        self.state.best_metric, self.state.best_global_step = state.best_metric, state.best_step
        if state.best_step is not None:
            self.state.best_model_checkpoint = str(Path(self.run.run_dir) / "best")

    # ------------------------------------------------------------------- events
    def on_train_begin(self, state: TrainState, run: RunContext) -> None:
        self.run = run
        self.args = training_arguments(run)
        self.state = TrainerState(
            max_steps=state.max_steps, logging_steps=self.args.logging_steps,
            eval_steps=self.args.eval_steps or 0, save_steps=self.args.save_steps,
            train_batch_size=self.args.per_device_train_batch_size,
            num_train_epochs=self.args.num_train_epochs,
            is_world_process_zero=run.is_main_process,
            is_local_process_zero=_is_local_main(run))
        self._best_to_state(state)
        self._call("on_init_end", state)
        self._call("on_train_begin", state)

    def on_epoch_begin(self, state: TrainState) -> None:
        self._call("on_epoch_begin", state)

    def on_step_end(self, state: TrainState, lr: float) -> None:
        self._call("on_step_end", state)

    def _log(self, state: TrainState, logs: dict[str, float]) -> None:
        self._sync(state)
        logs = {**logs, "epoch": self.state.epoch}
        self.state.log_history.append({**logs, "step": state.global_step})
        self._call("on_log", state, logs=logs)

    def on_log(self, state: TrainState, metrics: dict[str, float]) -> None:
        if "train/epoch" in metrics and state.batch_in_epoch:
            self.epoch_per_batch = (metrics["train/epoch"] - state.epoch) / state.batch_in_epoch
        self._log(state, with_trainer_names(metrics))

    def on_evaluate(self, state: TrainState, metrics: dict[str, float],
                    samples: list[dict[str, str]]) -> None:
        named = with_trainer_names(metrics)
        self._log(state, named)
        self._call("on_evaluate", state, metrics=named)
        self._best_to_state(state)  # the Trainer updates the best after on_evaluate

    def on_save(self, state: TrainState, checkpoint_dir: Path) -> None:
        self._call("on_save", state)

    def on_epoch_end(self, state: TrainState) -> None:
        self._call("on_epoch_end", state)

    def on_train_end(self, state: TrainState, result: TrainingResult) -> None:
        self._call("on_train_end", state)


def _is_local_main(run: RunContext) -> bool:
    from accelerate import PartialState

    return PartialState().is_local_main_process if run.num_processes > 1 else run.is_main_process
