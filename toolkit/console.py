"""The console: one line per record on the main process, tracebacks only in the run's train.log."""

from __future__ import annotations

import logging


class ConsoleFormatter(logging.Formatter):
    """One line per record: tracebacks go to the run's train.log, never to the console."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text
        record.exc_info = record.exc_text = None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text = saved


def setup_logging(is_main_process: bool, level: str) -> None:
    """Console logs on the main process only; other ranks report errors alone."""
    import datasets
    import transformers

    toolkit_logger = logging.getLogger("toolkit")
    if not any(getattr(h, "_toolkit_console", False) for h in toolkit_logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(ConsoleFormatter("%(levelname)s %(message)s"))
        handler._toolkit_console = True
        toolkit_logger.addHandler(handler)
    toolkit_logger.setLevel(logging.DEBUG)
    for handler in toolkit_logger.handlers:
        if getattr(handler, "_toolkit_console", False):
            handler.setLevel(getattr(logging, level.upper()) if is_main_process else logging.ERROR)
    toolkit_logger.propagate = False
    if not is_main_process:
        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
        transformers.logging.set_verbosity_error()
