"""ROUGE scoring: hand-checked values in English and Korean, tokenizers, options, parallelism."""

from __future__ import annotations

import random
import sys
from concurrent.futures import ProcessPoolExecutor

import pytest

from toolkit.errors import ToolkitError
from toolkit.evaluation import rouge
from toolkit.evaluation.rouge import compute_rouge, rouge_table, tokenize

# "the cat sat" vs "the cat sat down":
#   R1: 3 shared unigrams, P = 3/3, R = 3/4, F = 2PR/(P+R) = 1.5/1.75 = 6/7 = 0.857142...
#   R2: bigrams {the cat, cat sat} vs {the cat, cat sat, sat down}: P = 2/2, R = 2/3, F = 0.8
#   RL: LCS "the cat sat" = 3 tokens, same as R1: 6/7
THE_CAT_R1 = THE_CAT_RL = 6 / 7
THE_CAT_R2 = 0.8


def combined(r1: float, r2: float, rl: float) -> float:
    return 0.33 * r1 + 0.33 * r2 + 0.34 * rl


def assert_scores(metrics: dict[str, float], r1: float, r2: float, rl: float) -> None:
    assert metrics["rouge1_f1"] == pytest.approx(r1)
    assert metrics["rouge2_f1"] == pytest.approx(r2)
    assert metrics["rougeL_f1"] == pytest.approx(rl)
    assert metrics["rouge_combined_f1"] == pytest.approx(combined(r1, r2, rl))


@pytest.fixture(scope="module")
def kiwi_loaded() -> None:
    """Load Kiwi and its model once for the module (about 5 s with the first analysis)."""
    pytest.importorskip("kiwipiepy")
    tokenize(["가"], "kiwi")


def test_english_hand_values_and_corpus_mean():
    metrics = compute_rouge(["the cat sat", "a b c"], ["the cat sat down", "x y z"])
    # The second pair shares nothing (0 everywhere), so each corpus mean is half the first pair.
    assert_scores(metrics, THE_CAT_R1 / 2, THE_CAT_R2 / 2, THE_CAT_RL / 2)
    assert metrics["num_examples"] == 2.0
    # One pair alone: combined = 0.33 * 6/7 + 0.33 * 0.8 + 0.34 * 6/7 = 0.838285...
    single = compute_rouge(["the cat sat"], ["the cat sat down"], tokenizer="latin")
    assert single["rouge_combined_f1"] == pytest.approx(0.8382857142857143)


def test_korean_whitespace_hand_values():
    # Tokens: [철수는, 학교에, 갔다] vs [철수는, 오늘, 학교에, 갔다] (the final "." is stripped).
    #   R1: 3 shared, P = 1, R = 3/4, F = 6/7
    #   R2: {철수는 학교에, 학교에 갔다} vs {철수는 오늘, 오늘 학교에, 학교에 갔다}: 1 shared,
    #       P = 1/2, R = 1/3, F = 2 * (1/6) / (5/6) = 0.4
    #   RL: LCS [철수는, 학교에, 갔다] = 3, F = 6/7
    metrics = compute_rouge(["철수는 학교에 갔다."], ["철수는 오늘 학교에 갔다"], tokenizer="whitespace")
    assert_scores(metrics, 6 / 7, 0.4, 6 / 7)
    assert compute_rouge(["철수는 학교에 갔다."], ["철수는 오늘 학교에 갔다"]) == metrics


def test_latin_tokenizer_fails_korean_but_auto_does_not():
    # Identical Korean texts: latin drops every Hangul character and scores 0.
    same = ["철수는 학교에 갔다"]
    assert compute_rouge(same, same, tokenizer="latin")["rouge1_f1"] == 0.0
    assert_scores(compute_rouge(same, same), 1.0, 1.0, 1.0)
    # Different Korean texts: latin keeps only "person1 3 person2" on both sides, a false 1.0.
    # Whitespace tokens: [#person1#은, 3시에, #person2#를, 만났다]
    #               vs [#person1#는, 3시에, #person2#와, 헤어졌다]: only "3시에" is shared,
    #   R1 = 1/4, R2 = 0, RL = 1/4.
    pred, ref = ["#Person1#은 3시에 #Person2#를 만났다."], ["#Person1#는 3시에 #Person2#와 헤어졌다."]
    assert_scores(compute_rouge(pred, ref, tokenizer="latin"), 1.0, 1.0, 1.0)
    assert rouge.resolve_tokenizer(pred + ref) == "whitespace"
    assert_scores(compute_rouge(pred, ref), 0.25, 0.0, 0.25)


def test_auto_picks_latin_for_english():
    assert rouge.resolve_tokenizer(["#Person1# asks #Person2# about the party."]) == "latin"
    assert rouge.resolve_tokenizer(["12 34", ""]) == "whitespace"  # no letters at all


def test_whitespace_keeps_speaker_tags():
    text = "#Person1# asks #Person2#, 'why?' (#PhoneNumber#) ... #Person1#은 don't"
    assert tokenize([text], "whitespace") == [
        ["#person1#", "asks", "#person2#", "why", "#phonenumber#", "#person1#은", "don't"]
    ]
    # The tag is a whole token, so R1 = 2/3 (#person1#, leaves) rather than a match on "person1".
    metrics = compute_rouge(["#Person1# leaves early."], ["#Person1# leaves."], tokenizer="whitespace")
    # [#person1#, leaves, early] vs [#person1#, leaves]: R1 P = 2/3, R = 1, F = 0.8;
    # R2 {#person1# leaves, leaves early} vs {#person1# leaves}: P = 1/2, R = 1, F = 2/3; RL = 0.8.
    assert_scores(metrics, 0.8, 2 / 3, 0.8)


def test_multi_reference_mean_and_max():
    # Reference 1 "the cat sat down": R1 = 6/7, R2 = 0.8, RL = 6/7 (see THE_CAT_*).
    # Reference 2 "the cat": R1 P = 2/3, R = 1, F = 0.8; R2 {the cat}: P = 1/2, R = 1, F = 2/3;
    #   RL: LCS 2, F = 0.8.
    pred, refs = ["the cat sat"], [["the cat sat down", "the cat"]]
    mean = compute_rouge(pred, refs, multi_reference="mean")
    assert_scores(mean, (6 / 7 + 0.8) / 2, (0.8 + 2 / 3) / 2, (6 / 7 + 0.8) / 2)
    best = compute_rouge(pred, refs, multi_reference="max")
    assert_scores(best, 6 / 7, 0.8, 6 / 7)
    # One reference as a string or as a one-element list: the same numbers.
    assert compute_rouge(pred, ["the cat"]) == compute_rouge(pred, [["the cat"]])


def test_kiwi_keeps_tags_and_drops_punctuation(kiwi_loaded):
    tokens = tokenize(["#Person1#은 #Person2#에게 3시에 John한테 사과했다!"], "kiwi")[0]
    assert tokens[:4] == ["#person1#", "은", "#person2#", "에게"]
    assert "3" in tokens and "john" in tokens  # numbers (SN) and Latin words (SL) are kept
    assert "!" not in tokens and not any(token.startswith("#") and token.count("#") == 1
                                         for token in tokens)


def test_kiwi_rouge_hand_values(kiwi_loaded):
    # Kiwi: [#person1#, 은, 학교, 에, 가, 었, 다] vs [#person1#, 이, 학교, 에, 가, 었, 다] ("." dropped)
    #   R1: 6 of 7 shared, F = 6/7
    #   R2: 6 bigrams each; (#person1# 은) and (은 학교) vs (#person1# 이) and (이 학교) differ,
    #       4 shared, F = 4/6
    #   RL: LCS 6, F = 6/7
    # (The whitespace tokenizer would give R1 = 2/3: [#person1#은, 학교에, 갔다] vs [#person1#이, ...].)
    metrics = compute_rouge(["#Person1#은 학교에 갔다."], ["#Person1#이 학교에 갔다."], tokenizer="kiwi")
    assert_scores(metrics, 6 / 7, 4 / 6, 6 / 7)


def test_kiwi_missing_gives_install_hint(monkeypatch):
    monkeypatch.setattr(rouge, "_kiwi_instance", None)
    monkeypatch.setitem(sys.modules, "kiwipiepy", None)  # makes the import fail
    with pytest.raises(ToolkitError, match=r"pip install 'toolkit\[kiwi\]'"):
        compute_rouge(["가"], ["가"], tokenizer="kiwi")


def _generated_pairs(n: int) -> tuple[list[str], list[list[str]]]:
    rng = random.Random(0)
    words = ["#Person1#은", "#Person2#에게", "오늘", "내일", "회의를", "점심을", "같이", "먹자고",
             "제안한다", "거절한다", "3시에", "사무실에서", "만나기로", "했다", "the", "plan"]

    def sentence() -> str:
        return " ".join(rng.choices(words, k=rng.randint(4, 14)))

    return [sentence() for _ in range(n)], [[sentence(), sentence()] for _ in range(n)]


def test_parallel_equals_serial(monkeypatch):
    pools: list[int] = []

    class SpyPool(ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            pools.append(kwargs["max_workers"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(rouge, "ProcessPoolExecutor", SpyPool)
    predictions, references = _generated_pairs(3000)
    for multi_reference in ("mean", "max"):
        serial = compute_rouge(predictions, references, multi_reference=multi_reference)
        parallel = compute_rouge(predictions, references, multi_reference=multi_reference,
                                 num_workers=2)
        assert parallel == serial  # exactly, not approximately
        assert 0.0 < serial["rouge1_f1"] < 1.0
    assert pools == [2, 2]


def test_small_inputs_stay_serial(monkeypatch):
    monkeypatch.setattr(rouge, "ProcessPoolExecutor", None)  # would fail if a pool were started
    metrics = compute_rouge(["the cat sat"], ["the cat sat down"], num_workers=4)
    assert metrics["rouge1_f1"] == pytest.approx(6 / 7)


def test_empty_input_gives_zeros():
    assert compute_rouge([], []) == {"rouge1_f1": 0.0, "rouge2_f1": 0.0, "rougeL_f1": 0.0,
                                     "rouge_combined_f1": 0.0, "num_examples": 0.0}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tokenizer": "mecab"}, "auto, latin, whitespace, kiwi"),
        ({"multi_reference": "min"}, "mean, max"),
        ({"num_workers": 0}, "num_workers"),
        ({"references": ["a", "b"]}, "1 predictions and 2 references"),
        ({"references": [[]]}, "non-empty list of strings"),
        ({"references": [None]}, "non-empty list of strings"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    arguments = {"predictions": ["a"], "references": ["a"], **kwargs}
    with pytest.raises(ToolkitError, match=message):
        compute_rouge(**arguments)


def test_bad_option_raises_even_for_empty_input():
    with pytest.raises(ToolkitError, match="mean, max"):
        compute_rouge([], [], multi_reference="best")


def test_rouge_table():
    table = rouge_table({"rouge1_f1": 0.45678, "rouge2_f1": 0.2, "rougeL_f1": 0.4,
                         "rouge_combined_f1": 0.35, "num_examples": 12.0})
    assert table.splitlines() == [
        "metric      F1 x100",
        "ROUGE-1       45.68",
        "ROUGE-2       20.00",
        "ROUGE-L       40.00",
        "combined      35.00",
        "examples         12",
    ]
