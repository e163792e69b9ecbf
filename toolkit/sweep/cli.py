"""`toolkit sweep`: run a W&B sweep YAML locally (Optuna) or on W&B; show a local sweep.

The sweep file and every parameter are checked against the config before the first trial.
Local trials live under --study-dir (default sweeps/<sweep name>): the Optuna journal (or the
--storage URL every node shares), each trial's params.json and output.log, and the run
directories (runs/). The sweep's `command:` sets the trials' launcher, program, --config and
fixed arguments, as under `wandb agent`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.config import loader
from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    from toolkit.sweep.command import Command
    from toolkit.sweep.trial import SweepPlan

ACTIONS = ("run", "status")
USAGE = """toolkit sweep [run] SWEEP.yaml [--backend local|wandb] [--count N] [--workers K]
                     [--db PATH] [--set KEY=VALUE]... [--launch COMMAND] [--config BASE.yaml]
                     [--study-dir DIR] [--storage URL] [--sweep-id ID] [--project P]
                     [--entity E]
       toolkit sweep status SWEEP.yaml | --study-dir DIR | --storage URL"""
DEFAULT_COUNT = 10  # local random/bayes trials without --count (grid: every point)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def register(subparsers) -> None:
    """Add `toolkit sweep` to a parser's subparsers."""
    parser = subparsers.add_parser(
        "sweep", help="Run a hyperparameter sweep (W&B sweep YAML) or show a local one.",
        usage=USAGE, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("words", nargs="+", metavar="[run|status] SWEEP.yaml",
                        help="`run` (the default) or `status`, then the sweep YAML (first, "
                             "before the options).")
    parser.add_argument("--backend", choices=("local", "wandb"), default="local",
                        help="local: Optuna in this machine's processes; wandb: a W&B agent "
                             "(needs the W&B server). Default: %(default)s.")
    parser.add_argument("--count", type=_positive, default=None,
                        help=f"Trials to run (local default: the grid, or {DEFAULT_COUNT}; "
                             f"wandb default: until the sweep ends).")
    parser.add_argument("--workers", type=_positive, default=1,
                        help="Local worker processes sharing the study (default 1); on a GPU "
                             "machine each gets its own GPUs (CUDA_VISIBLE_DEVICES).")
    parser.add_argument("--db", default=None,
                        help="Tracking database of the trials (sets tracking.db_path).")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="Config override for every trial (repeat for several).")
    parser.add_argument("--launch", default=None,
                        help="Command before the program, e.g. \"accelerate launch --config_file "
                             "accelerate_configs/multi_gpu.yaml\" ({port}: a free port per "
                             "trial). Default: this Python.")
    parser.add_argument("--config", default=None,
                        help="Base config of every trial (default: the --config of the sweep's "
                             "command, else config/base_config.yaml).")
    parser.add_argument("--study-dir", default=None,
                        help="Where the sweep keeps its study and trials (sweeps/<name>).")
    parser.add_argument("--storage", default=None, metavar="URL",
                        help="Optuna storage the workers share, e.g. postgresql://user@host/db, "
                             "sqlite:///sweeps.db or a journal file on a shared disk (default: "
                             "the journal file in --study-dir).")
    parser.add_argument("--sweep-id", default=None, help="Join this W&B sweep (wandb backend).")
    parser.add_argument("--project", default=None, help="W&B project (default: wandb.project).")
    parser.add_argument("--entity", default=None, help="W&B entity (default: wandb.entity).")
    parser.set_defaults(func=sweep)


def split_words(words: list[str]) -> tuple[str, str | None]:
    """(action, sweep file) from `[run|status] [SWEEP.yaml]`."""
    action, rest = (words[0], words[1:]) if words[0] in ACTIONS else ("run", words)
    if len(rest) > 1:
        raise ToolkitError(f"toolkit sweep takes one sweep file, got {' '.join(rest)}; put "
                           f"config overrides after --set")
    return action, rest[0] if rest else None


def sweep(args: argparse.Namespace) -> int:
    action, spec_path = split_words(args.words)
    if action == "status":
        return status(args, spec_path)
    if spec_path is None:
        raise ToolkitError("toolkit sweep run needs the sweep YAML, e.g. "
                           "toolkit sweep config/sweep/kobart_sweep.yaml --backend local")
    return run(args, spec_path)


def launch_words(given: str | None, command: Command | None) -> str | None:
    """The trials' launch prefix: --launch, or the words before the command's program."""
    words = [sys.executable if w == "${interpreter}" else w
             for w in (command.launch if command else ())]
    if given and words and shlex.split(given) != words:
        raise ToolkitError(f"the sweep's command launches its program with `{shlex.join(words)}`"
                           f" but --launch says `{given}`; drop one")
    return given or (shlex.join(words) if words else None)


def run(args: argparse.Namespace, spec_path: str) -> int:
    """Check everything, then run the trials and print the best one."""
    from toolkit.sweep.spec import resolve_sweep
    from toolkit.sweep.trial import SweepPlan, resolve_program

    spec, config, base = resolve_sweep(spec_path, args.config, args.set)
    study_dir = Path(args.study_dir or Path("sweeps") / spec.name)
    fixed = list(spec.command.overrides) if spec.command else []
    plan = SweepPlan(spec=spec, program=resolve_program(spec.program), config=base,
                     study_dir=study_dir, db_path=args.db or config["tracking"]["db_path"],
                     callbacks=config["callbacks"], overrides=[*fixed, *args.set],
                     launch=launch_words(args.launch, spec.command), storage=args.storage)
    if args.backend == "wandb":
        return _run_wandb(args, plan, config)
    from toolkit.sweep.devices import assign, visible_gpus
    from toolkit.sweep.local import grid_size, run_local
    from toolkit.sweep.status import describe_best

    devices = assign(args.workers, visible_gpus()) if args.workers > 1 else [None]
    count = args.count or spec.run_cap or (
        grid_size(spec) if spec.method == "grid" else DEFAULT_COUNT)
    study = run_local(plan, count, devices)
    where = f"--storage {args.storage}" if args.storage else f"--study-dir {study_dir}"
    print(f"sweep {spec.name}: {len(study.trials)} trial(s) in {study_dir} "
          f"(toolkit sweep status {spec_path} {where})")
    print(describe_best(study))
    return 0


def _run_wandb(args: argparse.Namespace, plan: SweepPlan, config: dict[str, Any]) -> int:
    from toolkit.sweep.wandb_backend import describe_best, require_login, run_wandb_sweep

    if args.workers > 1 or args.storage:
        raise ToolkitError("--workers and --storage are for the local backend; for W&B start "
                           "one agent per node or GPU group (launch/sweep_agent.sh) with "
                           "--sweep-id")
    require_login()
    project = args.project or config["wandb"]["project"]
    entity = args.entity or config["wandb"]["entity"]
    sweep_id = run_wandb_sweep(plan, args.count, args.sweep_id, project, entity)
    print(describe_best(plan.spec, sweep_id, project, entity))
    return 0


def status(args: argparse.Namespace, spec_path: str | None) -> int:
    """The trials of a local sweep and the best so far."""
    from toolkit.sweep.status import describe
    from toolkit.sweep.storage import load_existing

    if args.study_dir is None and spec_path is None and args.storage is None:
        raise ToolkitError("toolkit sweep status needs the sweep YAML, --study-dir DIR or "
                           "--storage URL")
    name = None
    if spec_path is not None:
        path = Path(spec_path)
        if not path.is_file():
            raise ToolkitError(f"sweep file {path} does not exist; pass it or --study-dir DIR")
        name = str(loader.read_yaml(path).get("name") or path.stem)
    study_dir = Path(args.study_dir or Path("sweeps") / str(name))
    print(describe(load_existing(study_dir, args.storage, name)))
    return 0
