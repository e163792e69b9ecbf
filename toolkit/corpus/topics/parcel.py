"""Parcels: a courier arranging a delivery, or a customer asking after a late one."""

from __future__ import annotations

import random

from toolkit.corpus.grammar import josa
from toolkit.corpus.slots import DAYS, clock
from toolkit.corpus.talk import Talk

NAME = "택배"
COURIERS = ("한빛", "바로", "씽씽", "우리")
DROP_PLACES = ("경비실", "문 앞", "택배함", "현관 앞")
ORDERS = ("운동화", "책", "노트북", "화장품", "이불", "커피 머신")


def build(rng: random.Random, talk: Talk) -> str:
    if rng.random() < 0.4:
        return _delay(rng, talk)
    courier = rng.choice(COURIERS)
    talk.say(1, f"안녕하세요, {courier}택배입니다. #Address# 맞으시죠?",
             f"{courier}택배인데요, #Address# 댁이죠?")
    talk.say(2, "네, 맞아요. 무슨 일이세요?", "네, 맞습니다. 택배 올 게 있었나 보네요.")
    talk.say(1, "지금 댁에 계세요? 물건 갖다 드리려고요.",
             "상자가 좀 커서 직접 전해 드려야 할 것 같은데, 지금 집에 계신가요?")
    outcome = rng.choice(("home", "drop", "later"))
    if outcome == "home":
        minutes = rng.choice((5, 10, 20, 30))
        talk.say(2, "네, 집에 있어요. 언제쯤 오세요?", "네, 있어요. 몇 시쯤 오시나요?")
        talk.say(1, f"{minutes}분 안에 도착합니다.", f"지금 근처라서 {minutes}분 뒤에 갈게요.")
        talk.maybe(0.6, 2, "네, 기다리고 있을게요.", "알겠습니다. 감사합니다.")
        return f"#Person1#은 #Person2#에게 전화해 {minutes}분 뒤에 택배를 갖다주겠다고 한다."
    if outcome == "drop":
        place = rng.choice(DROP_PLACES)
        talk.say(2, f"지금 밖이라서요. {place}에 놓아 주시겠어요?",
                 f"제가 회사예요. {place}에 두고 가 주세요.")
        talk.say(1, f"네, {place}에 두고 갈게요.", f"알겠습니다. {place}에 놓겠습니다.")
        talk.maybe(0.6, 2, "감사합니다. 수고하세요.", "네, 사진도 좀 찍어 주세요.")
        return f"#Person1#은 택배를 배달하려 하지만 #Person2#가 집에 없어서 {place}에 맡기기로 한다."
    time = clock(rng)
    talk.say(2, f"지금 집에 없는데 내일 {time}에 다시 와 주실 수 있나요?",
             f"오늘은 늦게 들어가요. 내일 {time}쯤 다시 와 주시겠어요?")
    talk.say(1, f"네, 내일 {time}에 다시 오겠습니다.", "네, 그때 다시 방문할게요.")
    talk.maybe(0.6, 2, "번거롭게 해 드려 죄송해요.", "감사합니다. 그때 꼭 있을게요.")
    return f"#Person1#은 #Person2#가 집에 없어서 택배를 내일 {time}에 다시 배달하기로 한다."


def _delay(rng: random.Random, talk: Talk) -> str:
    item = rng.choice(ORDERS)
    days = rng.randint(3, 10)
    day = rng.choice(DAYS[1:])
    talk.say(1, f"안녕하세요, {days}일 전에 주문한 {josa(item, '이')} 아직 안 왔어요.",
             f"{josa(item, '을')} 시킨 지 {days}일이 됐는데 아직 못 받았어요.")
    talk.say(2, "불편을 드려 죄송합니다. 주문하신 분 연락처 알려 주시겠어요?",
             "죄송합니다. 연락처로 조회해 볼게요.")
    talk.say(1, "#PhoneNumber#입니다.", "#PhoneNumber#이에요.")
    talk.say(2, f"확인해 보니 물류센터에 있어서 {day}까지 도착할 예정입니다.",
             f"지금 배송 중이고 {day}까지는 받으실 수 있어요.")
    talk.say(1, "알겠습니다. 왜 이렇게 늦어졌나요?", "네, 꼭 그때까지 받았으면 좋겠네요.")
    talk.say(2, "요즘 물량이 많아서 조금 밀렸습니다. 죄송합니다.", "최대한 빨리 보내 드리겠습니다.")
    return (f"#Person1#은 {days}일 전에 주문한 {josa(item, '이')} 오지 않아 문의하고, "
            f"#Person2#는 {day}까지 도착한다고 안내한다.")
