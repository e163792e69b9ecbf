"""Text files in the encoding they were written in: UTF-8 (with or without a BOM) or, as Korean
files often are, CP949/EUC-KR.

``data.encoding: auto`` decodes UTF-8 and falls back to EUC-KR/CP949 when charset-normalizer
finds Korean text in those bytes (CP949 alone would accept almost any bytes, Chinese GB18030
included), logging which it used; any other value is a Python codec, used as given. A file that
decodes in neither gets a DataError naming the encoding it most likely is and the key to set.
"""

from __future__ import annotations

import codecs
import logging
from pathlib import Path

from toolkit.errors import DataError

logger = logging.getLogger("toolkit")

AUTO = "auto"
KEY = "data.encoding"
KOREAN = ("cp949", "euc_kr")  # charset-normalizer's names for Korean multibyte text


def _decodes(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def likely_encoding(data: bytes) -> str | None:
    """The encoding charset-normalizer finds most likely (a Python codec name), if any."""
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    return best.encoding if best is not None else None


def _undecodable(path: Path, tried: str, likely: str | None) -> DataError:
    if likely is None:
        guess, fix = "its encoding is not recognisable either", "convert it to UTF-8"
    elif likely == "utf_8":
        guess, fix = "it looks like UTF-8", f"set {KEY}=auto, which reads UTF-8"
    else:
        guess = f"it looks like {likely}"
        fix = (f"set {KEY}={likely} (for example `{KEY}={likely}` on the command line) or "
               f"convert it to UTF-8 (iconv -f {likely} -t utf-8)")
    return DataError(f"{path} is not {tried} text ({guess}); {fix}")


def _codec(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise DataError(f"{KEY}={encoding} is not an encoding Python knows; use auto, utf-8, "
                        f"utf-8-sig, cp949 or euc-kr") from None


def decode(path: Path, data: bytes, encoding: str = AUTO) -> str:
    """The text of ``data`` read from ``path``, in ``encoding`` or, for ``auto``, detected:
    UTF-8 (a BOM is dropped), else EUC-KR or CP949 when charset-normalizer finds Korean."""
    if encoding != AUTO:
        text = _decodes(data, _codec(encoding))
        if text is None:
            raise _undecodable(path, encoding, likely_encoding(data))
        return text.removeprefix("\ufeff")
    text = _decodes(data, "utf-8")
    if text is not None:
        return text.removeprefix("\ufeff")
    likely = likely_encoding(data)
    if likely in KOREAN:
        # EUC-KR first: it also reads the 8-byte jamo sequences that CP949 leaves apart.
        for codec, name in (("euc_kr", "EUC-KR"), ("cp949", "CP949")):
            text = _decodes(data, codec)
            if text is not None:
                logger.info("%s is not UTF-8; read it as %s (set %s to choose)", path, name, KEY)
                return text
    raise _undecodable(path, "UTF-8 or CP949/EUC-KR", likely)


def read_text(path: Path, encoding: str = AUTO) -> str:
    """The whole text of the file at ``path`` (see :func:`decode`)."""
    return decode(path, path.read_bytes(), encoding)
