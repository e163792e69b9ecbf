"""User-facing errors: one paragraph that names the problem and the fix, never a traceback."""

from __future__ import annotations

import functools
import logging
import os
import pickle
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


def weights_error(source: object, error: BaseException) -> ToolkitError | None:
    """The user-facing error for model weights that cannot be read, or None for other errors.

    Call it where `from_pretrained` loads weights: a truncated or garbage `model.safetensors`
    raises safetensors' `SafetensorError`, a `pytorch_model.bin` holding more than tensors is
    refused by `torch.load(weights_only=True)` with an `UnpicklingError`.
    """
    if type(error).__name__ == "SafetensorError":
        return ToolkitError(
            f"the weights in {source} are not a readable safetensors file ({error}): the file is "
            f"truncated or is not safetensors; copy or save the model again (save_pretrained)")
    if isinstance(error, pickle.UnpicklingError) and "weights only" in str(error).lower():
        return ToolkitError(
            f"the pickled weights file in {source} (pytorch_model.bin) holds objects besides "
            f"tensors and is refused for safety: unpickling it could run code. If you trust "
            f"where it came from, convert it once to safetensors in that directory: python -c "
            f"\"import torch; from safetensors.torch import save_file; save_file({{k: v.clone()"
            f".contiguous() for k, v in torch.load('pytorch_model.bin', weights_only=False)"
            f".items()}}, 'model.safetensors', metadata={{'format': 'pt'}})\" and remove "
            f"pytorch_model.bin")
    return None


def _stdout_closed() -> int:
    """`toolkit runs list | head`: the reader left; exit quietly, as `cat` would."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail again
    return EXIT_OK


def run_cli(main: Callable[..., int]) -> Callable[..., int]:
    """Wrap a `main(argv) -> int` so user errors print one clear paragraph and exit non-zero."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except ToolkitError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USAGE
        except BrokenPipeError:
            return _stdout_closed()
        except KeyboardInterrupt:
            print("interrupted.", file=sys.stderr)
            return EXIT_ABORTED

    return wrapper
