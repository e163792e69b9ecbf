"""The negotiation every booking dialogue shares (hospital, restaurant, salon, travel, moving).

The customer (#Person1#) has asked the staff (#Person2#) for a slot. One of three outcomes is
drawn: ``accepted`` says nothing here (the topic confirms in its own words); ``rescheduled``:
the staff offers another slot and the customer takes it; ``declined``: the staff says why not,
the customer gives up and the staff answers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from toolkit.corpus.talk import Talk

OUTCOMES = ("accepted", "rescheduled", "declined")
Lines = tuple[str, ...]  # paraphrases of one turn; one is chosen at random


@dataclass(frozen=True)
class Negotiation:
    """The turns of the ``rescheduled`` and ``declined`` outcomes, as paraphrases."""

    offer: Lines  # staff: the slot asked for is taken, here is another
    take: Lines  # customer: takes the other slot
    refusal: Lines  # staff: why the booking cannot be made as asked
    give_up: Lines  # customer: gives up
    goodbye: Lines  # staff: answers the customer who gives up
    goodbye_chance: float | None = None  # said with this probability; None: always


def negotiate(rng: random.Random, talk: Talk, lines: Negotiation) -> str:
    """Draw an outcome, write its turns, and return it."""
    outcome = rng.choice(OUTCOMES)
    if outcome == "rescheduled":
        talk.say(2, *lines.offer)
        talk.say(1, *lines.take)
    elif outcome == "declined":
        talk.say(2, *lines.refusal)
        talk.say(1, *lines.give_up)
        if lines.goodbye_chance is None:
            talk.say(2, *lines.goodbye)
        else:
            talk.maybe(lines.goodbye_chance, 2, *lines.goodbye)
    return outcome
