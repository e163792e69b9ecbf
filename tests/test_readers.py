"""Readers: every format, the checks that turn rows into {id, dialogue, references} (columns,
types, missing values, duplicate ids), text encodings, and unlabeled test splits."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import datasets
import pandas as pd
import pytest

from toolkit.data.readers import Columns, reference_columns
from toolkit.data.splits import DialogueSplit, load_split
from toolkit.errors import DataError

ROWS = [
    {"fname": "train_0", "dialogue": "#Person1#: 안녕하세요.\n#Person2#: 네, 반가워요.",
     "summary": "#Person1#과 #Person2#가 인사한다."},
    {"fname": "train_1", "dialogue": "#Person1#: 내일 3시에 만나요.\n#Person2#: 좋아요.",
     "summary": "두 사람은 내일 3시에 만나기로 한다."},
]


def write_rows(path: Path, rows: list[dict]) -> Path:
    """`rows` in the format `path`'s suffix names (a directory: a saved HF dataset)."""
    if path.suffix == ".csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    elif path.suffix == ".parquet":
        pd.DataFrame(rows).to_parquet(path)
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                        encoding="utf-8")
    else:
        datasets.Dataset.from_list(rows).save_to_disk(str(path))
    return path


def split_of(path: Path | str, fmt: str = "auto", need_summary: bool = True) -> DialogueSplit:
    return load_split("train", str(path), fmt, Columns(), need_summary=need_summary)


def data_error(path: Path | str, fmt: str = "auto", **columns: str) -> str:
    with pytest.raises(DataError) as caught:
        load_split("train", str(path), fmt, Columns(**columns))
    return str(caught.value)


# ---------------------------------------------------------------------------- readers
@pytest.mark.parametrize("name", ["train.csv", "train.jsonl", "train.parquet", "train_hf"])
def test_every_format_reads_the_same_rows(tmp_path: Path, name: str) -> None:
    split = split_of(write_rows(tmp_path / name, ROWS))
    assert split.rows == [{"id": r["fname"], "dialogue": r["dialogue"],
                           "references": [r["summary"]]} for r in ROWS]
    assert split.dropped == 0 and split.source == str(tmp_path / name)


def test_a_dataset_dict_split_is_named_after_a_colon(tmp_path: Path) -> None:
    path = tmp_path / "dialogsum"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS)}).save_to_disk(str(path))
    assert "name one as" in data_error(path)
    assert len(split_of(f"{path}:train", fmt="hf")) == 2


def test_the_split_advice_works_with_the_default_format(tmp_path: Path) -> None:
    path = tmp_path / "dialogsum"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS)}).save_to_disk(str(path))
    assert len(split_of(f"{path}:train")) == 2


def test_a_missing_file_names_the_keys_to_check(tmp_path: Path) -> None:
    message = data_error(tmp_path / "train.csv")
    assert "does not exist" in message and "data.train_path" in message


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("train.csv", "", "cannot read"),
    ("train.csv", "fname,dialogue,summary\n", "holds no rows"),
    ("train.jsonl", "\n\n", "holds no rows"),
    ("train.txt", "fname,dialogue\n", "set data.format"),
])
def test_empty_or_unknown_files_are_data_errors(tmp_path: Path, name: str, content: str,
                                                expected: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert expected in data_error(path)


@pytest.mark.parametrize(("column", "key"), [("dialogue", "data.dialogue_column"),
                                             ("summary", "data.summary_column")])
def test_a_missing_column_names_it_and_the_key_to_set(tmp_path: Path, column: str,
                                                      key: str) -> None:
    rows = [{k: v for k, v in r.items() if k != column} for r in ROWS]
    message = data_error(write_rows(tmp_path / "train.csv", rows))
    assert f"no `{column}` column" in message and key in message


def test_renamed_columns_are_read(tmp_path: Path) -> None:
    rows = [{"id": r["fname"], "text": r["dialogue"], "target": r["summary"]} for r in ROWS]
    path = write_rows(tmp_path / "train.csv", rows)
    split = load_split("train", str(path), "auto", Columns("id", "text", "target"))
    assert [r["id"] for r in split.rows] == ["train_0", "train_1"]


def test_a_malformed_jsonl_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n\n{\"dialogue\": oops}\n", encoding="utf-8")
    message = data_error(path)
    assert "line 3 is not valid JSON" in message
    path.write_text(json.dumps(ROWS[0]) + "\n[1, 2]\n", encoding="utf-8")
    assert "line 2 is a list, not an object" in data_error(path)


@pytest.mark.parametrize("name", ["train.csv", "train.jsonl", "train.parquet"])
def test_rows_with_an_empty_dialogue_or_summary_are_dropped_and_counted(
        tmp_path: Path, name: str) -> None:
    rows = [*ROWS, {"fname": "x", "dialogue": "  ", "summary": "s"},
            {"fname": "y", "dialogue": "#Person1#: 네.", "summary": None},
            {"fname": "z", "dialogue": None, "summary": "s"}]
    split = split_of(write_rows(tmp_path / name, rows))
    assert [r["id"] for r in split.rows] == ["train_0", "train_1"]
    assert split.dropped == 3


def test_every_row_empty_is_an_error(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "train.csv", [{"fname": "x", "dialogue": "", "summary": "s"}])
    assert "every row has an empty dialogue or summary" in data_error(path)


def test_a_test_set_without_summaries_is_read_when_none_are_needed(tmp_path: Path) -> None:
    rows = [{"fname": r["fname"], "dialogue": r["dialogue"]} for r in ROWS]
    split = split_of(write_rows(tmp_path / "test.csv", rows), need_summary=False)
    assert [r["references"] for r in split.rows] == [[], []]


def test_multi_reference_columns(tmp_path: Path) -> None:
    rows = [{"fname": "t0", "dialogue": "#Person1#: 네.", "summary1": "가", "summary2": "",
             "summary3": "다"},
            {"fname": "t1", "dialogue": "#Person1#: 아니요.", "summary1": "라", "summary2": "마",
             "summary3": "바"}]
    split = split_of(write_rows(tmp_path / "test.csv", rows))
    assert split.references == [["가", "다"], ["라", "마", "바"]]
    assert reference_columns(["summary10", "summary2", "summary1"], "summary") == [
        "summary1", "summary2", "summary10"]
    assert reference_columns(["summary", "summary1"], "summary") == ["summary"]


def test_load_split_normalises_and_limits(tmp_path: Path) -> None:
    rows = [{**ROWS[0], "dialogue": "#Person1#:  안녕\\n\\n#Person2#: 네 "}, ROWS[1]]
    split = load_split("train", str(write_rows(tmp_path / "train.csv", rows)), "auto",
                       Columns(), limit=1)
    assert split.dialogues == ["#Person1#: 안녕\n#Person2#: 네"]


def test_the_embedded_corpus_is_a_split() -> None:
    split = load_split("validation", "embedded", "auto", Columns(), embedded_sizes=(8, 4))
    assert len(split) == 4 and split.source == "embedded corpus (validation)"
    assert all(len(refs) == 1 for refs in split.references)


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def toolkit_log() -> Iterator[list[str]]:
    """Messages the `toolkit` logger emits at INFO and above (whatever its propagation)."""
    handler, logger = Collect(), logging.getLogger("toolkit")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.messages
    logger.removeHandler(handler)
    logger.setLevel(level)


def rows_with(**cells: list) -> list[dict]:
    """One row per position of the given equal-length columns."""
    return [dict(zip(cells, values)) for values in zip(*cells.values())]


# ---------------------------------------------------------------------- duplicate ids
DUPLICATED = rows_with(fname=["a", "b", "a", "c", "b", "a"],
                       dialogue=[f"#Person1#: 문장 {i}" for i in range(6)],
                       summary=[f"요약 {i}" for i in range(6)])


def test_duplicate_ids_in_a_test_split_are_an_error_naming_the_count_and_the_first(
        tmp_path: Path) -> None:
    path = write_rows(tmp_path / "test.csv", DUPLICATED)
    with pytest.raises(DataError) as caught:
        load_split("test", str(path), "auto", Columns())
    message = str(caught.value)
    assert "3 row(s) whose `fname` repeats" in message and "first: a, b" in message
    assert "must be unique" in message and "data.id_column" in message


def test_a_file_to_predict_for_with_duplicate_ids_is_an_error(tmp_path: Path) -> None:
    from toolkit.evaluation.predict import read_dialogues

    rows = [{k: v for k, v in row.items() if k != "summary"} for row in DUPLICATED]
    with pytest.raises(DataError, match=r"3 row\(s\) whose `fname` repeats.*first: a, b"):
        read_dialogues(write_rows(tmp_path / "test.csv", rows), Columns())


@pytest.mark.parametrize("name", ["train", "validation"])
def test_duplicate_ids_in_training_data_are_a_warning_with_the_count(
        tmp_path: Path, toolkit_log: list[str], name: str) -> None:
    split = load_split(name, str(write_rows(tmp_path / "train.csv", DUPLICATED)), "auto",
                       Columns())
    assert len(split) == 6
    [warning] = [m for m in toolkit_log if "row(s) repeat" in m]
    assert "3 row(s) repeat an earlier row's `fname` (first: a, b)" in warning


# ------------------------------------------------------------------ wrong column types
@pytest.mark.parametrize(("name", "column", "values", "kind"), [
    ("train.jsonl", "dialogue", [42, "#Person1#: 네."], "a number"),
    ("train.jsonl", "summary", ["요약", True], "a boolean"),
    ("train.jsonl", "summary", [["가", "나"], "요약"], "a list"),
    ("train.jsonl", "dialogue", [{"text": "네"}, "#Person1#: 네."], "an object"),
    ("train.jsonl", "fname", [1.5, "b"], "a number"),
    ("train.parquet", "summary", [1.5, 2.0], "a number"),
    ("train.parquet", "summary", [True, False], "a boolean"),
    ("train.parquet", "dialogue", [b"\xec\x95\x88", b"\xeb\x84\xa4"], "bytes"),
    ("train.parquet", "summary", [["가"], ["나", "다"]], "a list"),
])
def test_a_column_of_another_type_than_text_is_an_error_naming_it(
        tmp_path: Path, name: str, column: str, values: list, kind: str) -> None:
    rows = [dict(row, **{column: value}) for row, value in zip(ROWS, values)]
    message = data_error(write_rows(tmp_path / name, rows))
    assert f"column `{column}` holds {kind} in row" in message
    assert "where text is expected" in message and "Store the column as text" in message
    key = {"fname": "data.id_column", "dialogue": "data.dialogue_column"}.get(
        column, "data.summary_column")
    assert key in message


def test_integer_ids_are_read_as_text(tmp_path: Path) -> None:
    rows = [dict(row, fname=number) for number, row in enumerate(ROWS)]
    assert [r["id"] for r in split_of(write_rows(tmp_path / "train.jsonl", rows)).rows] == [
        "0", "1"]


# ------------------------------------------------------------- NaN / NA / null as text
@pytest.mark.parametrize("name", ["train.csv", "train.jsonl"])
def test_references_spelled_nan_na_or_null_are_missing_with_a_warning(
        tmp_path: Path, toolkit_log: list[str], name: str) -> None:
    rows = [*ROWS, *rows_with(fname=["x", "y", "z", "w"], dialogue=["#Person1#: 네."] * 4,
                              summary=["NaN", "NA", " null ", ""])]
    split = split_of(write_rows(tmp_path / name, rows))
    assert [r["id"] for r in split.rows] == ["train_0", "train_1"] and split.dropped == 4
    [warning] = [m for m in toolkit_log if "cell(s) spelled" in m]
    assert "3 cell(s) spelled NaN, NA, null or None (`summary`: 3) are read as missing" in warning
    assert any("dropped 4 row(s) with an empty dialogue or summary" in m for m in toolkit_log)


def test_a_nan_reference_among_several_is_left_out(tmp_path: Path) -> None:
    rows = rows_with(fname=["t0"], dialogue=["#Person1#: 네."], summary1=["가"],
                     summary2=["NaN"], summary3=["다"])
    split = load_split("test", str(write_rows(tmp_path / "test.csv", rows)), "auto", Columns())
    assert split.references == [["가", "다"]]


# ------------------------------------------------------------------------ encodings
KOREAN = rows_with(fname=["train_0", "train_1"],
                   dialogue=["#Person1#: 안녕하세요, 내일 3시에 만나요.\n#Person2#: 좋아요.",
                             "#Person1#: 똠방각하라는 책 읽어 봤어요?\n#Person2#: 아니요."],
                   summary=["두 사람은 내일 3시에 만나기로 한다.", "#Person1#은 책을 묻는다."])


def write_encoded(path: Path, rows: list[dict], encoding: str) -> Path:
    """`rows` as CSV or JSONL text in `encoding` (real bytes of that encoding)."""
    if path.suffix == ".csv":
        text = pd.DataFrame(rows).to_csv(index=False)
    else:
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    path.write_bytes(text.encode(encoding))
    return path


def test_korean_test_data_tells_cp949_from_euc_kr() -> None:
    """똠 has two bytes of its own in CP949 that are not EUC-KR; the first row is in both."""
    with pytest.raises(UnicodeDecodeError):
        KOREAN[1]["dialogue"].encode("cp949").decode("euc-kr")
    assert KOREAN[0]["dialogue"].encode("cp949") == KOREAN[0]["dialogue"].encode("euc-kr")


@pytest.mark.parametrize("name", ["train.csv", "train.jsonl"])
@pytest.mark.parametrize(("encoding", "rows", "logged"), [
    ("utf-8", KOREAN, None), ("utf-8-sig", KOREAN, None),
    ("cp949", KOREAN, "read it as CP949"), ("euc-kr", KOREAN, "read it as EUC-KR"),
])
def test_auto_reads_utf8_with_or_without_bom_and_falls_back_to_cp949_or_euc_kr(
        tmp_path: Path, toolkit_log: list[str], name: str, encoding: str, rows: list[dict],
        logged: str | None) -> None:
    path = write_encoded(tmp_path / name, rows, encoding)
    split = split_of(path)
    assert [r["id"] for r in split.rows] == [r["fname"] for r in rows]  # no BOM in `fname`
    assert split.dialogues == [r["dialogue"] for r in rows]
    assert split.references == [[r["summary"]] for r in rows]
    notes = [m for m in toolkit_log if "is not UTF-8" in m]
    if logged is None:
        assert notes == []
    else:
        assert notes == [f"{path} is not UTF-8; {logged} (set data.encoding to choose)"]


def test_an_explicit_encoding_is_honoured(tmp_path: Path) -> None:
    path = write_encoded(tmp_path / "train.csv", KOREAN, "utf-16")
    split = load_split("train", str(path), "auto", Columns(), encoding="utf-16")
    assert split.dialogues == [r["dialogue"] for r in KOREAN]


@pytest.mark.parametrize(("encoding", "chosen", "fix"), [
    ("utf-16", "auto", "set data.encoding=utf_16"),
    ("cp949", "euc-kr", "set data.encoding=cp949"),
    ("cp949", "utf-8", "set data.encoding=cp949"),
    ("utf-8", "ascii", "set data.encoding=auto, which reads UTF-8"),
])
def test_a_file_in_another_encoding_names_the_likely_one_and_the_key(
        tmp_path: Path, encoding: str, chosen: str, fix: str) -> None:
    path = write_encoded(tmp_path / "train.csv", KOREAN, encoding)
    with pytest.raises(DataError) as caught:
        load_split("train", str(path), "auto", Columns(), encoding=chosen)
    message = str(caught.value)
    assert f"is not {'UTF-8 or CP949/EUC-KR' if chosen == 'auto' else chosen} text" in message
    assert fix in message


@pytest.mark.parametrize(("encoding", "dialogue", "looks_like"), [
    ("shift_jis", "#Person1#: こんにちは、明日また会いましょう。", "cp932"),
    ("gb18030", "#Person1#: 你好，我们明天一起去吃饭吧。", "gb18030"),
])
def test_other_cjk_encodings_are_not_taken_for_korean(
        tmp_path: Path, encoding: str, dialogue: str, looks_like: str) -> None:
    """CP949 decodes both without an error, into Hangul and Hanja that mean nothing."""
    rows = rows_with(fname=["c0"], dialogue=[dialogue], summary=["二人"])
    path = write_encoded(tmp_path / "train.csv", rows, encoding)
    path.read_bytes().decode("cp949")
    message = data_error(path)
    assert "is not UTF-8 or CP949/EUC-KR text" in message
    assert f"set data.encoding={looks_like}" in message


def test_an_unknown_encoding_name_is_a_data_error(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "train.csv", ROWS)
    with pytest.raises(DataError, match=r"data.encoding=klingon is not an encoding.*cp949"):
        load_split("train", str(path), "auto", Columns(), encoding="klingon")


# ------------------------------------------------------------------ unlabeled test splits
UNLABELED = [{"fname": r["fname"], "dialogue": r["dialogue"]} for r in ROWS]


@pytest.mark.parametrize("name", ["test.csv", "test.jsonl", "test.parquet"])
def test_an_unlabeled_test_split_has_empty_references(tmp_path: Path, name: str) -> None:
    split = load_split("test", str(write_rows(tmp_path / name, UNLABELED)), "auto", Columns())
    assert split.rows == [{"id": r["fname"], "dialogue": r["dialogue"], "references": []}
                          for r in ROWS]
    assert not split.labeled


def test_a_labeled_test_split_keeps_its_references(tmp_path: Path) -> None:
    split = load_split("test", str(write_rows(tmp_path / "test.csv", ROWS)), "auto", Columns())
    assert split.labeled and split.references == [[r["summary"]] for r in ROWS]


@pytest.mark.parametrize("name", ["train", "validation"])
def test_train_and_validation_still_need_the_summary_column(tmp_path: Path, name: str) -> None:
    path = write_rows(tmp_path / "test.csv", UNLABELED)
    with pytest.raises(DataError) as caught:
        load_split(name, str(path), "auto", Columns())
    assert "has no `summary` column" in str(caught.value)
    assert "set data.summary_column" in str(caught.value)


# ---------------------------------------------------------- through the trainer's config
@pytest.mark.slow
def test_the_trainer_honours_data_encoding_and_reads_an_unlabeled_test_file(
        tmp_path: Path, cache_dir: Path) -> None:
    from tests.helpers import ROOT, tiny_overrides
    from toolkit import create_trainer
    from toolkit.corpus import embedded_splits

    rows = embedded_splits(48, 4, seed=5)
    train = write_encoded(tmp_path / "train.csv", [*rows["train"], *KOREAN], "cp949")
    test = write_rows(tmp_path / "test.csv", [{"fname": r["fname"], "dialogue": r["dialogue"]}
                                              for r in rows["test"]])
    paths = {"data.train_path": train, "data.validation_path": "null", "data.test_path": test}

    def trainer(encoding: str):
        overrides = tiny_overrides(tmp_path, cache_dir, data__encoding=encoding)
        return create_trainer(str(ROOT / "config" / "base_config.yaml"),
                              overrides=[*overrides, *(f"{k}={v}" for k, v in paths.items())])

    with pytest.raises(DataError, match="is not utf-8 text.*set data.encoding=cp949"):
        trainer("utf-8").prepare_data()
    splits = trainer("auto").prepare_data()
    assert len(splits["train"]) == 50 and splits["train"].dialogues[-1] == KOREAN[1]["dialogue"]
    assert [r["id"] for r in splits["test"].rows] == [r["fname"] for r in rows["test"]]
    assert not splits["test"].labeled and len(splits["test"].features) == 4
