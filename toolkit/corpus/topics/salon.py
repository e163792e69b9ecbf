"""Booking a hair salon appointment with a chosen designer."""

from __future__ import annotations

import random

from toolkit.corpus.booking import Negotiation, negotiate
from toolkit.corpus.grammar import josa
from toolkit.corpus.slots import DAYS, clock, won
from toolkit.corpus.talk import Talk

NAME = "미용실 예약"
SERVICES = (("커트", 20000), ("펌", 90000), ("염색", 80000), ("뿌리 염색", 50000),
            ("클리닉", 40000))
DESIGNERS = ("지수 실장님", "민호 원장님", "하린 디자이너님", "태오 실장님")


def build(rng: random.Random, talk: Talk) -> str:
    service, base = rng.choice(SERVICES)
    price = won(base + rng.choice((0, 10000, 20000)))
    designer, other = rng.sample(DESIGNERS, 2)
    day = rng.choice(DAYS)
    time = clock(rng)
    talk.say(1, f"안녕하세요, {day} {service} 예약하려고요.", f"{day} {time}에 {service} 가능할까요?")
    talk.say(2, "네, 원하시는 디자이너 있으세요?", "네, 담당 디자이너 지정하시겠어요?")
    talk.say(1, f"{designer}께 받고 싶어요. {time}에 돼요?",
             f"{josa(designer, '으로')} 부탁드려요. 시간은 {time}요.")
    outcome = negotiate(rng, talk, Negotiation(
        offer=(f"{designer}께서 {day}에는 쉬세요. {josa(other, '은')} 가능하세요.",
               f"{josa(day, '은')} {designer} 휴무예요. 대신 {other} 어떠세요?"),
        take=(f"그럼 {other}께 받을게요.", "네, 괜찮아요. 그렇게 해 주세요."),
        refusal=(f"{designer}께서 {day}에는 예약이 다 차셨어요.",
                 f"죄송한데 {day}에는 {designer} 예약이 꽉 찼어요."),
        give_up=("그럼 다음에 다시 연락드릴게요.", "아쉽네요. 다른 날 다시 전화할게요."),
        goodbye=("네, 죄송합니다. 다음에 꼭 연락 주세요.", "알겠습니다. 감사합니다."),
        goodbye_chance=0.5))
    if outcome == "declined":
        return (f"#Person1#은 {designer}에게 {service} 예약을 하려 했지만 {day}에는 자리가 "
                "없어 다음에 연락하기로 한다.")
    booked = other if outcome == "rescheduled" else designer
    talk.say(2, f"{day} {josa(time, '으로')} {booked} {service} 예약됐습니다. 가격은 {josa(price, '이에요')}.",
             f"예약 완료됐습니다. {josa(service, '은')} {price}입니다.")
    talk.say(1, "네, 감사합니다.", "알겠습니다. 그때 갈게요.", "네, 늦지 않게 갈게요.")
    talk.maybe(0.5, 2, "예약 시간 10분 전까지 와 주세요.", "네, 그날 뵙겠습니다.")
    if outcome == "rescheduled":
        return (f"#Person1#은 원하던 디자이너가 쉬는 날이라 {other}에게 {day} {time} "
                f"{service} 예약을 한다. 가격은 {price}이다.")
    return f"#Person1#은 {day} {time}에 {designer}에게 {service} 예약을 한다. 가격은 {price}이다."
