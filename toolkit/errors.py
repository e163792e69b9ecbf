"""User-facing errors: one paragraph that names the problem and the fix, never a traceback."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable

logger = logging.getLogger(__name__)

# Exit codes documented in the README ("Exit codes").
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 75  # EX_TEMPFAIL: a checkpoint was saved, schedulers requeue the job
EXIT_ABORTED = 130  # Ctrl-C outside training (128 + SIGINT): nothing was saved


class ToolkitError(Exception):
    """An error the user can fix: bad config, missing file or column, corrupt checkpoint."""


class ConfigError(ToolkitError):
    """One or more problems in the resolved configuration, all reported together."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"The configuration has {len(problems)} problem(s):\n{listing}")


class DataError(ToolkitError):
    """Unreadable, empty or malformed data."""


class CheckpointError(ToolkitError):
    """A checkpoint that is missing, incomplete, corrupt or incompatible with the config."""


class TrainingInterrupted(Exception):
    """Raised inside the loop after a preemption signal once the checkpoint is written."""


def run_cli(main: Callable[..., int]) -> Callable[..., int]:
    """Wrap a `main(argv) -> int` so user errors print one clear paragraph and exit non-zero."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except ToolkitError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USAGE
        except TrainingInterrupted as error:
            print(f"interrupted: {error}", file=sys.stderr)
            return EXIT_INTERRUPTED
        except KeyboardInterrupt:
            print("interrupted.", file=sys.stderr)
            return EXIT_ABORTED

    return wrapper
