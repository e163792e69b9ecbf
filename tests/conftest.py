"""Shared fixtures: one tokenizer/feature cache for the whole session (tokenizers are trained
once per distinct corpus), and W&B offline everywhere."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("toolkit-cache")
