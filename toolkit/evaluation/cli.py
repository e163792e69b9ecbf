"""`toolkit predict` (a submission csv) and `toolkit evaluate` (a ROUGE table) from a model dir.

Both run on one process or, under ``accelerate launch``, on every process: each generates its
share of the examples sorted by length, the main process gathers and writes.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from toolkit.evaluation.rouge import MULTI_REFERENCE, TOKENIZERS


def _add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True,
                        help="A save_pretrained directory (a run's best/ or final/).")
    parser.add_argument("--batch-size", type=int, default=32, help="Prompts per generate call.")
    parser.add_argument("--num-beams", type=int, default=None,
                        help="Beam width (default: the model's generation_config).")
    parser.add_argument("--max-new-tokens", type=int, default=None,
                        help="Summary tokens at most (default: the generation_config's).")
    parser.add_argument("--length-penalty", type=float, default=None, help="Beam length penalty.")
    parser.add_argument("--no-repeat-ngram-size", type=int, default=None,
                        help="Forbid repeating n-grams of this size.")
    parser.add_argument("--max-source-length", type=int, default=None,
                        help="Dialogue tokens kept (default: the training run's config.yaml, "
                             "else what the model's positions allow).")
    parser.add_argument("--id-column", default="fname", help="Column with the example id.")
    parser.add_argument("--dialogue-column", default="dialogue", help="Column with the dialogue.")


def _positive(args: argparse.Namespace, *names: str) -> None:
    from toolkit.errors import ToolkitError

    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            flag = "--" + name.replace("_", "-")
            raise ToolkitError(f"{flag} must be at least 1, got {value}")


def _check(args: argparse.Namespace, source: str, *extra: str) -> None:
    """The cheap checks, before any file is read or model loaded."""
    from toolkit.evaluation.predict import check_model_dir, check_output

    _positive(args, "batch_size", "num_beams", "max_new_tokens", "max_source_length", *extra)
    check_model_dir(args.model)
    if args.output:
        check_output(args.output, [source], args.overwrite)


def _setup(args: argparse.Namespace):
    """Accelerator (logging on the main process only) and the loaded model bundle."""
    from accelerate import Accelerator

    from toolkit.console import setup_logging
    from toolkit.evaluation.predict import load_model_dir

    accelerator = Accelerator()
    setup_logging(accelerator.is_main_process, "info")
    bundle = load_model_dir(args.model, accelerator.device, args.max_source_length)
    return accelerator, bundle


def _gen_kwargs(bundle, args: argparse.Namespace) -> dict:
    from toolkit.evaluation.predict import generation_kwargs

    return generation_kwargs(bundle, num_beams=args.num_beams, max_new_tokens=args.max_new_tokens,
                             length_penalty=args.length_penalty,
                             no_repeat_ngram_size=args.no_repeat_ngram_size)


def run_predict(args: argparse.Namespace) -> int:
    """Write `<id>,summary` for every input row, in the input's order."""
    from toolkit.data.readers import Columns
    from toolkit.evaluation.predict import (
        predict_features,
        prompt_features,
        read_dialogues,
        write_submission,
    )

    _check(args, args.input)
    ids, rows = read_dialogues(args.input, Columns(args.id_column, args.dialogue_column))
    accelerator, bundle = _setup(args)
    present = [row for row in rows if row is not None]
    features = prompt_features(bundle, present)
    generated = iter(predict_features(accelerator, bundle, features, args.batch_size,
                                      _gen_kwargs(bundle, args)))
    summaries = ["" if row is None else next(generated) for row in rows]
    if accelerator.is_main_process:
        write_submission(args.output, ids, summaries, args.id_column)
        print(f"wrote {len(summaries)} summaries to {args.output}")
    accelerator.wait_for_everyone()
    return 0


def _write_predictions(path: str, rows: list[dict], predictions: list[str],
                       id_column: str) -> None:
    width = max(len(row["references"]) for row in rows)
    names = ["reference"] if width == 1 else [f"reference{i}" for i in range(1, width + 1)]
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([id_column, "prediction", *names])
        for row, prediction in zip(rows, predictions):
            refs = row["references"] + [""] * (width - len(row["references"]))
            writer.writerow([row["id"], prediction, *refs])


def run_evaluate(args: argparse.Namespace) -> int:
    """Generate for a labelled file and print ROUGE (every reference column counts)."""
    from toolkit.data.readers import Columns
    from toolkit.evaluation.evaluator import EvalSettings, evaluate
    from toolkit.evaluation.predict import lean_beam_search, prompt_features, read_references
    from toolkit.evaluation.rouge import rouge_table

    _check(args, args.data, "rouge_workers")
    rows = read_references(args.data, Columns(args.id_column, args.dialogue_column,
                                              args.summary_column))
    accelerator, bundle = _setup(args)
    features = prompt_features(bundle, rows)
    settings = EvalSettings(args.batch_size, bundle.causal, _gen_kwargs(bundle, args),
                            args.rouge_tokenizer, args.multi_reference, with_loss=False,
                            rouge_workers=args.rouge_workers)
    with lean_beam_search(bundle.model):
        out = evaluate(accelerator, bundle.model, bundle.tokenizer, features,
                       [row["references"] for row in rows], settings)
    if accelerator.is_main_process:
        if args.output:
            _write_predictions(args.output, rows, out.predictions, args.id_column)
        print(json.dumps(out.metrics, indent=2) if args.json else rouge_table(out.metrics))
    accelerator.wait_for_everyone()
    return 0


def register_predict(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict", help="Summarise every dialogue of a file into a fname,summary csv.")
    _add_model_args(parser)
    parser.add_argument("--input", required=True, help="csv, jsonl or parquet with dialogues.")
    parser.add_argument("--output", default="submission.csv", help="The csv to write.")
    parser.add_argument("--overwrite", action="store_true", help="Replace an existing --output.")
    parser.set_defaults(func=run_predict)


def register_evaluate(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="ROUGE of a model on a labelled file (summary or summary1..N columns).")
    _add_model_args(parser)
    parser.add_argument("--data", required=True, help="csv, jsonl or parquet with references.")
    parser.add_argument("--summary-column", default="summary",
                        help="Reference column; without it summary1..summaryN are used.")
    parser.add_argument("--rouge-tokenizer", default="auto", choices=TOKENIZERS,
                        help="ROUGE tokens: auto, whitespace, kiwi (Korean morphemes), latin.")
    parser.add_argument("--multi-reference", default="mean", choices=MULTI_REFERENCE,
                        help="Several references: mean of their scores, or the best (max).")
    parser.add_argument("--rouge-workers", type=int, default=1,
                        help="Processes scoring ROUGE (pays off from a few thousand examples).")
    parser.add_argument("--output", default=None,
                        help="Also write id, prediction and references to this csv.")
    parser.add_argument("--overwrite", action="store_true", help="Replace an existing --output.")
    parser.add_argument("--json", action="store_true", help="Print the metrics as JSON.")
    parser.set_defaults(func=run_evaluate)
