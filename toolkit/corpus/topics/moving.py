"""Booking a moving company."""

from __future__ import annotations

import random

from toolkit.corpus.booking import Negotiation, negotiate
from toolkit.corpus.grammar import josa
from toolkit.corpus.slots import date, two, won
from toolkit.corpus.talk import Talk

NAME = "이사"
HOUSES = ("원룸", "투룸", "쓰리룸", "30평대 아파트")


def build(rng: random.Random, talk: Talk) -> str:
    house = rng.choice(HOUSES)
    kind = rng.choice(("포장이사", "반포장이사"))
    first, second = two(lambda: date(rng))
    price = won(rng.randrange(400000, 2000000, 50000))
    talk.say(1, "이사 견적 좀 받아 보려고 전화드렸어요.",
             "안녕하세요, 이삿짐센터죠? 이사 문의 좀 하려고요.")
    talk.say(2, "네, 언제 이사하세요?", "네, 이사 날짜가 언제세요?")
    talk.say(1, f"{josa(first, '이에요')}. 짐은 {house} 정도예요.",
             f"{first}에 하려고요. {house}에 살고 있어요.")
    if rng.random() < 0.5:
        talk.say(2, "출발지랑 도착지 주소 알려 주시겠어요?", "어디에서 어디로 가시나요?")
        talk.say(1, "#Address#에서 #Address#로 가요.", "지금 #Address#에 살고, 새집은 #Address#예요.")
    quote = (f"{josa(kind, '으로')} 하시면 {josa(price, '이에요')}.", f"{kind} 기준으로 {price}입니다.")
    outcome = negotiate(rng, talk, Negotiation(
        offer=(f"{josa(first, '은')} 손 없는 날이라 예약이 다 찼어요. {josa(second, '은')} 가능합니다.",
               f"죄송하지만 {josa(first, '은')} 이미 마감이에요. {second}에는 가능해요."),
        take=(f"그럼 {josa(second, '으로')} 할게요. 비용은 얼마예요?", f"{second}도 괜찮아요. 얼마인가요?"),
        refusal=quote, give_up=("생각보다 비싸네요. 다른 곳도 알아보고 연락드릴게요.",
                                "음, 예상보다 비싸네요. 좀 더 알아볼게요."),
        goodbye=("네, 비교해 보시고 연락 주세요.", "알겠습니다. 언제든 전화 주세요."),
        goodbye_chance=0.5))
    if outcome == "declined":
        return (f"#Person1#은 {house} {kind} 견적이 {josa(price, '이라')} 비싸서 다른 업체도 "
                "알아보기로 한다.")
    talk.say(2, *quote)
    talk.say(1, "네, 그 가격이면 괜찮네요. 예약할게요.", "좋아요, 그렇게 예약해 주세요.")
    talk.say(2, "네, 예약됐습니다. 그날 아침 8시에 찾아뵙겠습니다.", "감사합니다. 예약 완료됐습니다.")
    if outcome == "rescheduled":
        return (f"#Person1#은 {first}에 예약이 차서 {josa(second, '으로')} {house} "
                f"{josa(kind, '을')} 예약한다.")
    return f"#Person1#은 {first}에 {house} {josa(kind, '을')} {price}에 예약한다."
