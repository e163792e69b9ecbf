"""Korean particles: the form of a particle depends on whether the word before it ends in a
consonant (받침) and, for 으로, on whether that consonant is ㄹ."""

from __future__ import annotations

# Particle → (form after a final consonant, form after a vowel).
PARTICLES = {
    "은": ("은", "는"),
    "이": ("이", "가"),
    "을": ("을", "를"),
    "과": ("과", "와"),
    "이에요": ("이에요", "예요"),
    "이라": ("이라", "라"),
    "이면": ("이면", "면"),
    "이죠": ("이죠", "죠"),
}
# Jongseong of digits read in Sino-Korean: 0 영, 1 일, 3 삼, 6 육, 7 칠, 8 팔.
_DIGIT_FINALS = {"0": 21, "1": 8, "3": 16, "6": 1, "7": 8, "8": 8}
_RIEUL = 8


def final_consonant(word: str) -> int:
    """Jongseong index of the last pronounced character (0 when it ends in a vowel)."""
    last = word.rstrip("#. ")[-1]
    if "가" <= last <= "힣":
        return (ord(last) - 0xAC00) % 28
    return _DIGIT_FINALS.get(last, 0)


def josa(word: str, particle: str) -> str:
    """``word`` with ``particle`` attached in the form that agrees with its final sound."""
    final = final_consonant(word)
    if particle == "으로":
        return word + ("으로" if final not in (0, _RIEUL) else "로")
    with_final, without_final = PARTICLES[particle]
    return word + (with_final if final else without_final)
