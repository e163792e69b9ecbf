"""Readers, normalisation, the trained tokenizer, token features and their cache, collators and
the epoch batch sampler."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import pytest
from transformers import PreTrainedTokenizerBase

from toolkit.corpus import embedded_splits
from toolkit.data.collator import GenerationCollator, TrainCollator
from toolkit.data.features import IGNORE_INDEX, SEPARATOR, FeatureBuilder
from toolkit.data.preprocess import KNOWN_TAGS, find_tags, normalise
from toolkit.data.readers import Columns, reference_columns
from toolkit.data.sampler import EpochBatchSampler
from toolkit.data.splits import DialogueSplit, load_split
from toolkit.data.tokenizer_training import train_tokenizer
from toolkit.errors import DataError, ToolkitError
from toolkit.models.factory import build_tokenizer

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


# ---------------------------------------------------------------------- preprocessing
def test_normalise_whitespace_and_newlines() -> None:
    raw = " #Person1#:  안녕하세요\t 반가워요 \r\n\r\n#Person2#:\u3000네\\n \n#Person1#: 좋아요 \r"
    assert normalise(raw) == "#Person1#: 안녕하세요 반가워요\n#Person2#: 네\n#Person1#: 좋아요"
    assert normalise("  \n ") == ""


def test_find_tags_keeps_known_tags_first_then_new_ones_once() -> None:
    tags = find_tags(["#Person1#: #Account# 번호와 #Address#", "#Person9#: #Account# #1#"])
    assert tags[: len(KNOWN_TAGS)] == KNOWN_TAGS
    assert tags[len(KNOWN_TAGS):] == ["#Account#", "#Person9#"]


# ------------------------------------------------------------------------- tokenizer
@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    """Normalised embedded rows ({id, dialogue, references})."""
    rows = embedded_splits(64, 8, seed=0)["train"]
    return [{"id": r["fname"], "dialogue": normalise(r["dialogue"]),
             "references": [normalise(r["summary"])]} for r in rows]


def texts_of(rows: list[dict]) -> list[str]:
    return [r["dialogue"] for r in rows] + [r["references"][0] for r in rows]


@pytest.fixture(scope="module")
def tokenizers(corpus: list[dict]) -> dict[str, PreTrainedTokenizerBase]:
    texts = texts_of(corpus)
    return {family: build_tokenizer(None, texts, find_tags(texts), 300, "bpe", family)
            for family in ("seq2seq", "causal")}


def test_the_trained_tokenizer_round_trips_korean_and_keeps_tags_whole(
        corpus: list[dict]) -> None:
    texts = texts_of(corpus)
    tokenizer = train_tokenizer(texts, find_tags(texts), vocab_size=300)
    probes = ["#Person1#은 내일 오후 3시에 #Person2#와 만난다.",
              "#Person1#: 주소는 #Address#예요.\n#Person2#: 네, 알겠어요!", *texts]
    for text in probes:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text
    assert tokenizer.tokenize("#Person1#은")[:1] == ["#Person1#"]
    for tag in KNOWN_TAGS:
        assert len(tokenizer(tag, add_special_tokens=False)["input_ids"]) == 1, tag
    assert tokenizer(ROWS[0]["dialogue"])["input_ids"][0] != tokenizer.bos_token_id  # no template


def test_a_unigram_tokenizer_round_trips_too(corpus: list[dict]) -> None:
    texts = texts_of(corpus)
    tokenizer = train_tokenizer(texts, find_tags(texts), vocab_size=600, algorithm="unigram")
    for text in texts:
        assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text
    assert tokenizer.tokenize("#Person1#은")[:1] == ["#Person1#"]


def test_a_unigram_vocabulary_below_the_alphabet_is_a_clear_error(corpus: list[dict]) -> None:
    texts = texts_of(corpus)  # about 465 distinct characters
    with pytest.raises(ToolkitError, match="tokenizer.vocab_size"):
        train_tokenizer(texts, find_tags(texts), vocab_size=300, algorithm="unigram")


# -------------------------------------------------------------------------- features
def test_seq2seq_features_with_bos(tokenizers: dict, corpus: list[dict]) -> None:
    tokenizer = tokenizers["seq2seq"]
    features = FeatureBuilder(tokenizer, "seq2seq", 24, 8, add_bos=True).build(corpus, None)
    assert len(features) == len(corpus)
    for f in features:
        assert f["input_ids"][0] == tokenizer.bos_token_id
        assert f["input_ids"][-1] == f["labels"][-1] == tokenizer.eos_token_id
        assert f["prompt_length"] == f["length"] == len(f["input_ids"])
        assert len(f["input_ids"]) <= 24
        assert IGNORE_INDEX not in f["labels"]
    assert max(len(f["input_ids"]) for f in features) == 24  # the dialogues were truncated


def test_seq2seq_labels_respect_max_target_length(tokenizers: dict, corpus: list[dict]) -> None:
    tokenizer = tokenizers["seq2seq"]
    features = FeatureBuilder(tokenizer, "seq2seq", 24, 8, add_bos=True).build(corpus, None)
    assert max(len(f["labels"]) for f in features) == 8


def test_seq2seq_features_without_bos(tokenizers: dict, corpus: list[dict]) -> None:
    tokenizer = tokenizers["seq2seq"]
    features = FeatureBuilder(tokenizer, "seq2seq", 24, 8, add_bos=False).build(corpus, None)
    dialogue = tokenizer(corpus[0]["dialogue"], add_special_tokens=False)["input_ids"]
    summary = tokenizer(corpus[0]["references"][0], add_special_tokens=False)["input_ids"]
    assert features[0]["input_ids"] == dialogue[:23] + [tokenizer.eos_token_id]
    assert features[0]["labels"] == summary[:7] + [tokenizer.eos_token_id]


def test_causal_features(tokenizers: dict, corpus: list[dict]) -> None:
    tokenizer = tokenizers["causal"]
    sep = tokenizer.convert_tokens_to_ids(SEPARATOR)
    features = FeatureBuilder(tokenizer, "causal", 24, 8, add_bos=True).build(corpus, None)
    for f in features:
        ids, labels, prompt = f["input_ids"], f["labels"], f["prompt_length"]
        assert ids[0] == tokenizer.bos_token_id and ids[prompt - 1] == sep
        assert ids[-1] == tokenizer.eos_token_id
        assert labels[:prompt] == [IGNORE_INDEX] * prompt
        assert labels[prompt:] == ids[prompt:]
        assert prompt <= 24 and len(ids) - prompt <= 8 and f["length"] == len(ids)
    assert max(f["prompt_length"] for f in features) == 24
    dialogue = tokenizer(corpus[0]["dialogue"], add_special_tokens=False)["input_ids"]
    summary = tokenizer(corpus[0]["references"][0], add_special_tokens=False)["input_ids"]
    assert features[0]["input_ids"] == [tokenizer.bos_token_id, *dialogue[:22], sep,
                                        *summary[:7], tokenizer.eos_token_id]


def test_features_are_cached_on_disk(tokenizers: dict, corpus: list[dict],
                                     tmp_path: Path) -> None:
    tokenizer = tokenizers["seq2seq"]
    first = FeatureBuilder(tokenizer, "seq2seq", 24, 8, add_bos=True).build(corpus, tmp_path)
    [cached] = tmp_path.glob("features-*.arrow")
    written = cached.stat().st_mtime_ns
    again = FeatureBuilder(tokenizer, "seq2seq", 24, 8, add_bos=True).build(corpus, tmp_path)
    assert list(tmp_path.glob("features-*.arrow")) == [cached]
    assert cached.stat().st_mtime_ns == written
    assert [c["filename"] for c in again.cache_files] == [str(cached)]
    assert again["input_ids"] == first["input_ids"]
    for builder, rows in [(FeatureBuilder(tokenizer, "seq2seq", 32, 8, add_bos=True), corpus),
                          (FeatureBuilder(tokenizer, "seq2seq", 24, 8, add_bos=False), corpus),
                          (FeatureBuilder(tokenizer, "seq2seq", 24, 8, add_bos=True),
                           corpus[:-1])]:
        builder.build(rows, tmp_path)
    assert len(list(tmp_path.glob("features-*.arrow"))) == 4


# ------------------------------------------------------------------------- collators
def test_train_collator_pads_inputs_with_pad_and_labels_with_ignore() -> None:
    batch = TrainCollator(pad_token_id=3)([
        {"input_ids": [5, 6, 7], "labels": [8, 9]},
        {"input_ids": [5], "labels": [8, 9, 10]}])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [5, 3, 3]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[8, 9, IGNORE_INDEX], [8, 9, 10]]


@pytest.mark.parametrize(("left", "ids", "mask"), [
    (True, [[5, 6, 7], [3, 3, 5]], [[1, 1, 1], [0, 0, 1]]),
    (False, [[5, 6, 7], [5, 3, 3]], [[1, 1, 1], [1, 0, 0]]),
])
def test_generation_collator_keeps_the_prompt_and_pads_on_the_chosen_side(
        left: bool, ids: list, mask: list) -> None:
    batch = GenerationCollator(pad_token_id=3, left=left)([
        {"input_ids": [5, 6, 7, 20, 21], "prompt_length": 3},
        {"input_ids": [5, 22], "prompt_length": 1}])
    assert batch["input_ids"].tolist() == ids and batch["attention_mask"].tolist() == mask


# --------------------------------------------------------------------------- sampler
LENGTHS = np.random.default_rng(7).integers(5, 200, size=1000).tolist()


def epoch(sampler: EpochBatchSampler, number: int, start: int = 0) -> list[list[int]]:
    sampler.set_epoch(number, start_batch=start)
    return list(sampler)


def padding(lengths: list[int], batches: list[list[int]]) -> int:
    return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)


@pytest.mark.parametrize("grouped", [True, False])
def test_the_order_depends_only_on_seed_and_epoch(grouped: bool) -> None:
    def make(seed: int) -> EpochBatchSampler:
        return EpochBatchSampler(LENGTHS, 16, seed=seed, group_by_length=grouped)

    assert epoch(make(1), 0) == epoch(make(1), 0)
    assert epoch(make(1), 0) != epoch(make(1), 1)
    assert epoch(make(1), 0) != epoch(make(2), 0)
    batches = epoch(make(1), 3)
    assert sorted(i for b in batches for i in b) == list(range(len(LENGTHS)))
    assert sorted(map(len, batches))[1:] == [16] * (len(batches) - 1)  # one short batch


def test_without_shuffle_the_order_is_the_data_order() -> None:
    sampler = EpochBatchSampler(list(range(10)), 4, group_by_length=False, shuffle=False)
    assert epoch(sampler, 5) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_start_batch_skips_exactly() -> None:
    sampler = EpochBatchSampler(LENGTHS, 16, seed=3)
    full = epoch(sampler, 2)
    assert len(sampler) == len(full) == 63
    assert epoch(sampler, 2, start=5) == full[5:]
    assert len(sampler) == 58


def test_length_grouping_reduces_padding() -> None:
    grouped = epoch(EpochBatchSampler(LENGTHS, 16, seed=0, group_by_length=True), 0)
    shuffled = epoch(EpochBatchSampler(LENGTHS, 16, seed=0, group_by_length=False), 0)
    assert padding(LENGTHS, grouped) < padding(LENGTHS, shuffled) / 5


@pytest.mark.parametrize("grouped", [True, False])
def test_two_processes_see_the_global_batches_of_one(grouped: bool) -> None:
    single = EpochBatchSampler(LENGTHS, 16, seed=5, group_by_length=grouped)
    ranks = [EpochBatchSampler(LENGTHS, 8, num_processes=2, process_index=r, seed=5,
                               group_by_length=grouped) for r in range(2)]
    for number in (0, 1):
        one = epoch(single, number)
        zero, first = (epoch(rank, number) for rank in ranks)
        assert len(zero) == len(first) == len(one) == len(ranks[0])
        for whole, a, b in zip(one, zero, first):
            assert not set(a) & set(b)
            assert sorted(a + b) == sorted(whole)


@pytest.mark.parametrize("n", [49, 50, 51])
def test_an_odd_tail_gives_every_rank_a_batch(n: int) -> None:
    ranks = [EpochBatchSampler(LENGTHS[:n], 8, num_processes=2, process_index=r)
             for r in range(2)]
    zero, first = (epoch(rank, 0) for rank in ranks)
    assert len(zero) == len(first) == 4
    assert all(zero) and all(first)
    assert set(i for b in zero + first for i in b) == set(range(n))
