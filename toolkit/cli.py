"""The `toolkit` command: train, evaluate, predict, sweep, runs, models, config, export.

Each command registers its own parser and handler; `main(argv) -> int` dispatches.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

import yaml

from toolkit.errors import run_cli


def register_train(subparsers) -> None:
    from toolkit import train

    parser = subparsers.add_parser("train", parents=[train.make_parser()], add_help=False,
                                   help="Train a model (one process; use accelerate launch "
                                        "toolkit/train.py for several).")
    parser.set_defaults(func=train.run)


def _config_show(args: argparse.Namespace) -> int:
    from toolkit.config.loader import redact, resolve

    config, origins = resolve(args.config, args.overrides)
    config = redact(config)
    if args.json:
        print(json.dumps({"config": config, "origins": origins}, ensure_ascii=False, indent=2))
        return 0
    for section, values in config.items():
        if not isinstance(values, dict):
            print(f"{section}: {json.dumps(values, ensure_ascii=False)}"
                  f"    # {origins.get(section, 'default')}")
            continue
        print(f"{section}:")
        for key, value in values.items():
            origin = origins.get(f"{section}.{key}", "default")
            text = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True).strip()
            text = text.removesuffix("...").strip()
            print(f"  {key}: {text}    # {origin}")
    return 0


def _config_import(args: argparse.Namespace) -> int:
    from toolkit.config.legacy import import_config

    conversion = import_config(args.source, args.output, args.overwrite)
    print(conversion.report())
    print(f"wrote {args.output} (it validates); train with: toolkit train --config {args.output}")
    return 0


def register_config(subparsers) -> None:
    parser = subparsers.add_parser("config", help="Show the resolved config, or convert one.")
    inner = parser.add_subparsers(dest="action", required=True)
    show = inner.add_parser("show", help="Print every value with the layer it came from.")
    show.add_argument("--config", default=None, help="YAML config file.")
    show.add_argument("--json", action="store_true", help="Print JSON.")
    show.add_argument("overrides", nargs="*", metavar="section.key=value")
    show.set_defaults(func=_config_show)
    convert = inner.add_parser(
        "import", help="Convert a competition-baseline config.yaml (general/tokenizer/training/"
                       "inference/wandb, HF Trainer names) into a toolkit config.")
    convert.add_argument("source", help="The config to convert.")
    convert.add_argument("--output", required=True, help="Where to write the toolkit config.")
    convert.add_argument("--overwrite", action="store_true", help="Replace an existing --output.")
    convert.set_defaults(func=_config_import)


def commands() -> list[Callable]:
    """Every command's register function, in the order `--help` lists them."""
    from toolkit.evaluation.cli import register_evaluate, register_predict
    from toolkit.models.export import register as register_export
    from toolkit.sweep.cli import register as register_sweep
    from toolkit.tracking.cli import register as register_tracking

    return [register_train, register_evaluate, register_predict, register_sweep,
            register_tracking, register_config, register_export]


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toolkit",
                                     description="Dialogue-summarization training toolkit.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for register in commands():
        register(subparsers)
    return parser


@run_cli
def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    if words[:1] == ["train"]:  # W&B-style --flags, as toolkit/train.py reads them
        from toolkit.config.argv import normalize
        from toolkit.train import OWN_OPTIONS

        words = ["train", *normalize(words[1:], OWN_OPTIONS)]
    args = make_parser().parse_args(words)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
