"""Tests for the embedded synthetic dialogue-summarization corpus."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.corpus import embedded_splits, generate_dialogues
from toolkit.corpus.grammar import josa

_TURN = re.compile(r"^#Person\d#: .+")
_SPEAKER = re.compile(r"#Person\d#")
_MASKS = ("#PhoneNumber#", "#Address#", "#DateOfBirth#", "#Email#")
# Particles and copula endings stripped from summary tokens, longest first.
_SUFFIXES = sorted(
    (
        "으로",
        "로",
        "에게",
        "에서",
        "에는",
        "까지",
        "이라",
        "라",
        "과",
        "와",
        "을",
        "를",
        "은",
        "는",
        "이",
        "가",
        "에",
        "씩",
        "도",
        "이다",
    ),
    key=len,
    reverse=True,
)


def _strip(token: str) -> str:
    token = token.strip(".,")
    for suffix in _SUFFIXES:
        if token.endswith(suffix) and len(token) > len(suffix):
            return token[: -len(suffix)]
    return token


# SHA-256 of each split's rows as JSON (key order kept), taken from the corpus before it moved
# into its own package: the generated data may not change by a byte.
DIGESTS = {
    (3000, 200, 0): {
        "train": "60e43fc18646837473020e361c6c10492c942394d37ef27c5ed76d4aae577419",
        "validation": "eb21a2e774c2db8b231179c59de7dd44e35adcf4a5717a104928665572cbf3ff",
        "test": "461fa3a274ab7c33b718f8b2c8f637efa26ab4e1f738db694068927de410ab71",
    },
    (600, 100, 3): {
        "train": "fae2aa2bebb5dceeaebb04850ac1687342a650a1bcb7eaa89d39cb3777f30b2d",
        "validation": "b087a03d03c149a3fef063449f0964be1fbd4096ae3d9c7770a99c62cb757582",
        "test": "94666acb9e98f2d8861996b178c170ab31f39f09b13d96232993e2aa2e518b90",
    },
}


def digests(splits: dict[str, list[dict[str, str]]]) -> dict[str, str]:
    return {name: hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()
            for name, rows in splits.items()}


@pytest.fixture(scope="module")
def default_splits() -> dict[str, list[dict[str, str]]]:
    return embedded_splits()


@pytest.fixture(scope="module")
def rows(default_splits: dict[str, list[dict[str, str]]]) -> list[dict[str, str]]:
    return default_splits["train"]


@pytest.fixture(scope="module")
def splits() -> dict[str, list[dict[str, str]]]:
    return embedded_splits(train_size=600, eval_size=100, seed=3)


def test_deterministic_for_seed() -> None:
    assert generate_dialogues(50, seed=7) == generate_dialogues(50, seed=7)
    assert generate_dialogues(50, seed=7) != generate_dialogues(50, seed=8)


def test_deterministic_across_processes() -> None:
    code = (
        "from toolkit.corpus import embedded_splits;"
        "s = embedded_splits(30, 5, seed=1);"
        "print(repr([r['dialogue'] + r['summary'] for v in s.values() for r in v]))"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[1],
            env={**os.environ, "PYTHONHASHSEED": str(hash_seed)},
        ).stdout
        for hash_seed in (1, 2)
    ]
    assert runs[0] == runs[1]
    local = embedded_splits(30, 5, seed=1)
    assert runs[0].strip() == repr(
        [r["dialogue"] + r["summary"] for v in local.values() for r in v]
    )


def test_row_schema_and_fnames(rows: list[dict[str, str]]) -> None:
    assert len(rows) == 3000
    assert [row["fname"] for row in rows] == [f"train_{i}" for i in range(3000)]
    assert all(set(row) == {"fname", "dialogue", "summary", "topic"} for row in rows)
    assert generate_dialogues(3, seed=0, prefix="x")[2]["fname"] == "x_2"


def test_splits_sizes_prefixes_and_disjoint(splits: dict[str, list[dict[str, str]]]) -> None:
    assert list(splits) == ["train", "validation", "test"]
    for name, prefix, size in (
        ("train", "train", 600),
        ("validation", "dev", 100),
        ("test", "test", 100),
    ):
        assert [row["fname"] for row in splits[name]] == [f"{prefix}_{i}" for i in range(size)]
    train, dev, test = ({row["dialogue"] for row in split} for split in splits.values())
    assert not train & dev and not train & test and not dev & test
    assert splits["train"] == generate_dialogues(600, seed=3)


def test_default_splits(default_splits: dict[str, list[dict[str, str]]]) -> None:
    assert [len(rows) for rows in default_splits.values()] == [3000, 200, 200]
    assert default_splits["train"] == generate_dialogues(3000, seed=0)


def test_the_default_splits_are_pinned_byte_for_byte(
    default_splits: dict[str, list[dict[str, str]]],
) -> None:
    assert digests(default_splits) == DIGESTS[(3000, 200, 0)]


def test_another_seed_is_pinned_byte_for_byte(splits: dict[str, list[dict[str, str]]]) -> None:
    assert digests(splits) == DIGESTS[(600, 100, 3)]


def test_dialogue_format(rows: list[dict[str, str]]) -> None:
    for row in rows:
        lines = row["dialogue"].split("\n")
        assert 4 <= len(lines) <= 10, row["dialogue"]
        assert all(_TURN.match(line) for line in lines), row["dialogue"]
        assert lines[0].startswith("#Person1#: ")
    assert any("#Person3#" in row["dialogue"] for row in rows)


def test_unique_dialogues_and_moderate_lengths(rows: list[dict[str, str]]) -> None:
    assert len({row["dialogue"] for row in rows}) == len(rows)
    dialogue_lengths = [len(row["dialogue"].split()) for row in rows]
    summary_lengths = [len(row["summary"].split()) for row in rows]
    assert 35 <= sum(dialogue_lengths) / len(rows) <= 120 and max(dialogue_lengths) <= 150
    assert 8 <= sum(summary_lengths) / len(rows) <= 25 and max(summary_lengths) <= 30


def test_summaries_refer_to_speakers(rows: list[dict[str, str]]) -> None:
    for row in rows:
        assert row["summary"].strip()
        tags = _SPEAKER.findall(row["summary"])
        assert tags, row["summary"]
        assert all(tag in row["dialogue"] for tag in tags), row


def test_masked_entities_present(rows: list[dict[str, str]]) -> None:
    for mask in _MASKS:
        assert sum(mask in row["dialogue"] for row in rows) >= 30, mask


def test_topics(rows: list[dict[str, str]]) -> None:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["topic"]] = counts.get(row["topic"], 0) + 1
    assert len(counts) >= 12
    assert min(counts.values()) >= 100


def test_slot_values_are_copied_from_dialogue(rows: list[dict[str, str]]) -> None:
    """Numbers, times, dates and prices in a summary all appear in its dialogue."""
    for row in rows:
        for token in row["summary"].split():
            if re.search(r"\d", token) and not _SPEAKER.fullmatch(token.strip(".,")):
                assert _strip(token) in row["dialogue"], (token, row)


def test_summary_is_dialogue_content_plus_closed_template(rows: list[dict[str, str]]) -> None:
    """Summary words missing from the dialogue come from a small fixed template vocabulary."""
    template_words: set[str] = set()
    all_words: set[str] = set()
    coverage = []
    for row in rows:
        tokens = [_strip(token) for token in row["summary"].split()]
        missing = [token for token in tokens if token not in row["dialogue"]]
        template_words.update(missing)
        all_words.update(tokens)
        coverage.append(1 - len(missing) / len(tokens))
    assert len(template_words) <= 150
    assert len(all_words) >= 3 * len(template_words)
    assert sum(coverage) / len(coverage) >= 0.6


@pytest.mark.parametrize(("word", "particle", "expected"), [
    ("사과", "을", "사과를"), ("책", "을", "책을"), ("서울", "으로", "서울로"),
    ("부산", "으로", "부산으로"), ("제주도", "으로", "제주도로"), ("3시", "은", "3시는"),
    ("7", "이", "7이"), ("오후 3시 30분", "이에요", "오후 3시 30분이에요"),
    ("39,000원", "이라", "39,000원이라"), ("#Email#", "과", "#Email#와"),
])
def test_particles_agree_with_the_final_sound(word: str, particle: str, expected: str) -> None:
    assert josa(word, particle) == expected


def test_the_corpus_needs_only_the_standard_library() -> None:
    """Importing the corpus adds no module but its own (beyond what `toolkit` itself loads)."""
    code = ("import sys, toolkit; before = set(sys.modules); import toolkit.corpus; "
            "print(sorted(m for m in set(sys.modules) - before "
            "if not m.startswith('toolkit.corpus') and m.split('.')[0] not in sys.stdlib_module_names))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout
    assert out.strip() == "[]"
