"""``toolkit runs ...`` and ``toolkit models ...``: the tracking database from the shell.

Every subcommand takes ``--db PATH`` and ``--json``; the default output is an aligned table.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from toolkit.errors import EXIT_OK, EXIT_USAGE, ToolkitError
from toolkit.tracking import db
from toolkit.tracking.db import DEFAULT_DB_PATH, TrackingError
from toolkit.tracking.registry import ModelRegistry
from toolkit.tracking.tracker import STATUSES, ExperimentTracker

METRIC = "rouge_combined_f1"  # the column the list tables show
Handler = Callable[[argparse.Namespace], int]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``runs`` and ``models`` commands to a parser's subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=DEFAULT_DB_PATH, help="Tracking database (%(default)s).")
    common.add_argument("--json", action="store_true", help="Print JSON instead of a table.")
    _register_runs(subparsers, common)
    _register_models(subparsers, common)


def _register_runs(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = _group(subparsers, "runs", "Experiments recorded by the tracker.")
    add = functools.partial(_command, group, common)
    parser = add("list", runs_list, "List experiments, newest first.")
    parser.add_argument("--status", choices=STATUSES, help="Only this status.")
    parser.add_argument("--name", help="Only names containing this text.")
    parser.add_argument("--limit", type=int, default=50, help="At most this many (%(default)s).")
    add("show", runs_show, "One experiment: its fields and metrics.").add_argument("id")
    add("compare", runs_compare, "Experiments side by side.").add_argument("ids", nargs="+")
    parser = add("export", runs_export, "An experiment as JSON (the usage guide's structure).")
    parser.add_argument("id")
    parser.add_argument("--output", type=Path, help="Write to this file instead of stdout.")


def _register_models(
    subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    group = _group(subparsers, "models", "Models in the registry.")
    add = functools.partial(_command, group, common)
    add("list", models_list, "List models, newest first.")
    parser = add("best", models_best, "The best models by one metric.")
    parser.add_argument("--metric", default=METRIC, help="Metric to rank by (%(default)s).")
    parser.add_argument("--limit", type=int, default=5, help="At most this many (%(default)s).")
    parser.add_argument("--goal", choices=("max", "min"), default=None,
                        help="max: highest first; min: lowest first. Default: max for ROUGE, "
                             "accuracy, BLEU and F1 keys, min for the rest (losses).")
    parser = add("search", models_search, "Models by architecture and minimum performance.")
    parser.add_argument("--architecture", help="Only this architecture.")
    parser.add_argument(
        "--min", type=_floor, nargs="+", action="extend", default=[], metavar="METRIC=VALUE",
        help="Only models with metric >= value (repeatable).",
    )
    add("show", models_show, "One model (id or alias).").add_argument("id")
    add("compare", models_compare, "Model metrics side by side.").add_argument("ids", nargs="+")
    parser = add("alias", models_alias, "Point an alias (best, production) at a model.")
    parser.add_argument("id")
    parser.add_argument("name")


def _group(
    subparsers: argparse._SubParsersAction, name: str, help: str
) -> argparse._SubParsersAction:
    parser = subparsers.add_parser(name, help=help, description=help)
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")


def _command(
    group: argparse._SubParsersAction, common: argparse.ArgumentParser, name: str,
    handler: Handler, help: str,
) -> argparse.ArgumentParser:
    parser = group.add_parser(name, help=help, description=help, parents=[common])
    parser.set_defaults(func=handler)
    return parser


def _floor(text: str) -> tuple[str, float]:
    metric, sep, value = text.partition("=")
    try:
        if metric and sep:
            return metric, float(value)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected METRIC=VALUE, got {text!r}")


def _handles_errors(handler: Handler) -> Handler:
    """A user error (unknown id, missing database) prints one line and returns EXIT_USAGE."""

    @functools.wraps(handler)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ToolkitError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USAGE

    return wrapper


def _existing(path: str) -> str:
    """Read commands never create an empty database."""
    if not Path(path).is_file():
        raise TrackingError(
            f"No tracking database at {path}: the first tracked training run creates it. "
            "Pass --db PATH to read another file."
        )
    return path


def _tracker(args: argparse.Namespace) -> ExperimentTracker:
    return ExperimentTracker(_existing(args.db))


def _registry(args: argparse.Namespace) -> ModelRegistry:
    return ModelRegistry(_existing(args.db))


def _emit(args: argparse.Namespace, data: Any, render: Callable[[Any], str]) -> int:
    print(_json(data) if args.json else render(data))
    return EXIT_OK


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


# --- runs -----------------------------------------------------------------------------------

@_handles_errors
def runs_list(args: argparse.Namespace) -> int:
    runs = _tracker(args).list_experiments(status=args.status, name=args.name, limit=args.limit)
    return _emit(args, runs, _runs_table)


@_handles_errors
def runs_show(args: argparse.Namespace) -> int:
    tracker = _tracker(args)
    experiment = tracker.get_experiment(args.id)
    experiment["metric_summary"] = tracker.get_metric_summary(args.id)
    return _emit(args, experiment, _run_details)


@_handles_errors
def runs_compare(args: argparse.Namespace) -> int:
    comparison = _tracker(args).compare_experiments(args.ids)
    return _emit(args, comparison, lambda c: _side_by_side("FIELD", args.ids, c))


@_handles_errors
def runs_export(args: argparse.Namespace) -> int:
    exported = _json(_tracker(args).export_experiment(args.id))
    if args.output is None:
        print(exported)
        return EXIT_OK
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(exported + "\n", encoding="utf-8")
    print(_json({"output": str(args.output)}) if args.json else f"wrote {args.output}")
    return EXIT_OK


def _runs_table(runs: list[dict[str, Any]]) -> str:
    if not runs:
        return "no experiments"
    rows = [
        (r["id"], r["name"], r["status"], r["model_type"], r["start_time"], _duration(r),
         r["best_metrics"].get(METRIC))
        for r in runs
    ]
    return table(("ID", "NAME", "STATUS", "MODEL", "STARTED", "DURATION", METRIC), rows)


def _run_details(e: dict[str, Any]) -> str:
    fields = (
        "id", "name", "status", "description", "model_type", "start_time", "end_time", "host",
        "pid", "git_commit", "config_hash", "wandb_run_id", "run_dir", "tags", "notes",
        "model_info", "dataset_info", "library_versions",
    )
    parts = [table(("FIELD", "VALUE"), [(f, e[f]) for f in fields])]
    metrics = list(dict.fromkeys([*e["best_metrics"], *e["final_metrics"]]))
    if metrics:
        rows = [(m, e["best_metrics"].get(m), e["final_metrics"].get(m)) for m in metrics]
        parts.append(table(("METRIC", "BEST", "FINAL"), rows))
    if e["metric_summary"]:
        rows = [
            (key, s["best"], s["best_step"], s["last"], s["last_step"])
            for key, s in e["metric_summary"].items()
        ]
        parts.append(table(("LOGGED", "BEST", "BEST STEP", "LAST", "LAST STEP"), rows))
    return "\n\n".join(parts)


def _duration(run: dict[str, Any]) -> str | None:
    if not run["start_time"]:
        return None
    end = db.parse_time(run["end_time"]) if run["end_time"] else db.now()
    seconds = int((end - db.parse_time(run["start_time"])).total_seconds())
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


# --- models ---------------------------------------------------------------------------------

@_handles_errors
def models_list(args: argparse.Namespace) -> int:
    return _emit(args, _registry(args).search_models(), _models_table(METRIC))


@_handles_errors
def models_best(args: argparse.Namespace) -> int:
    models = _registry(args).get_best_models(metric=args.metric, limit=args.limit,
                                             goal=args.goal)
    return _emit(args, models, _models_table(args.metric))


@_handles_errors
def models_search(args: argparse.Namespace) -> int:
    floors = dict(args.min)
    models = _registry(args).search_models(architecture=args.architecture, min_performance=floors)
    return _emit(args, models, _models_table(next(iter(floors), METRIC)))


@_handles_errors
def models_show(args: argparse.Namespace) -> int:
    return _emit(args, _registry(args).get_model_info(args.id), _model_details)


@_handles_errors
def models_compare(args: argparse.Namespace) -> int:
    comparison = _registry(args).compare_models(args.ids)
    return _emit(args, comparison, lambda c: _side_by_side("METRIC", args.ids, c))


@_handles_errors
def models_alias(args: argparse.Namespace) -> int:
    registry = _registry(args)
    registry.set_alias(args.id, args.name)
    moved = {"alias": args.name, "model_id": registry.resolve(args.name)}
    return _emit(args, moved, lambda m: f"{m['alias']} -> {m['model_id']}")


def _models_table(metric: str) -> Callable[[list[dict[str, Any]]], str]:
    def render(models: list[dict[str, Any]]) -> str:
        if not models:
            return "no models"
        rows = [
            (m["id"], m["name"], m["version"], m["architecture"], m["performance"].get(metric),
             m["aliases"], m["experiment_id"], m["path"])
            for m in models
        ]
        headers = ("ID", "NAME", "VERSION", "ARCHITECTURE", metric, "ALIASES", "EXPERIMENT", "PATH")
        return table(headers, rows)

    return render


def _model_details(m: dict[str, Any]) -> str:
    fields = (
        "id", "name", "version", "architecture", "checkpoint", "path", "experiment_id",
        "created_time", "aliases", "training_info",
    )
    parts = [table(("FIELD", "VALUE"), [(f, m[f]) for f in fields])]
    if m["performance"]:
        parts.append(table(("METRIC", "VALUE"), list(m["performance"].items())))
    return "\n\n".join(parts)


# --- tables ---------------------------------------------------------------------------------

def _side_by_side(first: str, ids: Sequence[str], comparison: dict[str, list[Any]]) -> str:
    return table((first, *ids), [(key, *values) for key, values in comparison.items()])


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns aligned by display width (Korean is two cells wide); numbers to the right."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [
        max(_width(text) for text in (header, *(row[i] for row in cells)))
        for i, header in enumerate(headers)
    ]
    numeric = [
        any(row[i] is not None for row in rows)
        and all(row[i] is None or _is_number(row[i]) for row in rows)
        for i in range(len(headers))
    ]
    lines = [
        [_pad(h, w, False) for h, w in zip(headers, widths)],
        ["-" * w for w in widths],
        *([_pad(t, w, right) for t, w, right in zip(row, widths, numeric)] for row in cells),
    ]
    return "\n".join("  ".join(line).rstrip() for line in lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items()) or "-"
    return " ".join(str(value).split())  # one line per row


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * (width - _width(text))
    return fill + text if right else text + fill
