"""At the bank: opening an account, a lost card, or a savings plan."""

from __future__ import annotations

import random

from toolkit.corpus.slots import won
from toolkit.corpus.talk import Talk

NAME = "은행"


def build(rng: random.Random, talk: Talk) -> str:
    return rng.choice((_account, _lost_card, _savings))(rng, talk)


def _account(rng: random.Random, talk: Talk) -> str:
    talk.say(1, "안녕하세요, 통장을 하나 새로 만들고 싶어요. 이번에 회사를 옮겨서요.",
             "입출금 통장 개설하러 왔는데요. 월급 통장으로 쓰려고요.")
    talk.say(2, "네, 신분증 가지고 오셨어요?", "네, 고객님. 신분증 먼저 보여 주시겠어요?")
    if rng.random() < 0.3:
        day = rng.choice(("내일", "모레", "다음 주"))
        talk.say(1, "아, 신분증을 집에 두고 왔네요.", "어, 지갑에 없네요. 신분증을 집에 두고 왔어요.")
        talk.say(2, "신분증이 없으면 계좌 개설이 어렵습니다.",
                 "죄송하지만 본인 확인이 안 되면 통장을 만들 수 없어요.")
        talk.say(1, f"그럼 {day} 다시 올게요.", f"알겠습니다. {day} 신분증 챙겨서 올게요.")
        talk.maybe(0.5, 2, "네, 번거롭게 해 드려 죄송합니다.", "네, 그때 다시 도와 드릴게요.")
        return f"#Person1#은 통장을 만들려 했지만 신분증을 집에 두고 와서 {day} 다시 오기로 한다."
    talk.say(1, "네, 여기 있습니다.", "여기요. 운전면허증도 되죠?")
    talk.say(2, "이 서류에 생년월일과 연락처 적어 주세요.", "신청서에 생년월일과 전화번호를 써 주세요.")
    talk.say(1, "#DateOfBirth#, #PhoneNumber# 이렇게 적으면 되죠?", "다 적었어요. #PhoneNumber# 맞아요.")
    talk.say(2, "네, 체크카드도 같이 만들어 드릴까요?", "감사합니다. 체크카드도 신청하시겠어요?")
    if rng.random() < 0.5:
        talk.say(1, "네, 같이 만들어 주세요.", "네, 체크카드도 주세요.")
        return "#Person1#은 신분증을 보여 주고 새 통장을 만들며 체크카드도 함께 신청한다."
    talk.say(1, "아니요, 통장만 만들게요.", "카드는 괜찮아요. 통장만 해 주세요.")
    return "#Person1#은 신분증을 보여 주고 새 통장을 만들지만 체크카드는 신청하지 않는다."


def _lost_card(rng: random.Random, talk: Talk) -> str:
    place = rng.choice(("지하철", "버스", "카페", "택시", "식당"))
    talk.say(1, f"카드를 잃어버렸어요. {place}에서 잃어버린 것 같아요.",
             f"저, 어제 {place}에서 카드를 잃어버린 것 같은데요.")
    talk.say(2, "바로 정지해 드릴게요. 본인 확인을 위해 생년월일 말씀해 주세요.",
             "많이 놀라셨겠어요. 먼저 생년월일로 본인 확인할게요.")
    talk.say(1, "#DateOfBirth#입니다. 빨리 좀 부탁드려요.", "네, #DateOfBirth#이에요.")
    days = rng.randint(3, 10)
    talk.say(2, f"카드 정지됐습니다. 재발급하시겠어요? 새 카드는 {days}일 정도 걸려요.",
             f"정지 완료했습니다. 재발급 신청하시면 {days}일쯤 뒤에 받으실 수 있어요.")
    if rng.random() < 0.6:
        talk.say(1, "네, 재발급해 주세요.", "네, 새로 만들어 주세요.")
        talk.maybe(0.5, 2, "신청됐습니다. 등록된 주소로 보내 드릴게요.", "네, 접수됐습니다.")
        return (f"#Person1#은 {place}에서 잃어버린 카드를 정지하고 재발급을 신청한다. "
                f"새 카드는 {days}일 정도 걸린다.")
    talk.say(1, "아니요, 일단 정지만 해 주세요.", "혹시 찾을 수도 있으니 재발급은 나중에 할게요.")
    talk.maybe(0.5, 2, "알겠습니다. 찾으시면 정지 해제도 가능해요.", "네, 정지만 해 두겠습니다.")
    return f"#Person1#은 {place}에서 잃어버린 카드를 정지만 하고 재발급은 신청하지 않는다."


def _savings(rng: random.Random, talk: Talk) -> str:
    amount = won(rng.choice((100000, 200000, 300000, 500000)))
    months = rng.choice((6, 12, 24, 36))
    rate = f"{rng.choice((2, 3, 4))}.{rng.choice((0, 2, 5, 8))}%"
    talk.say(1, "적금을 하나 들고 싶은데요. 목돈을 좀 모아 보려고요.",
             "안녕하세요, 적금 상품 좀 알아보러 왔어요.")
    talk.say(2, "네, 매달 얼마씩 넣으실 생각이세요?", "네, 한 달에 얼마 정도 넣으실 건가요?")
    talk.say(1, f"{amount}씩 {months}개월 정도요.", f"매달 {amount}씩 {months}개월 생각하고 있어요.")
    talk.say(2, f"그럼 이 상품이 연 {rate} 금리예요.", f"그 조건이면 연 {rate} 상품이 있습니다.")
    if rng.random() < 0.7:
        talk.say(1, "좋아요, 그걸로 가입할게요.", "괜찮네요. 가입해 주세요.")
        talk.maybe(0.5, 2, "네, 서류 준비해 드릴게요.", "감사합니다. 여기 서명해 주세요.")
        return f"#Person1#은 매달 {amount}씩 {months}개월 동안 넣는 연 {rate} 적금에 가입한다."
    talk.say(1, "생각보다 금리가 낮네요. 좀 더 생각해 볼게요.", "음, 금리가 좀 아쉽네요. 다음에 올게요.")
    talk.maybe(0.5, 2, "네, 언제든 다시 찾아 주세요.", "알겠습니다. 안내문 챙겨 가세요.")
    return f"#Person1#은 적금을 알아보지만 금리가 연 {rate}라 낮아서 가입하지 않는다."
