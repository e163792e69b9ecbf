"""DialogueSummarizationTrainer: the seed's API over the hand-written loop.

Lifecycle: ``initialize_components()`` (accelerator, tokenizer, model) -> ``prepare_data()``
(splits with features) -> ``train(datasets)`` (run dir, optimizer, subscribers, loop, final/
and best/) -> ``evaluate`` / ``generate_predictions``.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import logging
import math
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import broadcast_object_list, set_seed
from transformers import GenerationConfig

from toolkit.config import loader
from toolkit.config.schema import Config
from toolkit.data.collator import TrainCollator
from toolkit.data.features import FeatureBuilder
from toolkit.data.preprocess import find_tags
from toolkit.data.readers import Columns
from toolkit.data.sampler import EpochBatchSampler
from toolkit.data.splits import EMBEDDED, DialogueSplit, load_split
from toolkit.engine import checkpoint
from toolkit.engine import run_dir as runs
from toolkit.engine.batch_size import fit_micro_batch, probe_step
from toolkit.engine.devices import configure_deepspeed, pick_precision, setup_logging
from toolkit.engine.loop import LoopParts, train_loop
from toolkit.engine.optim import build_optimizer, build_scheduler
from toolkit.engine.result import TrainingResult
from toolkit.engine.state import TrainState
from toolkit.errors import CheckpointError, ConfigError, ToolkitError
from toolkit.evaluation.evaluator import EvalSettings, evaluate
from toolkit.events import Callback, Event, EventBus, RunContext
from toolkit.events.factory import build_subscribers
from toolkit.models.factory import build_tokenizer, family_of, load_model, load_tokenizer

logger = logging.getLogger("toolkit")

EVAL_METRICS = ("rouge1_f1", "rouge2_f1", "rougeL_f1", "rouge_combined_f1", "loss")


def metric_name(name: str) -> str:
    """`eval/rouge_combined_f1`, `eval_rouge_combined_f1` and `rouge_combined_f1` are one."""
    for prefix in ("eval/", "eval_"):
        name = name.removeprefix(prefix)
    if name not in EVAL_METRICS:
        raise ConfigError([f"training.metric_for_best_model `{name}` is not an eval metric; "
                           f"use one of {', '.join(EVAL_METRICS)}"])
    return name


def resolve_config(config: str | Path | dict[str, Any], sweep_mode: bool = False,
                   overrides: list[str] | None = None) -> dict[str, Any]:
    """A path is loaded with every layer; a dict (the seed's examples edit one) is validated."""
    if isinstance(config, (str, Path)):
        resolved, _ = loader.resolve(config, overrides)
    else:
        resolved = loader.defaults_merged(copy.deepcopy(config))
        if overrides:
            resolved = loader.apply_overrides(resolved, overrides)
    if sweep_mode:
        import wandb

        if wandb.run is not None and dict(wandb.config):
            resolved = loader.merge_sweep_params(resolved, dict(wandb.config))
    return resolved


class PreemptionHandler:
    """SIGTERM/SIGINT: finish the step, checkpoint, exit; a second signal exits at once."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    # A signal sent to a process group reaches each rank twice (directly, and forwarded by
    # torchrun / accelerate launch): repeats this close to the first are one signal.
    REPEAT_WINDOW_S = 1.0

    def __init__(self) -> None:
        self.received: int | None = None
        self.first_at = 0.0
        self.previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame) -> None:
        if self.received is not None:
            if time.monotonic() - self.first_at > self.REPEAT_WINDOW_S:
                os._exit(128 + signum)
            return
        self.received, self.first_at = signum, time.monotonic()
        logger.warning("received %s: saving a checkpoint after this step, then exiting "
                       "(send it again to exit at once)", signal.Signals(signum).name)

    def __enter__(self) -> PreemptionHandler:
        try:
            for sig in self.SIGNALS:
                self.previous[sig] = signal.signal(sig, self._handle)
        except ValueError:  # not the main thread: signals stay with the caller
            self.previous.clear()
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def requested(self) -> bool:
        return self.received is not None


class DialogueSummarizationTrainer:
    """Train, evaluate and predict with one config (a path or the nested dict)."""

    def __init__(self, config: str | Path | dict[str, Any], experiment_name: str | None = None,
                 sweep_mode: bool = False, overrides: list[str] | None = None):
        self.config = resolve_config(config, sweep_mode, overrides)
        if experiment_name:
            self.config["meta"]["experiment_name"] = experiment_name
        self.cfg: Config = loader.to_typed(self.config)
        self.best_metric = metric_name(self.cfg.training.metric_for_best_model)
        self.family = family_of(self.cfg.model.architecture)
        self.user_callbacks: list[Callback] = []
        self.accelerator: Accelerator | None = None
        self.tokenizer = None
        self.model = None
        self._train_rows: DialogueSplit | None = None
        self.run_dir: Path | None = None

    # ----------------------------------------------------------------- components
    def add_callback(self, callback: Callback) -> None:
        if not isinstance(callback, Callback):
            raise ToolkitError(f"{type(callback).__name__} is not a toolkit.events.Callback; "
                               f"subclass it and override the handlers you need")
        self.user_callbacks.append(callback)

    def _columns(self) -> Columns:
        d = self.cfg.data
        return Columns(d.id_column, d.dialogue_column, d.summary_column)

    def _load(self, name: str, path: str | None, limit: int | None = None) -> DialogueSplit:
        d = self.cfg.data
        return load_split(name, path, d.format, self._columns(), limit,
                          (d.embedded_train_size, d.embedded_eval_size))

    def _cache_dir(self) -> Path:
        return Path(self.cfg.data.cache_dir or Path.home() / ".cache" / "toolkit")

    def _ensure_accelerator(self) -> Accelerator:
        if self.accelerator is None:
            t = self.cfg.training
            AcceleratorState._reset_state()  # keeps the process group, drops old precision
            self.accelerator = Accelerator(
                gradient_accumulation_steps=t.gradient_accumulation_steps,
                mixed_precision=pick_precision(t.mixed_precision),
                step_scheduler_with_optimizer=False)
            setup_logging(self.accelerator.is_main_process, self.cfg.general.log_level)
            set_seed(self.cfg.general.seed)
        return self.accelerator

    def _train_split(self) -> DialogueSplit:
        if self._train_rows is None:
            self._train_rows = self._load("train", self.cfg.data.train_path,
                                          self.cfg.data.max_train_samples)
        return self._train_rows

    def _tokenizer(self):
        """Pretrained, or trained once on the training split and cached (main process first)."""
        source = self.cfg.tokenizer.path or self.cfg.model.checkpoint
        train = self._train_split()
        tags = find_tags(train.dialogues) + list(self.cfg.tokenizer.extra_special_tokens)
        if source:
            return build_tokenizer(source, [], tags, 0, "", self.family)
        t = self.cfg.tokenizer
        key = hashlib.sha256("\x00".join([t.algorithm, str(t.vocab_size), self.family, *tags,
                                          *train.dialogues, *(r[0] for r in train.references)
                                          ]).encode("utf-8")).hexdigest()[:16]
        cached = self._cache_dir() / f"tokenizer-{key}"
        with self.accelerator.main_process_first():
            if cached.is_dir():
                return load_tokenizer(str(cached))
            texts = train.dialogues + [r[0] for r in train.references]
            tokenizer = build_tokenizer(None, texts, tags, t.vocab_size, t.algorithm, self.family)
            if self.accelerator.is_main_process:
                tmp = cached.with_name(cached.name + f".tmp{os.getpid()}")
                tokenizer.save_pretrained(tmp)
                os.replace(tmp, cached) if not cached.exists() else shutil.rmtree(tmp)
            return tokenizer

    def initialize_components(self) -> None:
        """Accelerator, seed, tokenizer and model (from a checkpoint or a preset)."""
        self._ensure_accelerator()
        if self.tokenizer is None:
            self.tokenizer = self._tokenizer()
        if self.model is None:
            m, t = self.cfg.model, self.cfg.tokenizer
            self.model = load_model(m.architecture, m.checkpoint, m.preset, self.tokenizer,
                                    max_positions=t.max_source_length + t.max_target_length,
                                    gradient_checkpointing=m.gradient_checkpointing,
                                    dropout=m.dropout)
            self.model.generation_config = self._generation_config()

    def _generation_config(self) -> GenerationConfig:
        base = self.model.generation_config.to_dict() if self.model is not None else {}
        base.update(self.gen_kwargs())
        for name in ("pad_token_id", "eos_token_id", "bos_token_id", "decoder_start_token_id"):
            value = getattr(self.model.config, name, None)
            if value is not None:
                base[name] = value
        base.pop("max_length", None)
        base.pop("transformers_version", None)
        return GenerationConfig(**base)

    def gen_kwargs(self) -> dict[str, Any]:
        g = self.cfg.generation
        kwargs = {"max_new_tokens": g.max_new_tokens, "num_beams": g.num_beams,
                  "length_penalty": g.length_penalty, "early_stopping": g.early_stopping,
                  "repetition_penalty": g.repetition_penalty, "do_sample": False}
        if g.min_new_tokens:
            kwargs["min_new_tokens"] = g.min_new_tokens
        if g.no_repeat_ngram_size:
            kwargs["no_repeat_ngram_size"] = g.no_repeat_ngram_size
        if g.num_beams == 1:
            kwargs.pop("early_stopping")
            kwargs.pop("length_penalty")
        return kwargs

    # ----------------------------------------------------------------------- data
    def _features(self, split: DialogueSplit) -> DialogueSplit:
        t = self.cfg.tokenizer
        builder = FeatureBuilder(self.tokenizer, self.family, t.max_source_length,
                                 t.max_target_length, add_bos=self.cfg.model.architecture
                                 in ("bart", "kobart", "gpt2", "kogpt2"))
        with self.accelerator.main_process_first():
            split.features = builder.build(split.rows, self._cache_dir() / "features",
                                           self.cfg.data.num_proc)
        return split

    def prepare_data(self, train_path: str | None = None, val_path: str | None = None,
                     test_path: str | None = None) -> dict[str, DialogueSplit]:
        """{"train", "validation"[, "test"]} with token features; paths override the config."""
        d = self.cfg.data
        if train_path:
            d.train_path = self.config["data"]["train_path"] = train_path
            self._train_rows = None
        if val_path:
            d.validation_path = self.config["data"]["validation_path"] = val_path
        if test_path:
            d.test_path = self.config["data"]["test_path"] = test_path
        self.initialize_components()
        splits = {"train": self._train_split()}
        if d.validation_path:
            splits["validation"] = self._load("validation", d.validation_path, d.max_eval_samples)
        if d.test_path:
            splits["test"] = self._load("test", d.test_path)
        return {name: self._features(split) for name, split in splits.items()}

    def _loader(self, train: DialogueSplit) -> torch.utils.data.DataLoader:
        t, acc = self.cfg.training, self.accelerator
        sampler = EpochBatchSampler(train.features["length"], t.per_device_train_batch_size,
                                    acc.num_processes, acc.process_index, self.cfg.general.seed,
                                    t.group_by_length)
        return torch.utils.data.DataLoader(
            train.features, batch_sampler=sampler,
            collate_fn=TrainCollator(self.tokenizer.pad_token_id),
            num_workers=t.dataloader_num_workers, pin_memory=acc.device.type == "cuda",
            # its own generator: creating an iterator must not draw from the global RNG, or
            # a resumed run's dropout masks would differ from the uninterrupted run's
            generator=torch.Generator().manual_seed(self.cfg.general.seed))

    # ------------------------------------------------------------------ evaluation
    def _eval_settings(self, show_progress: bool = True) -> EvalSettings:
        e = self.cfg.evaluation
        return EvalSettings(self.cfg.training.per_device_eval_batch_size,
                            self.family == "causal", self.gen_kwargs(), e.rouge_tokenizer,
                            e.multi_reference, show_progress=show_progress)

    def evaluate(self, dataset: DialogueSplit, metric_key_prefix: str = "eval"
                 ) -> dict[str, float]:
        """ROUGE (and loss) on a split: {"<prefix>/rouge1_f1": ..., "<prefix>/loss": ...}."""
        self._require_features(dataset)
        out = evaluate(self.accelerator, self.model, self.tokenizer, dataset.features,
                       dataset.references, self._eval_settings())
        return {f"{metric_key_prefix}/{k}": v for k, v in out.metrics.items()}

    def generate_predictions(self, dataset: DialogueSplit, max_samples: int | None = None
                             ) -> list[dict[str, str]]:
        """[{input, prediction, reference}] for the first `max_samples` examples."""
        self._require_features(dataset)
        count = len(dataset) if max_samples is None else min(max_samples, len(dataset))
        settings = self._eval_settings()
        settings.with_loss = False
        subset = dataset.features.select(range(count))
        out = evaluate(self.accelerator, self.model, self.tokenizer, subset,
                       dataset.references[:count], settings)
        return [{"input": row["dialogue"], "prediction": prediction,
                 "reference": row["references"][0] if row["references"] else ""}
                for row, prediction in zip(dataset.rows, out.predictions)]

    def _require_features(self, dataset: DialogueSplit) -> None:
        if not isinstance(dataset, DialogueSplit) or dataset.features is None:
            raise ToolkitError("pass a split returned by trainer.prepare_data()")
        self.initialize_components()

    # ----------------------------------------------------------------------- train
    def _run_dir(self, resume_from: Path | None) -> Path:
        if resume_from is not None:
            return resume_from.parent.parent
        chosen = [None]
        if self.accelerator.is_main_process:
            chosen[0] = str(runs.new_run_dir(self.cfg.general.output_dir,
                                             self.cfg.meta.experiment_name))
        if self.accelerator.num_processes > 1:
            broadcast_object_list(chosen, from_process=0)
        return Path(chosen[0])

    def _resume_point(self, resume: str | None) -> Path | None:
        resume = resume or self.cfg.checkpoint.resume
        if not resume:
            return None
        return runs.find_resume_checkpoint(str(resume), self.cfg.general.output_dir,
                                           self.cfg.meta.experiment_name)

    def _subscribers(self) -> EventBus:
        bus = EventBus(self.accelerator.is_main_process)
        for subscriber in build_subscribers(self.cfg.callbacks):
            bus.add(subscriber)
        tr = self.cfg.tracking
        if tr.enabled:
            from toolkit.tracking import RegistryCallback, TrackerCallback

            bus.add(TrackerCallback(tr.db_path, tags=self.cfg.meta.tags))
            if tr.register_model:
                bus.add(RegistryCallback(tr.db_path, tr.model_name, tr.register_min_metric,
                                         self.best_metric))
        if self.cfg.wandb.enabled:
            from toolkit.integrations.wandb_callback import WandbCallback

            bus.add(WandbCallback.from_config(self.cfg.wandb, self.cfg.meta.tags))
        for subscriber in self.user_callbacks:
            bus.add(subscriber)
        return bus

    def _plan(self, batches_per_epoch: int) -> int:
        t = self.cfg.training
        if t.max_steps > 0:
            return t.max_steps
        return max(1, math.ceil(t.num_train_epochs * batches_per_epoch
                                / t.gradient_accumulation_steps))

    def save_model(self, model, directory: Path) -> None:
        """A save_pretrained dir (weights gathered from every rank), written then renamed."""
        acc = self.accelerator
        state_dict = acc.get_state_dict(model)  # a collective under ZeRO-3 / FSDP
        tmp = directory.with_name(f".{directory.name}.tmp")
        if acc.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
            unwrapped = acc.unwrap_model(model)
            unwrapped.generation_config = self._generation_config()
            unwrapped.save_pretrained(tmp, state_dict=state_dict, safe_serialization=True)
            positions = getattr(unwrapped.config, "max_position_embeddings", None)
            if positions:  # learned positions: truncation=True must not exceed them
                self.tokenizer.model_max_length = min(self.tokenizer.model_max_length, positions)
            self.tokenizer.save_pretrained(tmp)
            shutil.rmtree(directory, ignore_errors=True)
            tmp.rename(directory)
        acc.wait_for_everyone()

    def train(self, datasets: dict[str, DialogueSplit] | None = None,
              resume_from_checkpoint: str | None = None) -> TrainingResult:
        """Train (or resume) and return the best and final metrics and the model paths."""
        datasets = datasets or self.prepare_data()
        if "train" not in datasets:
            raise ToolkitError("train() needs datasets['train']; call trainer.prepare_data()")
        acc, t = self.accelerator, self.cfg.training
        resume_from = self._resume_point(resume_from_checkpoint)
        run_dir = self.run_dir = self._run_dir(resume_from)
        world_note = self._check_resume(run_dir) if resume_from else None
        if acc.is_main_process:
            digest = runs.write_run_files(run_dir, self.config, acc.num_processes)
        else:
            digest = loader.config_hash(self.config)
        acc.wait_for_everyone()

        train, validation = datasets["train"], datasets.get("validation")
        if t.auto_find_batch_size and acc.device.type != "cpu":
            self._fit_batch_size(train)
        elif t.auto_find_batch_size and acc.is_main_process:
            logger.warning("training.auto_find_batch_size has no effect on CPU: running out of "
                           "host memory kills the process instead of raising")
        loader_ = self._loader(train)
        sampler: EpochBatchSampler = loader_.batch_sampler
        batches_per_epoch = len(sampler)
        max_steps = self._plan(batches_per_epoch)
        optimizer = build_optimizer(self.model, t.learning_rate, t.weight_decay,
                                    (t.adam_beta1, t.adam_beta2), t.adam_epsilon)
        scheduler = build_scheduler(optimizer, t.lr_scheduler_type, t.warmup_steps,
                                    t.warmup_ratio, max_steps)
        configure_deepspeed(acc, t.per_device_train_batch_size, t.gradient_accumulation_steps,
                            t.max_grad_norm)
        model, optimizer = acc.prepare(self.model, optimizer)
        if t.torch_compile:
            model = torch.compile(model)

        state = TrainState(max_steps=max_steps, config_hash=digest,
                           world_size=acc.num_processes,
                           global_batch_size=t.per_device_train_batch_size * acc.num_processes
                           * t.gradient_accumulation_steps)
        if resume_from is not None:
            parts = checkpoint.Resumable(model, optimizer, scheduler, loader_.generator)
            state = self._restore(resume_from, parts, state, world_note)
        if acc.is_main_process:
            for stale in (run_dir / "checkpoints").glob(".tmp-*"):
                shutil.rmtree(stale, ignore_errors=True)

        bus = self._subscribers()
        run = RunContext(run_dir=run_dir, experiment_name=self.cfg.meta.experiment_name,
                         config=loader.redact(self.config), config_hash=digest,
                         is_main_process=acc.is_main_process, process_index=acc.process_index,
                         num_processes=acc.num_processes, resumed=resume_from is not None,
                         model_info=self._model_info(), dataset_info=self._dataset_info(datasets))

        def run_evaluation() -> dict[str, float]:
            return self._evaluate_during_training(model, validation, state, bus, run_dir)

        eval_on = t.eval_strategy != "no" and validation is not None
        with PreemptionHandler() as preemption:
            parts = LoopParts(
                accelerator=acc, model=model, optimizer=optimizer, scheduler=scheduler,
                loader=loader_, bus=bus, run=run, state=state, causal=self.family == "causal",
                accumulation=t.gradient_accumulation_steps, max_grad_norm=t.max_grad_norm,
                logging_steps=t.logging_steps,
                eval_every=t.eval_steps if eval_on and t.eval_strategy == "steps" else 0,
                eval_at_epoch_end=eval_on and t.eval_strategy == "epoch",
                save_every=t.save_steps, save_total_limit=self.cfg.checkpoint.save_total_limit,
                batches_per_epoch=batches_per_epoch, evaluate=run_evaluation,
                stop_requested=preemption.requested)
            try:
                status = train_loop(parts)
                if status == "completed" and eval_on and state.last_eval_step != state.global_step:
                    run_evaluation()  # the run ended between evaluations
            except BaseException as error:
                bus.emit(Event.EXCEPTION, state, error=error)
                raise
        return self._finish(model, state, bus, run, status)

    def _fit_batch_size(self, train: DialogueSplit) -> None:
        """Shrink the micro-batch until one step fits; accumulation keeps the global batch."""
        t, acc = self.cfg.training, self.accelerator
        self.model.to(acc.device)
        step = probe_step(self.model, train.features, TrainCollator(self.tokenizer.pad_token_id),
                          acc.device)
        micro, accumulation = fit_micro_batch(step, t.per_device_train_batch_size,
                                              t.gradient_accumulation_steps)
        t.per_device_train_batch_size = self.config["training"]["per_device_train_batch_size"] \
            = micro
        t.gradient_accumulation_steps = self.config["training"]["gradient_accumulation_steps"] \
            = accumulation
        acc.gradient_accumulation_steps = accumulation

    def _finish(self, model, state: TrainState, bus: EventBus, run: RunContext, status: str
                ) -> TrainingResult:
        run_dir = run.run_dir
        self.save_model(model, run_dir / "final")
        best_dir = run_dir / "best"
        if self.accelerator.is_main_process and not best_dir.exists():
            shutil.copytree(run_dir / "final", best_dir)  # no evaluation chose a best model
        self.accelerator.wait_for_everyone()
        best = {k.removeprefix("best/"): v for k, v in state.last_metrics.items()
                if k.startswith("best/")}
        final = {k.removeprefix("eval/"): v for k, v in state.last_metrics.items()
                 if k.startswith("eval/")}
        if not final:
            final = {k.removeprefix("train/"): v for k, v in state.last_metrics.items()
                     if k.startswith("train/")}
        result = TrainingResult(
            best_metrics=best or dict(final), final_metrics=final, model_path=str(best_dir),
            final_model_path=str(run_dir / "final"), run_dir=str(run_dir), status=status,
            global_step=state.global_step, best_step=state.best_step,
            train_loss=state.last_metrics.get("train/loss"))
        bus.emit(Event.TRAIN_END, state, result=result)
        result.experiment_id = run.shared.get("experiment_id")
        result.model_id = run.shared.get("model_id")
        if self.accelerator.is_main_process:
            logger.info("%s: %s at step %d; best %s = %s; model: %s", run_dir.name, status,
                        state.global_step, self.best_metric,
                        result.best_metrics.get(self.best_metric), best_dir)
        return result

    def _evaluate_during_training(self, model, validation: DialogueSplit, state: TrainState,
                                  bus: EventBus, run_dir: Path) -> dict[str, float]:
        out = evaluate(self.accelerator, model, self.tokenizer, validation.features,
                       validation.references, self._eval_settings())
        metrics = {f"eval/{k}": v for k, v in out.metrics.items() if k != "num_examples"}
        value = out.metrics[self.best_metric]
        greater = self.cfg.training.greater_is_better
        improved = state.best_metric is None or (
            value > state.best_metric if greater else value < state.best_metric)
        state.last_eval_step = state.global_step
        if improved:
            state.best_metric, state.best_step = value, state.global_step
            state.evals_since_improvement = 0
            self.save_model(model, run_dir / "best")
            if self.accelerator.is_main_process and self.cfg.evaluation.save_predictions:
                write_predictions(run_dir / "predictions.csv", validation, out.predictions)
            state.last_metrics.update({f"best/{k}": v for k, v in out.metrics.items()
                                       if k != "num_examples"})
        else:
            state.evals_since_improvement += 1
        state.last_metrics.update(metrics)
        count = self.cfg.evaluation.num_samples_to_log
        samples = [{"input": row["dialogue"], "prediction": pred, "reference": row["references"][0]}
                   for row, pred in zip(validation.rows[:count], out.predictions[:count])]
        bus.emit(Event.EVALUATE, state, metrics=metrics, samples=samples)
        return metrics

    def _check_resume(self, run_dir: Path) -> str | None:
        changes = runs.check_resume_config(run_dir, self.config)
        if changes:
            raise CheckpointError(
                "the config differs from the run being resumed in keys that change the run: "
                + "; ".join(changes) + ". Resume with the run's own config (its config.yaml), "
                "or start a new run without --resume")
        before = runs.saved_world_size(run_dir)
        if before is not None and before != self.accelerator.num_processes:
            return (f"the run was started with {before} process(es) and resumes with "
                    f"{self.accelerator.num_processes}: the global batch and the data order "
                    f"change from here on, so the result will not match an uninterrupted run")
        return None

    def _restore(self, directory: Path, parts: checkpoint.Resumable, planned: TrainState,
                 world_note: str | None) -> TrainState:
        """Model, optimizer, scheduler, scaler and RNG from `directory`, plus the TrainState."""
        try:
            state = checkpoint.load(self.accelerator, directory, parts)
        except CheckpointError:
            raise
        except Exception as error:
            raise CheckpointError(f"cannot load checkpoint {directory}: {type(error).__name__}:"
                                  f" {error}; resume from an earlier checkpoint") from None
        state.max_steps = planned.max_steps  # the current config may extend the run
        if world_note:
            logger.warning(world_note)
            # batch_in_epoch counts global micro-batches: re-express it in the new global size
            state.batch_in_epoch = (state.batch_in_epoch * state.global_batch_size
                                    // planned.global_batch_size)
            state.world_size = planned.world_size
            state.global_batch_size = planned.global_batch_size
        if self.accelerator.is_main_process:
            logger.info("resumed from %s at step %d (epoch %d, batch %d)", directory,
                        state.global_step, state.epoch, state.batch_in_epoch)
        return state

    def _model_info(self) -> dict[str, Any]:
        m = self.cfg.model
        return {"architecture": m.architecture, "checkpoint": m.checkpoint,
                "preset": None if m.checkpoint else m.preset,
                "num_parameters": sum(p.numel() for p in self.model.parameters())}

    def _dataset_info(self, datasets: dict[str, DialogueSplit]) -> dict[str, Any]:
        info: dict[str, Any] = {}
        for name, split in datasets.items():
            short = {"train": "train", "validation": "val", "test": "test"}[name]
            info[f"{short}_size"] = len(split)
            info[f"{short}_source"] = split.source if split.source != EMBEDDED else EMBEDDED
            info[f"{short}_dropped"] = split.dropped
        return info


def write_predictions(path: Path, split: DialogueSplit, predictions: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["fname", "prediction", "reference", "dialogue"])
        for row, prediction in zip(split.rows, predictions):
            writer.writerow([row["id"], prediction, row["references"][0], row["dialogue"]])


def create_trainer(config: str | Path | dict[str, Any], sweep_mode: bool = False,
                   **kwargs: Any) -> DialogueSummarizationTrainer:
    """The seed's entry point: a trainer from a config path or dict."""
    return DialogueSummarizationTrainer(config, sweep_mode=sweep_mode, **kwargs)
