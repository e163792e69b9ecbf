"""DialogueSummarizationTrainer: the seed's API (initialize_components, prepare_data, train,
evaluate, generate_predictions, predict, add_callback), a façade over the parts that do the
work: config/, models/, engine/setup.py, resume.py, loop.py, best_model.py, preemption.py."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from accelerate import Accelerator

from toolkit.config import best_metric_name, loader, resolve_config
from toolkit.config.schema import Config
from toolkit.data.features import FeatureBuilder
from toolkit.data.preprocess import find_tags
from toolkit.data.readers import Columns
from toolkit.data.splits import DialogueSplit, describe_splits, load_split
from toolkit.engine.best_model import BestModelKeeper, export_model
from toolkit.engine.checkpoint import Resumable
from toolkit.engine.loop import LoopParts, train_loop
from toolkit.engine.preemption import PreemptionHandler
from toolkit.engine.resume import restore, start_run
from toolkit.engine.setup import build_accelerator, build_loader, fit_batch_size, prepare
from toolkit.errors import ToolkitError
from toolkit.evaluation.csv_output import write_csv
from toolkit.evaluation.evaluator import EvalSettings, evaluate, needs_synced_gpus
from toolkit.evaluation.generate import generate_everywhere, generation_config, generation_kwargs
from toolkit.events import Callback, Event, EventBus, RunContext
from toolkit.events.factory import as_subscriber, subscribers_for
from toolkit.models.adapters import model_info
from toolkit.models.families import resolve_family
from toolkit.models.loading import build_model
from toolkit.models.prompts import config_prompt_format, stop_token_ids
from toolkit.models.tokenizer_cache import run_tokenizer
from toolkit.state import TrainingResult, TrainState

logger = logging.getLogger("toolkit")


class DialogueSummarizationTrainer:
    """Train, evaluate and predict with one config (a path or the nested dict)."""

    def __init__(self, config: str | Path | dict[str, Any], experiment_name: str | None = None,
                 sweep_mode: bool = False, overrides: list[str] | None = None):
        resolved = resolve_config(config, sweep_mode, overrides)
        if experiment_name:
            resolved["meta"]["experiment_name"] = experiment_name
        self.cfg: Config = loader.to_typed(resolved)
        self.best_metric = best_metric_name(self.cfg)
        self.model_family = resolve_family(self.cfg.model.architecture, self.cfg.model.checkpoint)
        self.family = self.model_family.kind
        self.prompt = None  # the PromptFormat, once the tokenizer exists
        self.user_callbacks: list[Callback] = []
        self.accelerator: Accelerator | None = None
        self.tokenizer = None
        self.model = None
        self._train_rows: DialogueSplit | None = None
        self.run_dir: Path | None = None

    @property
    def config(self) -> dict[str, Any]:
        """The resolved config as the nested dict users know (a view of ``cfg``)."""
        return dataclasses.asdict(self.cfg)

    @property
    def trainer(self) -> DialogueSummarizationTrainer:
        """The seed guide adds callbacks through `trainer.trainer`; this trainer is that one."""
        return self

    @property
    def output_dir(self) -> Path:
        """The run directory once training started (checkpoints/, best/ ...), else its parent."""
        return self.run_dir or Path(self.cfg.general.output_dir)

    @property
    def model_save_dir(self) -> Path | None:
        """best/ of the current run (the seed's name), None before training."""
        return self.run_dir / "best" if self.run_dir else None

    def add_callback(self, callback: Any) -> None:
        """A toolkit Callback, or a transformers TrainerCallback (class or instance)."""
        self.user_callbacks.append(as_subscriber(callback))

    # ----------------------------------------------------------------- components
    def _load(self, name: str, path: str | None, limit: int | None = None) -> DialogueSplit:
        d = self.cfg.data
        return load_split(name, path, d.format,
                          Columns(d.id_column, d.dialogue_column, d.summary_column), limit,
                          (d.embedded_train_size, d.embedded_eval_size), encoding=d.encoding)

    def _cache_dir(self) -> Path:
        return Path(self.cfg.data.cache_dir or Path.home() / ".cache" / "toolkit")

    def _train_split(self) -> DialogueSplit:
        if self._train_rows is None:
            self._train_rows = self._load("train", self.cfg.data.train_path,
                                          self.cfg.data.max_train_samples)
        return self._train_rows

    def initialize_components(self) -> None:
        """Accelerator, seed, tokenizer and model (from a checkpoint or a preset)."""
        if self.accelerator is None:
            self.accelerator = build_accelerator(self.cfg)
        m, t = self.cfg.model, self.cfg.tokenizer
        if self.tokenizer is None:
            train = self._train_split()
            tags = find_tags(train.dialogues) + list(t.extra_special_tokens)
            self.tokenizer = run_tokenizer(t, t.path or m.checkpoint, self.family, tags, train,
                                           self._cache_dir(), self.accelerator,
                                           add_tokens=self.cfg.peft.method == "none")
        if self.prompt is None:
            self.prompt = config_prompt_format(self.model_family, self.tokenizer, self.cfg.data)
        if self.model is None:
            self.model = build_model(self.cfg, self.tokenizer, self.model_family)
            self.model.generation_config = self.generation_config()

    def generation_config(self):
        return generation_config(self.model, self.cfg.generation, self.family == "causal",
                                 stop_token_ids(self.tokenizer, self.prompt))


    # ----------------------------------------------------------------------- data
    def _features(self, split: DialogueSplit) -> DialogueSplit:
        t = self.cfg.tokenizer
        builder = FeatureBuilder(self.tokenizer, self.family, t.max_source_length,
                                 t.max_target_length, prompt=self.prompt)
        with self.accelerator.main_process_first():
            split.features = builder.build(split.rows, self._cache_dir() / "features",
                                           self.cfg.data.num_proc)
        return split

    def prepare_data(self, train_path: str | None = None, val_path: str | None = None,
                     test_path: str | None = None) -> dict[str, DialogueSplit]:
        """{"train", "validation"[, "test"]} with token features; paths override the config."""
        d = self.cfg.data
        if train_path:
            d.train_path, self._train_rows = train_path, None
        d.validation_path = val_path or d.validation_path
        d.test_path = test_path or d.test_path
        self.initialize_components()
        splits = {"train": self._train_split()}
        if d.validation_path:
            splits["validation"] = self._load("validation", d.validation_path, d.max_eval_samples)
        if d.test_path:
            splits["test"] = self._load("test", d.test_path)
        return {name: self._features(split) for name, split in splits.items()}

    # ------------------------------------------------------------------ evaluation
    def _eval_settings(self) -> EvalSettings:
        e = self.cfg.evaluation
        causal = self.family == "causal"
        return EvalSettings(self.cfg.training.per_device_eval_batch_size, causal,
                            generation_kwargs(self.cfg.generation, causal), e.rouge_tokenizer,
                            e.multi_reference)

    def _require_features(self, dataset: DialogueSplit) -> None:
        if not isinstance(dataset, DialogueSplit) or dataset.features is None:
            raise ToolkitError("pass a split returned by trainer.prepare_data()")
        self.initialize_components()

    def evaluate(self, dataset: DialogueSplit, metric_key_prefix: str = "eval"
                 ) -> dict[str, float]:
        """ROUGE (and loss) on a split: {"<prefix>/rouge1_f1": ..., "<prefix>/loss": ...}."""
        self._require_features(dataset)
        out = evaluate(self.accelerator, self.model, self.tokenizer, dataset.features,
                       dataset.references, self._eval_settings())
        return {f"{metric_key_prefix}/{k}": v for k, v in out.metrics.items()}

    def _generate(self, dataset: DialogueSplit, count: int) -> list[str]:
        settings = self._eval_settings()
        predictions, _ = generate_everywhere(
            self.accelerator, self.model, self.tokenizer, dataset.features.select(range(count)),
            settings.batch_size, settings.causal, settings.gen_kwargs,
            synced_gpus=needs_synced_gpus(self.accelerator))
        return predictions

    def generate_predictions(self, dataset: DialogueSplit, max_samples: int | None = None
                             ) -> list[dict[str, str]]:
        """[{fname, input, prediction, reference}] for the first `max_samples` examples."""
        self._require_features(dataset)
        count = len(dataset) if max_samples is None else min(max_samples, len(dataset))
        return [{"fname": row["id"], "input": row["dialogue"], "prediction": prediction,
                 "reference": row["references"][0] if row["references"] else ""}
                for row, prediction in zip(dataset.rows, self._generate(dataset, count))]

    def predict(self, data: str | Path | DialogueSplit, output: str | Path | None = None
                ) -> list[dict[str, str]]:
        """[{fname, summary}] for a split or a file (labelled or not, as `toolkit predict`
        reads it); with `output`, also written there as the `fname,summary` submission CSV."""
        if not isinstance(data, DialogueSplit):
            self.initialize_components()
            data = self._features(self._load("test", str(data)))
        self._require_features(data)
        rows = [{"fname": row["id"], "summary": summary}
                for row, summary in zip(data.rows, self._generate(data, len(data)))]
        if output is not None and self.accelerator.is_main_process:
            write_csv(output, ["fname", "summary"], ([r["fname"], r["summary"]] for r in rows))
        return rows

    # ----------------------------------------------------------------------- train
    def _bus(self) -> EventBus:
        bus = EventBus(self.accelerator.is_main_process)
        for subscriber in [*subscribers_for(self.cfg), *self.user_callbacks]:
            bus.add(subscriber)
        return bus

    def train(self, datasets: dict[str, DialogueSplit] | None = None,
              resume_from_checkpoint: str | None = None) -> TrainingResult:
        """Train (or resume) and return the best and final metrics and the model paths."""
        datasets = datasets or self.prepare_data()
        if "train" not in datasets:
            raise ToolkitError("train() needs datasets['train']; call trainer.prepare_data()")
        acc, cfg, t = self.accelerator, self.cfg, self.cfg.training
        start = start_run(acc, cfg, resume_from_checkpoint)
        run_dir = self.run_dir = start.run_dir
        bus = self._bus()
        run = RunContext(run_dir=run_dir, experiment_name=cfg.meta.experiment_name,
                         config=loader.redact(self.config), config_hash=start.config_hash,
                         is_main_process=acc.is_main_process, process_index=acc.process_index,
                         num_processes=acc.num_processes, resumed=start.resume_from is not None,
                         model_info=self._model_info(), dataset_info=describe_splits(datasets),
                         control=bus.control)
        train, validation = datasets["train"], datasets.get("validation")
        try:  # a failure before the first step is recorded too (subscribers taking `run`)
            if t.auto_find_batch_size:
                fit_batch_size(t, acc, self.model, train, self.tokenizer.pad_token_id)
            loader_ = build_loader(cfg, acc, train, self.tokenizer.pad_token_id)
            batches_per_epoch = len(loader_.batch_sampler)
            prepared = prepare(cfg, acc, self.model, batches_per_epoch)
            state = TrainState(max_steps=prepared.max_steps, config_hash=start.config_hash,
                               world_size=acc.num_processes,
                               global_batch_size=t.per_device_train_batch_size
                               * acc.num_processes * t.gradient_accumulation_steps)
            if start.resume_from is not None:
                parts = Resumable(prepared.model, prepared.optimizer, prepared.scheduler,
                                  loader_.generator)
                state = restore(acc, start.resume_from, parts, state, start.world_note)
        except BaseException as error:
            bus.emit(Event.EXCEPTION, TrainState(), error=error, run=run)
            raise
        eval_on = t.eval_strategy != "no" and validation is not None
        keeper = BestModelKeeper(
            acc, self.tokenizer, validation, self._eval_settings(), self.best_metric,
            t.greater_is_better, self.generation_config(), run_dir,
            cfg.evaluation.save_predictions, cfg.evaluation.num_samples_to_log, self.prompt) \
            if eval_on else None

        def run_evaluation() -> dict[str, float]:
            return keeper.evaluate(prepared.model, state, bus)

        with PreemptionHandler() as preemption:
            parts = LoopParts(
                accelerator=acc, model=prepared.model, optimizer=prepared.optimizer,
                scheduler=prepared.scheduler, loader=loader_, bus=bus, run=run, state=state,
                causal=self.family == "causal", accumulation=t.gradient_accumulation_steps,
                max_grad_norm=t.max_grad_norm, label_smoothing=t.label_smoothing,
                logging_steps=t.logging_steps,
                eval_every=t.eval_steps if eval_on and t.eval_strategy == "steps" else 0,
                eval_at_epoch_end=eval_on and t.eval_strategy == "epoch",
                save_every=t.save_steps, save_total_limit=cfg.checkpoint.save_total_limit,
                batches_per_epoch=batches_per_epoch, evaluate=run_evaluation,
                stop_requested=preemption.requested)
            try:
                status = train_loop(parts)
                if status == "completed" and keeper and state.last_eval_step != state.global_step:
                    run_evaluation()  # the run ended between evaluations
            except BaseException as error:
                bus.emit(Event.EXCEPTION, state, error=error)
                raise
        return self._finish(prepared.model, state, bus, run, status)

    def _finish(self, model, state: TrainState, bus: EventBus, run: RunContext, status: str
                ) -> TrainingResult:
        run_dir = run.run_dir
        export_model(self.accelerator, model, self.tokenizer, self.generation_config(),
                     run_dir / "final", self.prompt)
        result = TrainingResult.from_state(state, run_dir, status)
        bus.emit(Event.TRAIN_END, state, result=result)
        result.experiment_id = run.shared.get("experiment_id")
        result.model_id = run.shared.get("model_id")
        if self.accelerator.is_main_process:
            logger.info("%s: %s at step %d; best %s = %s; model: %s", run_dir.name, status,
                        state.global_step, self.best_metric,
                        result.best_metrics.get(self.best_metric), result.model_path)
        return result

    def _model_info(self) -> dict[str, Any]:
        return {**model_info(self.model, self.cfg.model, self.cfg.peft,
                             self.model_family.architecture),
                "precision": self.accelerator.mixed_precision}


def create_trainer(config: str | Path | dict[str, Any], sweep_mode: bool = False,
                   **kwargs: Any) -> DialogueSummarizationTrainer:
    """The seed's entry point: a trainer from a config path or dict."""
    return DialogueSummarizationTrainer(config, sweep_mode=sweep_mode, **kwargs)
