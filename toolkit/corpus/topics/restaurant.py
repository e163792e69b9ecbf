"""Booking a table at a restaurant by phone."""

from __future__ import annotations

import random

from toolkit.corpus.booking import Negotiation, negotiate
from toolkit.corpus.grammar import josa
from toolkit.corpus.slots import DAYS, clock, two
from toolkit.corpus.talk import Talk

NAME = "식당 예약"
RESTAURANTS = ("바다횟집", "소담한정식", "라 피아짜", "미소 스시", "청기와 갈비", "정원 레스토랑")
OCCASIONS = ("부모님 생신", "결혼기념일", "회사 회식", "친구 생일", "동창 모임")
REQUESTS = ("창가 자리", "룸", "아기 의자", "조용한 자리")


def build(rng: random.Random, talk: Talk) -> str:
    place = rng.choice(RESTAURANTS)
    day = rng.choice(DAYS)
    people = rng.randint(2, 8)
    first, second = two(lambda: clock(rng, meal=True))
    talk.say(1, f"여보세요, {josa(place, '이죠')}? {day} 예약 좀 하려고요.",
             f"안녕하세요, {josa(place, '이죠')}? {rng.choice(OCCASIONS)} 모임이 있어서 {day} "
             "예약하고 싶은데요.")
    talk.say(2, f"네, {place}입니다. 몇 분이세요?", "네, 감사합니다. 몇 분이 오시나요?")
    talk.say(1, f"{people}명이요. {first}에 가능할까요?", f"{people}명이고요, {first}쯤 가려고 해요.")
    outcome = negotiate(rng, talk, Negotiation(
        offer=(f"{josa(first, '은')} 자리가 없고 {josa(second, '은')} 가능합니다.",
               f"죄송하지만 {josa(first, '은')} 다 찼어요. {josa(second, '은')} 어떠세요?"),
        take=(f"그럼 {josa(second, '으로')} 할게요.", f"네, {second}도 괜찮아요."),
        refusal=(f"죄송합니다만 {josa(day, '은')} 예약이 모두 찼습니다.",
                 f"아이고, {josa(day, '은')} 이미 자리가 다 찼네요. 죄송합니다."),
        give_up=("아쉽네요. 다음에 다시 연락드릴게요.", "그래요? 할 수 없죠. 다음에 갈게요."),
        goodbye=("죄송합니다. 다음에 꼭 모실게요.", "네, 다음에 꼭 찾아 주세요."),
        goodbye_chance=0.5))
    if outcome == "declined":
        return (f"#Person1#은 {place}에 {people}명 예약을 하려 했지만 {josa(day, '은')} 자리가 "
                "다 차서 예약하지 못한다.")
    if outcome == "rescheduled":
        summary = (f"#Person1#은 {place}에 {first} 자리가 없어 {day} {josa(second, '으로')} "
                   f"{people}명 예약을 한다.")
    else:
        talk.say(2, f"네, {day} {first}에 {people}명 예약 가능합니다.",
                 f"{first} 비어 있네요. {people}명으로 잡아 드릴게요.")
        talk.say(1, "잘됐네요. 감사합니다.", "좋아요, 그렇게 해 주세요.")
        summary = f"#Person1#은 {place}에 {day} {first} {people}명 예약을 한다."
    talk.say(2, "예약자분 연락처 남겨 주시겠어요?", "연락 가능한 번호 하나 알려 주세요.")
    request = rng.choice(REQUESTS) if rng.random() < 0.5 else ""
    if request:
        talk.say(1, f"#PhoneNumber#입니다. 혹시 {request} 가능할까요?",
                 f"#PhoneNumber#이요. 그리고 {request} 부탁드려도 될까요?")
        talk.say(2, f"네, {request} 준비해 두겠습니다.", f"물론이죠. {request} 마련해 둘게요.")
        summary += f" #Person2#는 {josa(request, '을')} 준비해 주기로 한다."
    else:
        talk.say(1, "#PhoneNumber#입니다.", "네, #PhoneNumber#이에요.")
        talk.say(2, "감사합니다. 그날 뵙겠습니다.", "예약 완료됐습니다. 감사합니다.")
    talk.maybe(0.5, 1, "네, 그날 뵐게요.", "감사합니다. 수고하세요.")
    return summary
