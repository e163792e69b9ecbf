"""The library versions a run records (run_info.json and the tracker): one list, one function."""

from __future__ import annotations

import importlib.metadata
import platform

LIBRARIES = ("torch", "transformers", "accelerate", "datasets", "tokenizers", "deepspeed",
             "peft")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions
