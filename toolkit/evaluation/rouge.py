"""ROUGE-1/2/L F1 for Korean and English summaries, on top of rouge-score.

Tokenizers (rouge-score's own keeps only ``[a-z0-9]`` and must never see Korean):

- ``latin``: rouge-score's default tokenizer, no stemmer.
- ``whitespace``: lower-cased whitespace tokens, punctuation stripped from their edges; speaker
  tags and masked entities (``#Person1#``) stay whole, so ``#Person1#은`` is ``#person1#은``.
- ``kiwi``: lower-cased Kiwi morphemes (``pip install 'toolkit[kiwi]'``), ``#...#`` tags kept as
  one morpheme, punctuation and symbol morphemes dropped.
- ``auto``: ``latin`` when more than 90% of the letters are ASCII, else ``whitespace``.

Spawn-based parallel scoring (``num_workers > 1``) needs the calling script to guard its entry
point with ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import math
import multiprocessing
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from rouge_score import rouge_scorer, tokenizers

from toolkit.errors import ToolkitError

TOKENIZERS = ("auto", "latin", "whitespace", "kiwi")
MULTI_REFERENCE = ("mean", "max")
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
COMBINED_WEIGHTS = (0.33, 0.33, 0.34)
# Below this many examples process start-up costs more than it saves.
PARALLEL_MIN_EXAMPLES = 2000
LATIN_LETTER_SHARE = 0.9

_TAG_RE = re.compile(r"#\w+#")
# A whitespace token from its first to its last letter/digit, a tag counting as one.
_WORD_RE = re.compile(r"(?:#\w+#|[^\W_])(?:\S*?(?:#\w+#|[^\W_]))*")
_LETTER_RE = re.compile(r"[^\W\d_]")
_ASCII_LETTER_RE = re.compile(r"[A-Za-z]")
# Kiwi's symbol tags that are words: Latin letters, Hanja, numbers. Other S* tags are punctuation.
_KIWI_KEPT_SYMBOL_TAGS = frozenset({"SL", "SH", "SN"})

_kiwi_instance: Any = None


def _kiwi() -> Any:
    """The process's Kiwi analyser, loaded on first use (about 2 s)."""
    global _kiwi_instance
    if _kiwi_instance is None:
        try:
            from kiwipiepy import Kiwi
        except ImportError as error:
            raise ToolkitError(
                "The 'kiwi' ROUGE tokenizer needs kiwipiepy, which is not installed: "
                "install the kiwi extra: pip install 'toolkit[kiwi]'"
            ) from error
        _kiwi_instance = Kiwi()
    return _kiwi_instance


def _tag_spans(text: str) -> list[tuple[int, int, str]]:
    """Kiwi pretokenized spans that keep each ``#...#`` tag as one proper noun."""
    return [(m.start(), m.end(), "NNP") for m in _TAG_RE.finditer(text)]


def _whitespace_tokens(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


def _check_choice(option: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ToolkitError(f"Unknown ROUGE {option} {value!r}; choose one of: {', '.join(allowed)}.")


def resolve_tokenizer(texts: Sequence[str], tokenizer: str = "auto") -> str:
    """The concrete tokenizer name for ``texts``: ``auto`` becomes ``latin`` or ``whitespace``."""
    _check_choice("tokenizer", tokenizer, TOKENIZERS)
    if tokenizer != "auto":
        return tokenizer
    letters = ascii_letters = 0
    for text in texts:
        untagged = _TAG_RE.sub(" ", text)
        letters += len(_LETTER_RE.findall(untagged))
        ascii_letters += len(_ASCII_LETTER_RE.findall(untagged))
    return "latin" if letters and ascii_letters > LATIN_LETTER_SHARE * letters else "whitespace"


def tokenize(texts: Sequence[str], tokenizer: str = "auto") -> list[list[str]]:
    """The tokens ROUGE compares for each text (``auto`` is decided over all ``texts``)."""
    name = resolve_tokenizer(texts, tokenizer)
    if name == "kiwi":
        analysed = _kiwi().tokenize(list(texts), pretokenized=_tag_spans)
        return [
            [t.form.lower() for t in morphemes
             if t.tag[0] != "S" or t.tag in _KIWI_KEPT_SYMBOL_TAGS]
            for morphemes in analysed
        ]
    if name == "latin":
        default = tokenizers.DefaultTokenizer(use_stemmer=False)
        return [default.tokenize(text) for text in texts]
    return [_whitespace_tokens(text) for text in texts]


class _Lookup:
    """A rouge-score tokenizer that returns tokens computed beforehand."""

    def __init__(self, tokens: dict[str, list[str]]):
        self._tokens = tokens

    def tokenize(self, text: str) -> list[str]:
        return self._tokens[text]


Example = tuple[str, list[str]]
Scores = tuple[float, float, float]


def _score_examples(
    examples: list[Example], tokens: dict[str, list[str]], multi_reference: str
) -> list[Scores]:
    """Per-example (R1, R2, RL) F1, each reduced over the example's references."""
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=_Lookup(tokens))
    results: list[Scores] = []
    for prediction, refs in examples:
        per_ref = [scorer.score(ref, prediction) for ref in refs]
        columns = [[s[rouge_type].fmeasure for s in per_ref] for rouge_type in ROUGE_TYPES]
        if multi_reference == "max":
            r1, r2, rl = (max(column) for column in columns)
        else:
            r1, r2, rl = (math.fsum(column) / len(column) for column in columns)
        results.append((r1, r2, rl))
    return results


def _score_parallel(
    examples: list[Example], tokens: dict[str, list[str]], multi_reference: str, num_workers: int
) -> list[Scores]:
    size = math.ceil(len(examples) / (4 * num_workers))
    chunks = [examples[i:i + size] for i in range(0, len(examples), size)]
    chunk_tokens = [
        {text: tokens[text] for prediction, refs in chunk for text in (prediction, *refs)}
        for chunk in chunks
    ]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=num_workers, mp_context=context) as pool:
        parts = pool.map(_score_examples, chunks, chunk_tokens, [multi_reference] * len(chunks))
        return [scores for part in parts for scores in part]


def _normalise_references(references: Sequence[str | Sequence[str]]) -> list[list[str]]:
    normalised = []
    for index, entry in enumerate(references):
        group = [entry] if isinstance(entry, str) else entry
        if not isinstance(group, (list, tuple)) or not group or not all(
            isinstance(ref, str) for ref in group
        ):
            raise ToolkitError(
                f"Reference {index} must be a string or a non-empty list of strings, "
                f"got {entry!r}."
            )
        normalised.append(list(group))
    return normalised


def compute_rouge(
    predictions: list[str],
    references: list[str] | list[list[str]],
    tokenizer: str = "auto",
    multi_reference: str = "mean",
    num_workers: int = 1,
) -> dict[str, float]:
    """Corpus means of per-example ROUGE F1 (fractions in 0..1) and their weighted combination.

    Each reference entry is one string or a list of them; ``multi_reference="mean"`` averages
    the scores over an example's references (as the Korean competition does), ``"max"`` keeps
    the best one per metric (as rouge-score's ``score_multi``). ``num_workers > 1`` scores in
    spawned processes from ``PARALLEL_MIN_EXAMPLES`` examples on, with the same numbers as
    serial scoring. Empty input gives zeros and ``num_examples`` 0.

    Returns ``rouge1_f1``, ``rouge2_f1``, ``rougeL_f1``,
    ``rouge_combined_f1`` (0.33 R1 + 0.33 R2 + 0.34 RL) and ``num_examples``.
    """
    _check_choice("tokenizer", tokenizer, TOKENIZERS)
    _check_choice("multi_reference", multi_reference, MULTI_REFERENCE)
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1:
        raise ToolkitError(f"num_workers must be a positive integer, got {num_workers!r}.")
    if len(predictions) != len(references):
        raise ToolkitError(
            f"ROUGE needs one reference entry per prediction: got {len(predictions)} "
            f"predictions and {len(references)} references."
        )
    if not all(isinstance(prediction, str) for prediction in predictions):
        raise ToolkitError("Predictions must be strings.")
    refs = _normalise_references(references)
    if not predictions:
        return {"rouge1_f1": 0.0, "rouge2_f1": 0.0, "rougeL_f1": 0.0,
                "rouge_combined_f1": 0.0, "num_examples": 0.0}

    unique = list(dict.fromkeys([*predictions, *(ref for group in refs for ref in group)]))
    tokens = dict(zip(unique, tokenize(unique, tokenizer)))
    examples = list(zip(predictions, refs))
    if num_workers > 1 and len(examples) >= PARALLEL_MIN_EXAMPLES:
        per_example = _score_parallel(examples, tokens, multi_reference, num_workers)
    else:
        per_example = _score_examples(examples, tokens, multi_reference)

    r1, r2, rl = (math.fsum(column) / len(per_example) for column in zip(*per_example))
    w1, w2, wl = COMBINED_WEIGHTS
    return {
        "rouge1_f1": r1,
        "rouge2_f1": r2,
        "rougeL_f1": rl,
        "rouge_combined_f1": w1 * r1 + w2 * r2 + wl * rl,
        "num_examples": float(len(per_example)),
    }


def rouge_table(metrics: dict[str, float]) -> str:
    """A small table of R1, R2, RL and combined F1, x100 with two decimals."""
    rows = [("ROUGE-1", "rouge1_f1"), ("ROUGE-2", "rouge2_f1"), ("ROUGE-L", "rougeL_f1"),
            ("combined", "rouge_combined_f1")]
    lines = [f"{'metric':<10}{'F1 x100':>9}"]
    lines += [f"{label:<10}{100 * metrics[key]:>9.2f}" for label, key in rows]
    if "num_examples" in metrics:
        lines.append(f"{'examples':<10}{int(metrics['num_examples']):>9d}")
    return "\n".join(lines)
