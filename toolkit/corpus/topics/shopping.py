"""Returning or exchanging something bought in a shop."""

from __future__ import annotations

import random

from toolkit.corpus.grammar import josa
from toolkit.corpus.slots import won
from toolkit.corpus.talk import Talk

NAME = "쇼핑 환불"
ITEMS = (("운동화", 89000, True), ("셔츠", 39000, True), ("청바지", 59000, True),
         ("원피스", 79000, True), ("니트", 45000, True), ("가방", 129000, False),
         ("블루투스 이어폰", 99000, False), ("전기포트", 35000, False), ("텀블러", 25000, False))
COLORS = ("검은색", "흰색", "남색", "회색", "베이지색")


def build(rng: random.Random, talk: Talk) -> str:
    item, amount, wearable = rng.choice(ITEMS)
    cost = won(amount)
    outcome = rng.choice(("refund", "exchange", "declined"))
    if outcome == "exchange":
        reason = rng.choice(("색상이 사진과 달라서", "색이 생각보다 너무 밝아서"))
        talk.say(1, f"저기요, 지난주에 여기서 {josa(item, '을')} 샀는데요. {reason} 다른 색으로 바꾸고 싶어요.",
                 f"안녕하세요. 여기서 {josa(item, '을')} 샀는데 {reason} 교환하러 왔어요.")
    else:
        reasons = ["불량이 있어서", "마음이 바뀌어서", "흠집이 나 있어서"]
        reason = rng.choice([*reasons, "사이즈가 맞지 않아서"] if wearable else reasons)
        talk.say(1, f"안녕하세요, 이 {item} 환불 좀 받고 싶은데요. {reason}요.",
                 f"저기요, {reason} 이 {item} 환불하러 왔어요.")
    talk.say(2, "네, 영수증 가지고 계세요?", "네, 고객님. 영수증 좀 보여 주시겠어요?",
             "아, 그러세요? 구매하신 영수증 있으실까요?")
    days = rng.randint(16, 30) if outcome == "declined" else rng.randint(2, 13)
    talk.say(1, f"네, 여기요. {days}일 전에 {cost} 주고 샀어요.",
             f"여기 있어요. {days}일 전에 샀고 {josa(cost, '이에요')}.")
    if talk.maybe(0.5, 2, "제품 상태 좀 확인할게요. 사용하신 적은 있으세요?",
                  "잠시 물건 좀 볼게요. 포장은 그대로 있나요?"):
        talk.say(1, "아니요, 한 번 꺼내 보기만 했어요.", "포장만 뜯고 거의 안 썼어요.")
    if outcome == "declined":
        talk.say(2, f"죄송하지만 구매하신 지 {days}일이 지나서 환불이 어렵습니다. "
                 "환불은 14일 이내에만 가능해요.",
                 f"고객님, 저희는 14일 이내에만 환불이 되는데 벌써 {days}일이 지나셨네요.")
        talk.say(1, "정말 안 되나요? 거의 새 거나 마찬가지인데요.",
                 "아, 그래요? 조금만 봐주시면 안 될까요?")
        talk.say(2, "죄송합니다. 규정상 어렵습니다.", "정말 죄송합니다. 기간이 지나면 처리가 안 돼요.")
        return f"#Person1#은 {josa(item, '을')} 환불하려 했지만 산 지 {days}일이 지나 환불받지 못한다."
    if outcome == "exchange":
        color = rng.choice(COLORS)
        talk.say(2, "네, 교환 가능합니다. 어떤 색으로 드릴까요?",
                 "확인했습니다. 원하시는 색상이 있으세요?")
        talk.say(1, f"{josa(color, '으로')} 주세요.", f"음, {josa(color, '으로')} 할게요.")
        talk.say(2, f"여기 {color} 있습니다. 한번 확인해 보세요.",
                 f"{color} 재고가 있네요. 바로 바꿔 드릴게요.")
        talk.say(1, "네, 이게 훨씬 낫네요. 감사합니다.", "좋아요, 감사합니다.")
        return f"#Person1#은 {reason} {cost}에 산 {josa(item, '을')} {josa(color, '으로')} 교환한다."
    talk.say(2, f"네, 확인됐습니다. {cost} 결제하신 카드로 취소해 드릴게요.",
             f"네, 환불해 드리겠습니다. 카드 결제 {cost} 취소됩니다.")
    talk.say(1, "감사합니다. 처리가 빠르네요.", "네, 알겠습니다. 감사합니다.")
    return f"#Person1#은 {reason} {cost}에 산 {josa(item, '을')} 환불받는다."
