"""A dialogue being written: turns ``#PersonN#: ...``, one paraphrase chosen per turn."""

from __future__ import annotations

import random
from collections.abc import Callable


class Talk:
    """Accumulates dialogue turns, choosing one paraphrase per turn."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.turns: list[str] = []

    def say(self, speaker: int, *options: str) -> None:
        self.turns.append(f"#Person{speaker}#: {self.rng.choice(options)}")

    def maybe(self, p: float, speaker: int, *options: str) -> bool:
        """Add a turn with probability ``p``; return whether it was added."""
        added = self.rng.random() < p
        if added:
            self.say(speaker, *options)
        return added

    def text(self) -> str:
        return "\n".join(self.turns)


# A topic writes one dialogue into the Talk and returns its summary.
Builder = Callable[[random.Random, Talk], str]
