"""One benchmark contender per process: ``python -m benchmarks.contenders KIND --spec S --out O``.

Kinds: ``trainer`` / ``trainer_grouped`` (HF Seq2SeqTrainer, default arguments / length
grouping), ``accelerate`` (the loop of HF's run_summarization_no_trainer.py), ``predict_ours``
(the toolkit's predict path) and ``predict_trainer``
(``Seq2SeqTrainer.predict(predict_with_generate=True)``). Each writes its figures as JSON; the
parent adds the process's peak RSS. Timers start after setup and stop after the last step.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402
    Spec,
    heldout_loss,
    label_tokens,
    load_features,
    load_rows,
    peak_rss_mb,
    scratch_model,
    tokenizer_dir,
)


class CountingCollator:
    """Wraps a collator; records each batch's target tokens (the loaders prefetch one more)."""

    def __init__(self, collate) -> None:
        self.collate = collate
        self.tokens: list[int] = []

    def __call__(self, features: list[dict]) -> dict:
        batch = self.collate(features)
        self.tokens.append(label_tokens(batch["labels"]))
        return batch


def _tokenizer(spec: Spec):
    from toolkit.models.factory import load_tokenizer

    return load_tokenizer(str(tokenizer_dir(spec)))


def train_trainer(spec: Spec, grouped: bool) -> dict:
    """Seq2SeqTrainer with its default arguments (plus the shared batch, steps, lr, seed)."""
    from transformers import (
        DataCollatorForSeq2Seq,
        Seq2SeqTrainer,
        Seq2SeqTrainingArguments,
        TrainerCallback,
    )

    class Timer(TrainerCallback):
        start = cpu_start = seconds = cpu_seconds = rss_before = rss_after = 0.0

        def on_train_begin(self, args, state, control, **kwargs):
            Timer.start, Timer.cpu_start = time.perf_counter(), time.process_time()
            Timer.rss_before = peak_rss_mb()

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == state.max_steps:
                Timer.seconds = time.perf_counter() - Timer.start
                Timer.cpu_seconds = time.process_time() - Timer.cpu_start
                Timer.rss_after = peak_rss_mb()

    tokenizer = _tokenizer(spec)
    train = load_features(spec, "train").select_columns(["input_ids", "labels", "length"])
    model = scratch_model(spec, tokenizer)
    collator = CountingCollator(DataCollatorForSeq2Seq(tokenizer, model=model))
    extra = {"train_sampling_strategy": "group_by_length"} if grouped else {}
    args = Seq2SeqTrainingArguments(
        output_dir=str(spec.path / "hf-output"), per_device_train_batch_size=spec.batch_size,
        max_steps=spec.steps, learning_rate=spec.learning_rate, logging_steps=spec.logging_steps,
        save_strategy="no", report_to="none", seed=spec.seed, use_cpu=True, **extra)
    trainer = Seq2SeqTrainer(model=model, args=args, train_dataset=train, data_collator=collator,
                             processing_class=tokenizer, callbacks=[Timer()])
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return {"loop_seconds": Timer.seconds, "loop_cpu_seconds": Timer.cpu_seconds,
            "rss_mb_before_loop": Timer.rss_before, "rss_mb_after_loop": Timer.rss_after,
            "samples": spec.steps * spec.batch_size,
            "target_tokens": sum(collator.tokens[:spec.steps]), "train_loss": losses[-1],
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
    """The bundle (through the toolkit's one loader), prompt features, references, settings."""
    from toolkit.evaluation.predict import generation_kwargs, load_model_dir, prompt_features

    bundle = load_model_dir(model_dir, max_source_length=spec.max_source_length)
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
        predict_with_generate=True, generation_config=config, report_to="none", use_cpu=True)
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
                                         "predict_ours", "predict_trainer"))
    parser.add_argument("--spec", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", default=None, help="Model dir (predict kinds).")
    args = parser.parse_args(argv)
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
