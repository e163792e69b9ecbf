"""Readers: CSV, JSONL, Parquet and Hugging Face datasets into a list of row dicts, and the
checks that turn those rows into {id, dialogue, references}."""

from __future__ import annotations

import io
import json
import logging
import math
import numbers
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.data.encoding import AUTO, read_text
from toolkit.errors import DataError

logger = logging.getLogger("toolkit")

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
MULTI_REFERENCE = re.compile(r"^summary(\d+)$")
# Text that spreadsheets, pandas and str(None) write for a missing value (compared casefolded);
# read as missing, with a warning.
MISSING_MARKERS = frozenset({"nan", "na", "n/a", "null", "none"})
SHOWN_DUPLICATES = 5


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


def _read_jsonl(path: Path, encoding: str) -> list[dict]:
    rows = []
    for number, line in enumerate(read_text(path, encoding).split("\n"), start=1):
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


def _read_table(path: Path, fmt: str, encoding: str) -> list[dict]:
    import pandas as pd

    try:
        if fmt == "csv":
            frame = pd.read_csv(io.StringIO(read_text(path, encoding)), dtype=str,
                                keep_default_na=False)
        else:
            frame = pd.read_parquet(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, OSError, ValueError) as error:
        raise DataError(f"cannot read {path} as {fmt}: {error}") from None
    # One spelling of a missing value (None) whatever the column's dtype (NaN, NA, NaT).
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


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


def read_rows(path: str | Path, fmt: str = "auto", encoding: str = AUTO) -> list[dict]:
    """All rows of a file (or HF dataset `name[:split]`), as dicts; CSV and JSONL text is
    decoded as ``encoding`` says (see toolkit.data.encoding)."""
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
        rows = _read_jsonl(file, encoding)
    elif kind in ("csv", "parquet"):
        rows = _read_table(file, kind, encoding)
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


def _is_bool(value: Any) -> bool:
    return type(value).__name__ in ("bool", "bool_")  # Python's or NumPy's


def _kind_of(value: Any) -> str:
    """What a non-text cell holds, in words."""
    if _is_bool(value):
        return "a boolean"
    if isinstance(value, numbers.Number):
        return "a number"
    if isinstance(value, (bytes, bytearray)):
        return "bytes"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)) or hasattr(value, "__array__"):
        return "a list"
    return f"a {type(value).__name__}"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class _Cells:
    """Reads the text cells of a file's rows: missing values as "", anything but text (or an
    integer id) a DataError naming the column, the spelled-out missing markers counted."""

    def __init__(self, source: str, columns: Columns) -> None:
        self.source = source
        self.keys = {columns.id: "data.id_column", columns.dialogue: "data.dialogue_column"}
        self.id = columns.id
        self.markers: Counter[str] = Counter()

    def text(self, row: dict, column: str, position: int) -> str:
        value = row.get(column)
        if _missing(value):
            return ""
        if column == self.id and isinstance(value, numbers.Integral) and not _is_bool(value):
            return str(value)
        if not isinstance(value, str):
            shown = repr(value)
            shown = shown if len(shown) <= 40 else f"{shown[:37]}..."
            raise DataError(
                f"{self.source}: column `{column}` holds {_kind_of(value)} in row {position + 1} "
                f"({shown}) where text is expected; values are not turned into text silently. "
                f"Store the column as text (quote the values in JSONL, cast the column to string "
                f"in parquet) or set {self.keys.get(column, 'data.summary_column')} to the column "
                f"that holds the text")
        value = value.strip()
        if column != self.id and value.casefold() in MISSING_MARKERS:
            self.markers[column] += 1
            return ""
        return value

    def warn_markers(self) -> None:
        if self.markers:
            counts = ", ".join(f"`{column}`: {n}" for column, n in self.markers.items())
            logger.warning("%s: %d cell(s) spelled NaN, NA, null or None (%s) are read as "
                           "missing",
                           self.source, sum(self.markers.values()), counts)


def check_unique_ids(ids: list[str], source: str, column: str, required: bool) -> None:
    """Duplicate ids: a DataError when ``required`` (a file to predict for, where each id is one
    submission row), else a warning with the count."""
    counts = Counter(ids)
    repeated = [identifier for identifier, n in counts.items() if n > 1]
    if not repeated:
        return
    extra = sum(counts[identifier] - 1 for identifier in repeated)
    shown = ", ".join(repeated[:SHOWN_DUPLICATES])
    if len(repeated) > SHOWN_DUPLICATES:
        shown += ", ..."
    if required:
        raise DataError(
            f"{source} has {extra} row(s) whose `{column}` repeats an earlier row's ({len(repeated)} "
            f"value(s) repeated, first: {shown}); predictions are written one row per `{column}`, "
            f"so each must be unique: remove or rename the duplicates, or set data.id_column "
            f"(--id-column for toolkit predict) to the column that identifies the rows")
    logger.warning("%s: %d row(s) repeat an earlier row's `%s` (first: %s); every row is kept",
                   source, extra, column, shown)


def normalise_rows(rows: list[dict], columns: Columns, source: str, need_summary: bool = True,
                   unique_ids: bool | None = None) -> tuple[list[dict], int]:
    """Rows as {id, dialogue, references}; rows with an empty dialogue (or, when
    ``need_summary``, no reference) are dropped. Cells spelled NaN/NA/null/None are missing (with a
    warning); a cell of another type than text is a DataError. Duplicate ids are an error when
    ``unique_ids`` (default: when no summary is needed, i.e. a file to predict for), else a
    warning.

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
    cells = _Cells(source, columns)
    kept, dropped, ids = [], 0, []
    for position, row in enumerate(rows):
        identifier = cells.text(row, columns.id, position)
        dialogue = cells.text(row, columns.dialogue, position)
        references = [r for c in refs if (r := cells.text(row, c, position))]
        if identifier:
            ids.append(identifier)
        if not dialogue or (need_summary and not references):
            dropped += 1
            continue
        kept.append({"id": identifier or f"row_{position}", "dialogue": dialogue,
                     "references": references})
    cells.warn_markers()
    check_unique_ids(ids, source, columns.id, not need_summary if unique_ids is None else unique_ids)
    if not kept:
        raise DataError(f"{source}: every row has an empty dialogue or summary; nothing to use")
    return kept, dropped
