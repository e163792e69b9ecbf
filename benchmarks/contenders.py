"""One benchmark contender per process: ``python -m benchmarks.contenders KIND --spec S --out O``.

Kinds: ``trainer`` / ``trainer_grouped`` (HF Seq2SeqTrainer, default arguments / length
grouping), ``accelerate`` (the loop of HF's run_summarization_no_trainer.py), ``predict_ours``
(the toolkit's predict path), ``predict_trainer``
(``Seq2SeqTrainer.predict(predict_with_generate=True)``) and ``sft_lora`` / ``sft_qlora``
(TRL's SFTTrainer; ``--spec`` is then a LoraSpec, see benchmarks/lora.py). Each writes its
figures as JSON; the parent adds the process's peak RSS. Timers start after setup (and
``skip_steps`` warm-up steps) and stop after the last step or at the spec's deadline.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402
    Spec,
    heldout_loss,
    load_features,
    load_rows,
    past_deadline,
    peak_rss_mb,
    scratch_model,
    synchronize,
    tokenizer_dir,
)
from toolkit.events.performance import peak_memory_mb  # noqa: E402


class CountingCollator:
    """Wraps a collator; records each batch's (source, target) lengths per example, in the
    order the loader builds them (the loaders prefetch one more)."""

    def __init__(self, collate, causal: bool = False) -> None:
        self.collate = collate
        self.causal = causal  # decoder-only: position t predicts t+1, so the first label is lost
        self.batches: list[list[tuple[int, int]]] = []

    def __call__(self, features: list[dict]) -> dict:
        batch = self.collate(features)
        labels = batch["labels"][:, 1:] if self.causal else batch["labels"]
        mask = batch.get("attention_mask")
        sources = (mask.sum(dim=1) if mask is not None else
                   torch.full((len(labels),), batch["input_ids"].shape[1])).tolist()
        targets = (labels != -100).sum(dim=1).tolist()
        self.batches.append(list(zip(sources, targets)))
        return batch

    @property
    def tokens(self) -> list[int]:
        return [sum(t for _, t in batch) for batch in self.batches]

    def pairs(self, first: int, last: int) -> list[tuple[int, int]]:
        """Length pairs of micro-batches [first, last)."""
        return [pair for batch in self.batches[first:last] for pair in batch]


def _tokenizer(spec: Spec):
    from toolkit.models.factory import load_tokenizer

    return load_tokenizer(str(tokenizer_dir(spec)))


def trainer_timer(spec: Spec):
    """A TrainerCallback timing steps (skip_steps, last]; stops the run at spec.deadline."""
    from transformers import TrainerCallback

    class Timer(TrainerCallback):
        start = cpu_start = seconds = cpu_seconds = rss_before = rss_after = 0.0
        steps, started, done = 0, False, False

        def _start(self) -> None:
            synchronize()
            self.start, self.cpu_start = time.perf_counter(), time.process_time()
            self.started = True

        def on_train_begin(self, args, state, control, **kwargs):
            self.rss_before = peak_rss_mb()
            if spec.skip_steps == 0:
                self._start()

        def on_step_end(self, args, state, control, **kwargs):
            if self.done:
                return
            if not self.started and state.global_step == spec.skip_steps:
                self._start()
            late = past_deadline(spec.deadline, state.global_step, spec.skip_steps)
            if state.global_step == state.max_steps or late:
                synchronize()
                self.done = True
                if self.started:
                    self.seconds = time.perf_counter() - self.start
                    self.cpu_seconds = time.process_time() - self.cpu_start
                    self.steps = state.global_step - spec.skip_steps
                self.rss_after = peak_rss_mb()
                control.should_training_stop = True

    return Timer()


def timed_figures(spec: Spec, timer, collator: CountingCollator) -> dict:
    """What every training contender reports about its timed steps."""
    first, last = spec.skip_steps * spec.accumulation, (spec.skip_steps + timer.steps) \
        * spec.accumulation
    pairs = collator.pairs(first, last)
    return {"loop_seconds": timer.seconds or None, "loop_cpu_seconds": timer.cpu_seconds or None,
            "steps": timer.steps, "samples": len(pairs), "target_tokens": sum(t for _, t in pairs),
            "pairs": pairs, "rss_mb_before_loop": timer.rss_before,
            "rss_mb_after_loop": timer.rss_after, "peak_memory_mb": peak_memory_mb()}


def train_trainer(spec: Spec, grouped: bool) -> dict:
    """Seq2SeqTrainer with its default arguments (plus the shared batch, accumulation, steps,
    lr, seed, precision and device)."""
    from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments

    tokenizer = _tokenizer(spec)
    train = load_features(spec, "train").select_columns(["input_ids", "labels", "length"])
    model = scratch_model(spec, tokenizer)
    collator = CountingCollator(DataCollatorForSeq2Seq(tokenizer, model=model))
    extra = {"train_sampling_strategy": "group_by_length"} if grouped else {}
    timer = trainer_timer(spec)
    args = Seq2SeqTrainingArguments(
        output_dir=str(spec.path / "hf-output"), per_device_train_batch_size=spec.batch_size,
        gradient_accumulation_steps=spec.accumulation, max_steps=spec.steps,
        learning_rate=spec.learning_rate, logging_steps=spec.logging_steps, save_strategy="no",
        report_to="none", seed=spec.seed, use_cpu=spec.device == "cpu",
        bf16=spec.precision == "bf16", fp16=spec.precision == "fp16", **extra)
    trainer = Seq2SeqTrainer(model=model, args=args, train_dataset=train, data_collator=collator,
                             processing_class=tokenizer, callbacks=[timer])
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return {**timed_figures(spec, timer, collator), "train_loss": losses[-1] if losses else None,
            "heldout_loss": heldout_loss(model, load_features(spec, "heldout"),
                                         tokenizer.pad_token_id)}


def train_accelerate(spec: Spec) -> dict:
    """The training loop of transformers' examples/pytorch/summarization/
    run_summarization_no_trainer.py (no clipping, AdamW, linear schedule, shuffled loader)."""
    from accelerate import Accelerator
    from torch.optim import AdamW
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm
    from transformers import DataCollatorForSeq2Seq, get_scheduler

    accelerator = Accelerator(gradient_accumulation_steps=1)
    tokenizer = _tokenizer(spec)
    model = scratch_model(spec, tokenizer)
    train = load_features(spec, "train").select_columns(["input_ids", "labels"])
    collator = CountingCollator(DataCollatorForSeq2Seq(tokenizer, model=model,
                                                       label_pad_token_id=-100))
    loader = DataLoader(train, shuffle=True, collate_fn=collator, batch_size=spec.batch_size)
    no_decay = ["bias", "LayerNorm.weight", "layer_norm.weight"]
    groups = [
        {"params": [p for n, p in model.named_parameters()
                    if not any(nd in n for nd in no_decay)], "weight_decay": 0.0},
        {"params": [p for n, p in model.named_parameters()
                    if any(nd in n for nd in no_decay)], "weight_decay": 0.0},
    ]
    optimizer = AdamW(groups, lr=spec.learning_rate)
    scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                              num_training_steps=spec.steps)
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    losses = []
    completed = 0
    progress = tqdm(range(spec.steps), disable=not accelerator.is_local_main_process)
    rss_before = peak_rss_mb()
    start, cpu_start = time.perf_counter(), time.process_time()
    while completed < spec.steps:
        model.train()
        for batch in loader:
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                losses.append(loss.detach().float())
                accelerator.backward(loss)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            if accelerator.sync_gradients:
                progress.update(1)
                completed += 1
            if completed >= spec.steps:
                break
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    window = [float(x) for x in losses[-spec.logging_steps:]]
    unwrapped = accelerator.unwrap_model(model)
    return {"loop_seconds": seconds, "loop_cpu_seconds": cpu_seconds,
            "rss_mb_before_loop": rss_before, "rss_mb_after_loop": peak_rss_mb(),
            "samples": spec.steps * spec.batch_size,
            "target_tokens": sum(collator.tokens[:spec.steps]),
            "train_loss": sum(window) / len(window),
            "heldout_loss": heldout_loss(unwrapped, load_features(spec, "heldout"),
                                         tokenizer.pad_token_id)}


def _predict_setup(spec: Spec, model_dir: str):
    """The bundle (through the toolkit's one loader) on the spec's device, in bf16 weights
    when the spec says bf16, with prompt features, references and generation settings."""
    import torch

    from toolkit.evaluation.predict import generation_kwargs, load_model_dir, prompt_features

    bundle = load_model_dir(model_dir, spec.device, max_source_length=spec.max_source_length)
    if spec.precision in ("bf16", "fp16"):
        bundle.model.to(torch.bfloat16 if spec.precision == "bf16" else torch.float16)
    rows = load_rows(spec, "test", spec.predict_n)
    features = prompt_features(bundle, rows, spec.max_target_length)
    gen = generation_kwargs(bundle, num_beams=spec.num_beams, max_new_tokens=spec.max_new_tokens)
    return bundle, features, [row["references"] for row in rows], gen


def _predict_result(seconds: float, cpu_seconds: float, predictions: list[str],
                    references: list[list[str]]) -> dict:
    from toolkit.evaluation.rouge import compute_rouge

    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "dialogues": len(predictions),
            "rouge": compute_rouge(predictions, references), "predictions": predictions}


def predict_ours(spec: Spec, model_dir: str) -> dict:
    """The toolkit's predict path: batches sorted by length, one process."""
    from accelerate import Accelerator

    from toolkit.evaluation.predict import predict_features

    bundle, features, references, gen = _predict_setup(spec, model_dir)
    accelerator = Accelerator()
    start, cpu_start = time.perf_counter(), time.process_time()
    predictions = predict_features(accelerator, bundle, features, spec.predict_batch_size, gen,
                                   show_progress=False)
    return _predict_result(time.perf_counter() - start, time.process_time() - cpu_start,
                           predictions, references)


def predict_trainer(spec: Spec, model_dir: str) -> dict:
    """Seq2SeqTrainer.predict(predict_with_generate=True) with the same GenerationConfig."""
    import numpy as np
    import torch
    from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments

    from toolkit.evaluation.generate import decode

    bundle, features, references, gen = _predict_setup(spec, model_dir)
    config = bundle.model.generation_config
    config.update(**gen)
    seq2seq = DataCollatorForSeq2Seq(bundle.tokenizer, model=bundle.model)

    def collate(rows: list[dict]) -> dict:  # labels=None breaks predict (KeyError 'loss')
        return {k: v for k, v in seq2seq(rows).items() if v is not None}

    args = Seq2SeqTrainingArguments(
        output_dir=str(spec.path / "hf-output"), per_device_eval_batch_size=spec.predict_batch_size,
        predict_with_generate=True, generation_config=config, report_to="none",
        use_cpu=spec.device == "cpu")
    trainer = Seq2SeqTrainer(model=bundle.model, args=args, data_collator=collate,
                             processing_class=bundle.tokenizer)
    inputs = features.select_columns(["input_ids"])
    start, cpu_start = time.perf_counter(), time.process_time()
    output = trainer.predict(inputs)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    ids = np.where(output.predictions == -100, bundle.tokenizer.pad_token_id, output.predictions)
    return _predict_result(seconds, cpu_seconds, decode(bundle.tokenizer, torch.as_tensor(ids)),
                           references)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one benchmark contender.")
    parser.add_argument("kind", choices=("trainer", "trainer_grouped", "accelerate",
                                         "predict_ours", "predict_trainer", "sft_lora",
                                         "sft_qlora"))
    parser.add_argument("--spec", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", default=None, help="Model dir (predict kinds).")
    args = parser.parse_args(argv)
    if args.kind.startswith("sft_"):  # a LoraSpec
        from benchmarks.lora import LoraSpec, train_sft

        result = train_sft(LoraSpec.load(args.spec), args.kind.removeprefix("sft_"))
        Path(args.out).write_text(json.dumps(result), encoding="utf-8")
        return 0
    spec = Spec.load(args.spec)
    if args.kind in ("trainer", "trainer_grouped"):
        result = train_trainer(spec, grouped=args.kind == "trainer_grouped")
    elif args.kind == "accelerate":
        result = train_accelerate(spec)
    elif args.kind == "predict_ours":
        result = predict_ours(spec, args.model)
    else:
        result = predict_trainer(spec, args.model)
    Path(args.out).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
