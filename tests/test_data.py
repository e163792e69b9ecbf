"""Normalisation, the trained tokenizer, token features and their cache, collators and the
epoch batch sampler (the readers are tested in test_readers.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from transformers import PreTrainedTokenizerBase

from toolkit.corpus import embedded_splits
from toolkit.data.collator import GenerationCollator, TrainCollator
from toolkit.data.features import IGNORE_INDEX, SEPARATOR, FeatureBuilder
from toolkit.data.preprocess import KNOWN_TAGS, find_tags, normalise
from toolkit.data.sampler import EpochBatchSampler
from toolkit.errors import ToolkitError
from toolkit.models.factory import build_tokenizer
from toolkit.models.tokenizer_training import train_tokenizer


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
    assert tokenizer(probes[1])["input_ids"][0] != tokenizer.bos_token_id  # no template


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
