"""Readers: CSV, JSONL, Parquet and Hugging Face datasets into a list of row dicts."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import DataError

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
MULTI_REFERENCE = re.compile(r"^summary(\d+)$")


@dataclass(frozen=True)
class Columns:
    """Names of the columns a dialogue file holds."""

    id: str = "fname"
    dialogue: str = "dialogue"
    summary: str = "summary"


def detect_format(path: Path, fmt: str = "auto") -> str:
    if fmt != "auto":
        return fmt
    if path.is_dir():
        return "hf"
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DataError(
            f"cannot tell the format of {path} from its extension `{suffix}`; use .csv, .jsonl or "
            f".parquet, or set data.format to csv, jsonl, parquet or hf"
        )
    return FORMATS[suffix]


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(f"{path} line {number} is not valid JSON ({error.msg}); "
                                f"each line must be one JSON object") from None
            if not isinstance(row, dict):
                raise DataError(f"{path} line {number} is a {type(row).__name__}, not an object")
            rows.append(row)
    return rows


def _read_table(path: Path, fmt: str) -> list[dict]:
    import pandas as pd

    try:
        if fmt == "csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        else:
            frame = pd.read_parquet(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, OSError, ValueError) as error:
        raise DataError(f"cannot read {path} as {fmt}: {error}") from None
    return frame.to_dict(orient="records")


def _read_hf(path: str, split: str | None) -> list[dict]:
    import datasets

    try:
        loaded = (datasets.load_from_disk(path) if Path(path).exists()
                  else datasets.load_dataset(path, split=split))
    except Exception as error:  # datasets raises many types for a missing or offline name
        raise DataError(f"cannot load the Hugging Face dataset `{path}`: {error}") from None
    if isinstance(loaded, datasets.DatasetDict):
        if not split or split not in loaded:
            raise DataError(f"{path} holds splits {sorted(loaded)}; name one as {path}:SPLIT")
        loaded = loaded[split]
    return loaded.to_list()


def read_rows(path: str | Path, fmt: str = "auto") -> list[dict]:
    """All rows of a file (or HF dataset `name[:split]`), as dicts."""
    text = str(path)
    split = None
    if fmt in ("hf", "auto") and ":" in text and not Path(text).exists():
        head, tail = text.rsplit(":", 1)
        if fmt == "hf" or Path(head).is_dir():
            text, split = head, tail
    file = Path(text)
    if fmt != "hf" and not file.exists():
        raise DataError(f"data file {file} does not exist; check data.train_path / "
                        f"data.validation_path / data.test_path or the --input argument")
    kind = detect_format(file, fmt) if fmt != "hf" else "hf"
    if kind == "jsonl":
        rows = _read_jsonl(file)
    elif kind in ("csv", "parquet"):
        rows = _read_table(file, kind)
    else:
        rows = _read_hf(text, split)
    if not rows:
        raise DataError(f"{path} holds no rows; give a file with a header and at least one row")
    return rows


def reference_columns(row_keys: list[str], summary: str) -> list[str]:
    """The summary column, or summary1..summaryN for test sets with several references."""
    if summary in row_keys:
        return [summary]
    numbered = sorted((int(m.group(1)), k) for k in row_keys if (m := MULTI_REFERENCE.match(k)))
    return [k for _, k in numbered]


def normalise_rows(rows: list[dict], columns: Columns, source: str, need_summary: bool = True,
                   ) -> tuple[list[dict], int]:
    """Rows as {id, dialogue, references}; rows with an empty dialogue or summary are dropped.

    Returns the kept rows and how many were dropped.
    """
    keys = list(rows[0])
    if columns.dialogue not in keys:
        raise DataError(f"{source} has no `{columns.dialogue}` column (it has {', '.join(keys)}); "
                        f"set data.dialogue_column to the right name")
    refs = reference_columns(keys, columns.summary)
    if need_summary and not refs:
        raise DataError(f"{source} has no `{columns.summary}` column (it has {', '.join(keys)}); "
                        f"set data.summary_column to the right name")
    def cell(value) -> str:  # None, or NaN where pandas reads a missing value
        return "" if value is None or value != value else str(value).strip()

    kept, dropped = [], 0
    for position, row in enumerate(rows):
        dialogue = cell(row.get(columns.dialogue))
        references = [cell(row.get(c)) for c in refs]
        references = [r for r in references if r]
        if not dialogue or (need_summary and not references):
            dropped += 1
            continue
        identifier = cell(row.get(columns.id)) or f"row_{position}"
        kept.append({"id": identifier, "dialogue": dialogue, "references": references})
    if not kept:
        raise DataError(f"{source}: every row has an empty dialogue or summary; nothing to use")
    return kept, dropped
