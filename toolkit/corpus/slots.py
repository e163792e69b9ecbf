"""Slot values shared by several topics: people, days, times of day, dates and prices."""

from __future__ import annotations

import random
from collections.abc import Callable

NAMES = ("김민수", "이지은", "박서준", "최유나", "정하늘", "강도윤", "윤서연", "한지호", "오민지",
         "서태양", "임수빈", "장현우", "신예린", "조성민", "백하은", "권도현")
DAYS = ("오늘", "내일", "모레", "이번 주 목요일", "이번 주 금요일", "이번 주 토요일",
        "다음 주 월요일", "다음 주 화요일", "다음 주 수요일")


def won(amount: int) -> str:
    """A price such as ``39,000원``."""
    return f"{amount:,}원"


def clock(rng: random.Random, *, meal: bool = False) -> str:
    """A time of day such as ``오후 3시`` or ``저녁 7시 30분``."""
    if meal:
        slots = [("점심", 12), ("점심", 1), ("저녁", 6), ("저녁", 7), ("저녁", 8)]
    else:
        slots = [("오전", h) for h in (9, 10, 11)] + [("오후", h) for h in (1, 2, 3, 4, 5, 6)]
    period, hour = rng.choice(slots)
    return f"{period} {hour}시" + rng.choice(("", " 30분"))


def date(rng: random.Random) -> str:
    """A calendar date such as ``5월 17일``."""
    return f"{rng.randint(1, 12)}월 {rng.randint(1, 28)}일"


def two(make: Callable[[], str]) -> tuple[str, str]:
    """Two distinct values drawn from ``make``."""
    first = make()
    second = make()
    while second == first:
        second = make()
    return first, second
