"""Draw rows and the train/validation/test splits of the embedded corpus."""

from __future__ import annotations

import random

from toolkit.corpus.talk import Talk
from toolkit.corpus.topics import TOPICS


def _generate(n: int, rng: random.Random, prefix: str, exclude: set[str]) -> list[dict[str, str]]:
    """Draw ``n`` rows whose dialogues are unique and not in ``exclude``."""
    rows: list[dict[str, str]] = []
    seen = set(exclude)
    for _ in range(50 * n + 100):
        if len(rows) == n:
            break
        topic, build = rng.choice(TOPICS)
        talk = Talk(rng)
        summary = build(rng, talk)
        dialogue = talk.text()
        if dialogue not in seen:
            seen.add(dialogue)
            rows.append({"fname": f"{prefix}_{len(rows)}", "dialogue": dialogue,
                         "summary": summary, "topic": topic})
    if len(rows) < n:
        raise RuntimeError(f"could not draw {n} distinct synthetic dialogues")
    return rows


def generate_dialogues(n: int, seed: int, prefix: str = "train") -> list[dict[str, str]]:
    """Generate ``n`` distinct dialogue/summary rows, deterministic for ``seed``.

    Each row has ``fname`` (``f"{prefix}_{i}"``), ``dialogue``, ``summary`` and ``topic``.
    """
    return _generate(n, random.Random(seed), prefix, set())


def embedded_splits(train_size: int = 3000, eval_size: int = 200, seed: int = 0,
                    ) -> dict[str, list[dict[str, str]]]:
    """Build train/validation/test splits whose dialogues are pairwise disjoint.

    ``train`` equals ``generate_dialogues(train_size, seed)``; validation and test use seeds
    derived from ``seed`` and skip dialogues already drawn for earlier splits.
    """
    train = generate_dialogues(train_size, seed, "train")
    used = {row["dialogue"] for row in train}
    validation = _generate(eval_size, random.Random(f"{seed}:validation"), "dev", used)
    used.update(row["dialogue"] for row in validation)
    test = _generate(eval_size, random.Random(f"{seed}:test"), "test", used)
    return {"train": train, "validation": validation, "test": test}
