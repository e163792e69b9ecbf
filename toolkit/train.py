"""Entry point for `accelerate launch toolkit/train.py --config FILE [section.key=value ...]`.

Overrides may also be written as W&B's sweep agent writes them (`--learning_rate=3e-05`,
`--training.learning_rate=3e-05`): see toolkit.config.argv.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from pathlib import Path

if __package__ in (None, ""):  # run as a script by accelerate launch / torchrun
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from toolkit.errors import EXIT_FAILED, EXIT_INTERRUPTED, ToolkitError, run_cli  # noqa: E402

logger = logging.getLogger("toolkit")
OWN_OPTIONS = ("--config", "--resume", "--params-file")  # each takes a value


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toolkit train", description="Train a dialogue-summarization model.",
        epilog="Overrides are section.key=value, a key's own name (learning_rate=3e-5), or flags "
               "as W&B's sweep agent passes them (--learning_rate=3e-5, --training.learning_rate=3e-5).")
    parser.add_argument("--config", default="config/base_config.yaml", help="YAML config file.")
    parser.add_argument("--resume", default=None,
                        help="`auto` (newest complete checkpoint of this experiment) or a path.")
    parser.add_argument("--params-file", default=None,
                        help="JSON file of sweep parameters (flat or dotted names).")
    parser.add_argument("overrides", nargs="*", metavar="section.key=value",
                        help="Config overrides, applied after the file and the environment.")
    return parser


def run(args: argparse.Namespace) -> int:
    """Validate the config, construct, prepare data, train, report: the fixed lifecycle."""
    from toolkit.config import loader
    from toolkit.config.argv import normalize
    from toolkit.sweep.params import read_params_file

    overrides = [*normalize(args.overrides), *read_params_file(args.params_file)]
    loader.resolve(args.config, overrides)  # a bad config fails here, before torch is imported
    from toolkit.engine.trainer import DialogueSummarizationTrainer

    trainer = DialogueSummarizationTrainer(args.config, overrides=overrides)
    datasets = trainer.prepare_data()
    try:
        result = trainer.train(datasets, resume_from_checkpoint=args.resume)
    except ToolkitError:
        raise
    except Exception as error:
        where = ""
        if trainer.run_dir is not None and trainer.run_dir.is_dir() and trainer.accelerator.is_main_process:
            log = trainer.run_dir / "train.log"
            if "Traceback" not in (log.read_text(encoding="utf-8") if log.exists() else ""):
                with log.open("a", encoding="utf-8") as handle:  # failed before the log file
                    handle.write("".join(traceback.format_exception(error)))
            where = f" (traceback in {log})"
        print(f"error: training failed: {type(error).__name__}: {error}{where}", file=sys.stderr)
        return EXIT_FAILED
    if trainer.accelerator.is_main_process:
        metric = trainer.best_metric
        value = result.best_metrics.get(metric)
        shown = f"{value:.4f}" if isinstance(value, float) else "n/a"
        print(f"validation {metric}: {shown}")
        print(f"best model: {result.model_path}")
    return EXIT_INTERRUPTED if result.status == "interrupted" else 0


@run_cli
def main(argv: list[str] | None = None) -> int:
    from toolkit.config.argv import normalize

    words = sys.argv[1:] if argv is None else argv
    return run(make_parser().parse_args(normalize(words, OWN_OPTIONS)))


if __name__ == "__main__":
    sys.exit(main())
