"""One module per conversation topic; each has ``NAME`` (the row's ``topic``) and
``build(rng, talk) -> summary``. The order of ``TOPICS`` is part of the corpus: a seed draws
topics by position."""

from __future__ import annotations

from toolkit.corpus.talk import Builder
from toolkit.corpus.topics import (
    bank,
    gym,
    hospital,
    library,
    meeting,
    movie,
    moving,
    parcel,
    repair,
    restaurant,
    salon,
    shopping,
    taxi,
    travel,
)

TOPICS: tuple[tuple[str, Builder], ...] = tuple(
    (module.NAME, module.build)
    for module in (hospital, shopping, travel, restaurant, meeting, taxi, bank, moving, library,
                   gym, parcel, movie, salon, repair)
)
