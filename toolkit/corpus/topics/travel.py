"""Booking a package trip at a travel agency."""

from __future__ import annotations

import random

from toolkit.corpus.booking import Negotiation, negotiate
from toolkit.corpus.grammar import josa
from toolkit.corpus.slots import date, two, won
from toolkit.corpus.talk import Talk

NAME = "여행 예약"
DESTINATIONS = ("제주도", "부산", "강릉", "오사카", "도쿄", "방콕", "다낭", "타이베이", "괌")


def build(rng: random.Random, talk: Talk) -> str:
    dest = rng.choice(DESTINATIONS)
    nights = rng.randint(2, 4)
    trip = f"{nights}박 {nights + 1}일"
    people = rng.randint(2, 5)
    first, second = two(lambda: date(rng))
    price = won(rng.randrange(300000, 1300000, 50000))
    talk.say(1, f"안녕하세요, {dest} 여행 상품 좀 알아보려고요.",
             f"{josa(dest, '으로')} 여행을 가려는데 패키지 상품이 있을까요?")
    talk.say(2, "네, 언제 출발하실 예정이세요?", "네, 출발 날짜와 인원을 알려 주시겠어요?")
    talk.say(1, f"{first}에 출발해서 {josa(trip, '으로')} 생각하고 있어요. {people}명이에요.",
             f"{people}명이고요, {first} 출발로 {trip} 정도요.")
    if talk.maybe(0.5, 2, "혹시 원하시는 숙소 조건이 있으세요?", "숙소는 어떤 곳을 선호하세요?"):
        talk.say(1, "바다가 보이는 곳이면 좋겠어요.", "조식이 나오는 곳이면 좋겠어요.",
                 "시내랑 가까우면 좋겠어요.")
    quote = (f"그 일정이면 1인당 {price} 상품이 있습니다. 호텔과 조식이 포함돼 있어요.",
             f"네, {first} 출발 상품은 1인당 {josa(price, '이에요')}. 항공권과 숙소 포함이에요.")
    outcome = negotiate(rng, talk, Negotiation(
        offer=(f"죄송하지만 {josa(first, '은')} 이미 마감됐어요. {second} 출발은 자리가 "
               f"있고 1인당 {josa(price, '이에요')}.",
               f"{first} 출발 상품은 다 찼네요. 대신 {josa(second, '은')} 가능하고 1인당 {price}입니다."),
        take=(f"그럼 {josa(second, '으로')} 할게요.", f"괜찮아요. {second} 출발로 예약해 주세요."),
        refusal=quote, give_up=("생각보다 비싸네요. 조금 더 알아보고 다시 올게요.",
                                "음, 가격이 좀 부담되네요. 다른 데도 알아볼게요."),
        goodbye=("네, 천천히 생각해 보세요.", "알겠습니다. 언제든 다시 연락 주세요.")))
    if outcome == "declined":
        return (f"#Person1#은 {dest} {trip} 여행을 알아보지만 1인당 {josa(price, '이')} "
                "비싸서 예약하지 않는다.")
    if outcome == "rescheduled":
        summary = (f"#Person1#은 {josa(first, '은')} 마감이라 {second}에 출발하는 {dest} {trip} "
                   f"여행을 {people}명으로 예약한다.")
    else:
        talk.say(2, *quote)
        talk.say(1, "좋네요. 그걸로 예약할게요.", "괜찮네요. 그 상품으로 해 주세요.")
        summary = f"#Person1#은 {first}에 출발하는 {dest} {trip} 여행을 {people}명으로 예약한다."
    if rng.random() < 0.5:
        talk.say(2, "예약 확인 메일은 #Email#로 보내 드릴게요. 이 주소 맞으시죠?",
                 "이메일이 #Email# 맞으세요? 예약 확인 메일을 그쪽으로 보내 드릴게요.")
        talk.say(1, "네, 맞아요. 감사합니다.", "네, 그 주소로 보내 주세요.")
        summary += " #Person2#는 예약 확인 메일을 보내 주기로 한다."
    else:
        talk.say(2, "네, 예약 완료됐습니다. 즐거운 여행 되세요.",
                 "예약 도와 드렸습니다. 출발 전에 다시 안내 연락 드릴게요.")
    return summary
