"""The embedded corpus: seeded synthetic Korean dialogues for dialogue summarization.

Rows follow the Korean dialogue-summarization competition format (DialogSum style): turns are
``#PersonN#: ...`` lines joined by newlines, some turns carry masked entities such as
``#PhoneNumber#``, and summaries refer to speakers by tag. Every summary is a deterministic
function of what its dialogue shows (topic, slot values, outcome), so it is learnable from the
dialogue alone; surface wording of the dialogue varies at random. Generation uses only private
``random.Random`` instances and ordered sequences, so a seed yields identical output everywhere.

``grammar`` attaches particles, ``slots`` draws names, days, times, dates and prices, ``talk``
collects turns, ``booking`` plays the negotiation that booking dialogues share, ``topics/`` holds
one module per conversation topic and ``generate`` draws the rows and splits.
"""

from toolkit.corpus.generate import embedded_splits, generate_dialogues

__all__ = ["embedded_splits", "generate_dialogues"]
