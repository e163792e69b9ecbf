"""Splits: rows read from a file or the embedded corpus, normalised, with their features."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import datasets

from toolkit.corpus import embedded_splits
from toolkit.data.encoding import AUTO
from toolkit.data.preprocess import normalise
from toolkit.data.readers import Columns, normalise_rows, read_rows

logger = logging.getLogger("toolkit")

EMBEDDED = "embedded"
EMBEDDED_SEED = 0  # the corpus stays the same when general.seed changes
EMBEDDED_NAMES = {"train": "train", "validation": "validation", "test": "test"}
LABELED = ("train", "validation")  # splits that need a summary column by default


@dataclass
class DialogueSplit:
    """One split: `rows` ({id, dialogue, references}) and, once built, token `features`."""

    name: str
    rows: list[dict]
    source: str
    dropped: int = 0
    features: datasets.Dataset | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def references(self) -> list[list[str]]:
        return [row["references"] for row in self.rows]

    @property
    def dialogues(self) -> list[str]:
        return [row["dialogue"] for row in self.rows]

    @property
    def labeled(self) -> bool:
        """Whether every row has a reference (an unlabeled test split has none)."""
        return all(row["references"] for row in self.rows)


def load_split(name: str, path: str, fmt: str, columns: Columns, limit: int | None = None,
               embedded_sizes: tuple[int, int] = (3000, 200), need_summary: bool | None = None,
               encoding: str = AUTO) -> DialogueSplit:
    """Read, normalise and (optionally) cut a split; empty rows are dropped and counted.

    ``need_summary`` None: train and validation need the summary column (rows without a
    summary are dropped), test does not: an unlabeled test file (fname, dialogue, as the Korean
    competition's test.csv) gives rows with empty references. Ids must be unique in a test split.
    """
    required = name in LABELED if need_summary is None else need_summary
    if path == EMBEDDED:
        rows = embedded_splits(*embedded_sizes, seed=EMBEDDED_SEED)[EMBEDDED_NAMES[name]]
        source = f"embedded corpus ({name})"
        raw = [{columns.id: r["fname"], columns.dialogue: r["dialogue"],
                columns.summary: r["summary"]} for r in rows]
    else:
        raw, source = read_rows(path, fmt, encoding), path
    kept, dropped = normalise_rows(raw, columns, source, required, unique_ids=name == "test")
    for row in kept:
        row["dialogue"] = normalise(row["dialogue"])
        row["references"] = [normalise(r) for r in row["references"]]
    if dropped:
        empty = "an empty dialogue or summary" if required else "an empty dialogue"
        logger.warning("%s: dropped %d row(s) with %s", source, dropped, empty)
    if limit is not None:
        kept = kept[:limit]
    return DialogueSplit(name, kept, source, dropped)


def describe_splits(datasets: dict[str, DialogueSplit]) -> dict[str, Any]:
    """Sizes, sources and dropped rows of each split, as the tracker records them."""
    info: dict[str, Any] = {}
    for name, split in datasets.items():
        short = {"train": "train", "validation": "val", "test": "test"}[name]
        info[f"{short}_size"] = len(split)
        info[f"{short}_source"] = split.source
        info[f"{short}_dropped"] = split.dropped
    return info
