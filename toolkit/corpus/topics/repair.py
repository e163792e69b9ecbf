"""Taking a broken device to a repair shop, in or out of warranty."""

from __future__ import annotations

import random

from toolkit.corpus.grammar import josa
from toolkit.corpus.slots import won
from toolkit.corpus.talk import Talk

NAME = "기기 수리"
DEVICES = ("휴대폰", "노트북", "태블릿", "스마트워치")
ISSUES = ("화면이 깨져서", "배터리가 빨리 닳아서", "충전이 잘 안 돼서", "전원이 갑자기 꺼져서")


def build(rng: random.Random, talk: Talk) -> str:
    device = rng.choice(DEVICES)
    issue = rng.choice(ISSUES)
    hours = rng.randint(1, 4)
    talk.say(1, f"안녕하세요, {device} {issue} 수리 맡기려고 왔어요.",
             f"저기요, {josa(device, '이')} {issue}요. 좀 봐 주시겠어요?")
    talk.say(2, f"네, {device} 좀 볼게요. 구입하신 지 얼마나 되셨어요?",
             "잠시 확인해 볼게요. 언제 사셨어요?")
    months = rng.randint(2, 30)
    talk.say(1, f"{months}개월 정도 됐어요.", f"산 지 {months}개월쯤 됐어요.")
    if months < 12:
        talk.say(2, f"보증 기간 안이라서 무료로 수리해 드려요. {hours}시간 정도 걸립니다.",
                 f"아직 보증 기간이라 수리비는 없어요. {hours}시간 뒤에 찾으러 오세요.")
        talk.say(1, "다행이네요. 맡기고 갈게요. 근처에서 커피 마시고 올게요.", "잘됐네요. 그때 올게요.")
        talk.maybe(0.5, 2, "네, 수리 끝나면 문자 드릴게요.", "접수증 잘 챙겨 가세요.")
        return f"#Person1#은 {issue} {device} 수리를 맡기고, 보증 기간 안이라 무료로 수리받는다."
    cost = won(rng.randrange(50000, 400000, 10000))
    talk.say(2, f"보증 기간이 지나서 수리비가 {cost} 나옵니다.",
             f"보증 기간이 끝나서 {josa(cost, '이')} 들어요.")
    if rng.random() < 0.6:
        talk.say(1, "괜찮아요, 수리해 주세요.", "어쩔 수 없죠. 고쳐 주세요.")
        talk.say(2, f"네, {hours}시간 뒤에 찾으러 오세요.", f"{hours}시간 정도 걸리니 그때 오세요.")
        talk.maybe(0.5, 1, "네, 그때 올게요.", "알겠습니다. 잘 부탁드려요.")
        return f"#Person1#은 {issue} {device} 수리를 맡기고 수리비 {josa(cost, '을')} 내기로 한다."
    talk.say(1, "그 돈이면 새로 사는 게 낫겠네요.", "생각보다 비싸네요. 그냥 새로 살게요.")
    talk.say(2, "네, 그러셔도 됩니다.", "알겠습니다. 필요하시면 다시 오세요.")
    return f"#Person1#은 {device} 수리비가 {josa(cost, '이라')} 수리하지 않고 새로 사기로 한다."
