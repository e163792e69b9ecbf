"""Booking a clinic appointment by phone."""

from __future__ import annotations

import random

from toolkit.corpus.booking import Negotiation, negotiate
from toolkit.corpus.grammar import josa
from toolkit.corpus.slots import DAYS, NAMES, clock, two
from toolkit.corpus.talk import Talk

NAME = "병원 예약"
CLINICS = (
    ("치과", ("이가 시려서", "사랑니 쪽이 아파서", "잇몸에서 피가 나서", "어금니가 욱신거려서")),
    ("피부과", ("얼굴에 두드러기가 나서", "여드름이 심해져서", "손등에 습진이 생겨서")),
    ("안과", ("눈이 자꾸 충혈돼서", "눈이 가렵고 따가워서", "눈이 침침해서")),
    ("이비인후과", ("목이 계속 아파서", "코가 막혀서", "귀가 먹먹해서")),
    ("정형외과", ("허리가 아파서", "발목을 삐어서", "무릎이 시큰거려서")),
    ("내과", ("열이 나고 기침이 나서", "배가 계속 아파서", "소화가 잘 안 돼서")),
)


def build(rng: random.Random, talk: Talk) -> str:
    clinic, reasons = rng.choice(CLINICS)
    reason = rng.choice(reasons)
    place = rng.choice(("서울", "하나", "튼튼", "밝은", "미소", "우리")) + clinic
    day = rng.choice(DAYS)
    first, second = two(lambda: clock(rng))
    short_opening = rng.random() < 0.5
    if short_opening:
        talk.say(1, f"안녕하세요, {reason} 진료를 좀 받고 싶은데 예약이 될까요?",
                 f"여보세요? {reason} 그러는데 진료 예약 좀 할 수 있을까요?")
        talk.say(2, f"네, {place}입니다. 언제 오시겠어요?",
                 f"네, {place}입니다. 원하시는 날짜와 시간이 있으세요?")
    else:
        talk.say(1, f"여보세요, {josa(place, '이죠')}? 진료 예약 좀 하려고요.",
                 f"안녕하세요, {place} 맞나요? 예약하려고 전화드렸어요.")
        talk.say(2, "네, 맞습니다. 어디가 불편하세요?", "네, 어떤 증상 때문에 그러세요?")
        talk.say(1, f"{reason}요. 며칠째 계속 그러네요.", f"{reason} 진료를 받아 보려고요.")
        talk.say(2, "많이 불편하시겠어요. 언제 오시겠어요?", "그러시군요. 원하시는 시간이 있으세요?")
    talk.say(1, f"{day} {first}에 가능할까요? 그때가 제일 편해서요.",
             f"혹시 {day} {first}에 자리 있나요?", f"{day} {first}쯤 괜찮을까요?")
    if short_opening and talk.maybe(0.5, 2, "잠시만요, 확인해 볼게요. 저희 병원은 처음이세요?",
                                    "네, 잠깐만 기다려 주세요. 전에 오신 적 있으세요?"):
        talk.say(1, "네, 처음이에요.", "아니요, 작년에 한 번 간 적 있어요.")
    full = (f"죄송하지만 그 시간은 예약이 다 찼어요. {josa(second, '은')} 어떠세요?",
            f"그 시간은 이미 꽉 찼네요. 같은 날 {second}에는 자리가 있어요.")
    outcome = negotiate(rng, talk, Negotiation(
        offer=full, take=(f"그럼 {josa(second, '으로')} 해 주세요.",
                          f"네, {second}도 괜찮아요. 그때로 할게요."),
        refusal=full, give_up=(f"{second}에는 제가 일이 있어서 안 되겠네요. 다시 전화드릴게요.",
                               f"아, {second}에는 어렵겠어요. 일정 확인해 보고 다시 연락드릴게요."),
        goodbye=("네, 알겠습니다. 편하실 때 연락 주세요.", "네, 그럼 다시 전화 주세요.")))
    if outcome == "declined":
        return (f"#Person1#은 {day} {clinic} 진료를 예약하려 했지만 원하는 시간에 자리가 "
                "없어 다시 전화하기로 한다.")
    if outcome == "accepted":
        confirm = rng.choice((f"{day} {first} 비어 있네요. 그 시간으로 예약해 드릴게요.",
                              "네, 그 시간 가능하세요. 바로 잡아 드릴게요."))
        summary = f"#Person1#은 {reason} {day} {josa(first, '으로')} {clinic} 진료를 예약한다."
    else:
        confirm = f"네, {day} {josa(second, '으로')} 예약해 드렸습니다."
        summary = (f"#Person1#은 {reason} {clinic} 예약을 하는데 {first}에는 자리가 없어 "
                   f"{day} {josa(second, '으로')} 예약한다.")
    notice = rng.random() < 0.4
    id_notice = "처음 오시면 신분증 꼭 챙겨 오세요."
    if rng.random() < 0.5:
        talk.say(2, f"{confirm} 예약하시는 분 성함과 생년월일 말씀해 주시겠어요?")
        name = rng.choice(NAMES)
        talk.say(1, f"{josa(name, '이에요')}. 생년월일은 #DateOfBirth#이고요.",
                 f"{name}, #DateOfBirth#입니다.")
        talk.say(2, f"확인됐습니다. {id_notice}" if notice else "확인됐습니다. 그때 뵙겠습니다.")
    else:
        talk.say(2, f"{confirm} {id_notice}" if notice else confirm)
        talk.say(1, "네, 감사합니다.", "알겠습니다. 그때 뵐게요.", "감사합니다. 수고하세요.")
    if notice:
        summary += " #Person2#는 신분증을 챙겨 오라고 안내한다."
    return summary
