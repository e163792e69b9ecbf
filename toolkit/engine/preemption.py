"""Preemption: SIGTERM/SIGINT finish the current step, checkpoint, exit 75; a second exits at once."""

from __future__ import annotations

import logging
import os
import signal
import time
from typing import Any

logger = logging.getLogger("toolkit")


class PreemptionHandler:
    """Installs the handlers for the duration of training; the loop polls ``requested()``."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    # A signal sent to a process group reaches each rank twice (directly, and forwarded by
    # torchrun / accelerate launch): repeats this close to the first are one signal.
    REPEAT_WINDOW_S = 1.0

    def __init__(self) -> None:
        self.received: int | None = None
        self.first_at = 0.0
        self.previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame) -> None:
        if self.received is not None:
            if time.monotonic() - self.first_at > self.REPEAT_WINDOW_S:
                os._exit(128 + signum)
            return
        self.received, self.first_at = signum, time.monotonic()
        logger.warning("received %s: saving a checkpoint after this step, then exiting "
                       "(send it again to exit at once)", signal.Signals(signum).name)

    def __enter__(self) -> PreemptionHandler:
        try:
            for sig in self.SIGNALS:
                self.previous[sig] = signal.signal(sig, self._handle)
        except ValueError:  # not the main thread: signals stay with the caller
            self.previous.clear()
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def requested(self) -> bool:
        return self.received is not None
