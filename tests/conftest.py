"""Shared fixtures: one tokenizer/feature cache for the whole session (tokenizers are trained
once per distinct corpus), and W&B offline everywhere."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("toolkit-cache")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: tiny models on a shared CPU run several times faster so."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """The shuffled order's seed at the end, also under -q (pytest-randomly shows it only in
    the header, which -q hides), so a failure in CI can be replayed."""
    if config.pluginmanager.hasplugin("randomly"):
        seed = config.getoption("randomly_seed")
        terminalreporter.write_line(f"order shuffled by pytest-randomly; replay it with "
                                    f"pytest --randomly-seed={seed}")
