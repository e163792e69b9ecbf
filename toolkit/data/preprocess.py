"""Dialogue text normalisation and the speaker tags / masked entities kept as whole tokens."""

from __future__ import annotations

import re
from collections.abc import Iterable

TAG = re.compile(r"#[A-Za-z][A-Za-z0-9]*#")
SPACES = re.compile(r"[ \t\u00a0\u3000]+")
# Tags the Korean competition and DialogSum use; tags found in the training data are added too.
KNOWN_TAGS = [f"#Person{i}#" for i in range(1, 8)] + [
    "#PhoneNumber#", "#Address#", "#DateOfBirth#", "#PassportNumber#", "#SSN#",
    "#CardNumber#", "#CarNumber#", "#Email#",
]


def normalise(text: str) -> str:
    """Unify newlines, collapse runs of spaces, strip each line, drop empty lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\\n", "\n")
    lines = (SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def find_tags(texts: Iterable[str]) -> list[str]:
    """Every #Tag# in the texts, with the known tags first, without repeats."""
    seen = dict.fromkeys(KNOWN_TAGS)
    for text in texts:
        seen.update(dict.fromkeys(TAG.findall(text)))
    return list(seen)
