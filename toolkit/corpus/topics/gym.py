"""Signing up at a gym, perhaps with personal training."""

from __future__ import annotations

import random

from toolkit.corpus.grammar import josa
from toolkit.corpus.slots import won
from toolkit.corpus.talk import Talk

NAME = "헬스장 등록"
REASONS = ("살을 빼고 싶어서", "요즘 체력이 떨어져서", "허리가 안 좋아서", "근력을 키우고 싶어서")


def build(rng: random.Random, talk: Talk) -> str:
    months = rng.choice((1, 3, 6, 12))
    price = won(months * rng.choice((50000, 60000, 70000)) - (months // 3) * 20000)
    reason = rng.choice(REASONS)
    talk.say(1, f"안녕하세요. {reason} 헬스장 등록하려고 왔어요.",
             f"{reason} 운동을 시작하려는데 등록 가능하죠?")
    talk.say(2, "네, 몇 개월로 생각하세요?", "네, 환영합니다. 기간은 어떻게 하실 건가요?")
    talk.say(1, f"{months}개월이면 얼마예요?", f"일단 {months}개월 하려고요. 가격이 어떻게 되나요?")
    talk.say(2, f"{months}개월은 {josa(price, '이에요')}. 운동복이랑 수건은 무료예요.",
             f"{months}개월 등록하시면 {price}입니다. 샤워실도 자유롭게 쓰실 수 있어요.")
    if rng.random() < 0.25:
        talk.say(1, "생각보다 비싸네요. 좀 더 생각해 볼게요.",
                 "음, 좀 부담되네요. 생각해 보고 다시 올게요.")
        talk.say(2, "네, 천천히 생각해 보세요.", "알겠습니다. 언제든 오세요.")
        return (f"#Person1#은 헬스장 {months}개월 가격이 {josa(price, '이라')} 비싸서 좀 더 생각해 "
                "보기로 한다.")
    talk.say(1, "좋아요, 그걸로 할게요.", "네, 등록할게요. 카드로 결제할게요.")
    pt = rng.choice((10, 20)) if rng.random() < 0.4 else 0
    if pt:
        talk.say(2, f"개인 PT도 있는데 {pt}회 같이 하시겠어요? 이메일도 알려 주세요.",
                 f"PT {pt}회 패키지도 있어요. 안내 메일 보낼 주소도 알려 주세요.")
        talk.say(1, f"PT도 {pt}회 할게요. 이메일은 #Email#이에요.",
                 f"네, PT {pt}회도 해 주세요. #Email#입니다.")
        talk.maybe(0.5, 2, "등록됐습니다. 내일부터 나오시면 돼요.",
                   "감사합니다. 트레이너가 연락드릴 거예요.")
        return (f"#Person1#은 {reason} 헬스장 {months}개월을 {price}에 등록하고 PT {pt}회도 "
                "함께 신청한다.")
    talk.say(2, "회원 정보 등록하게 이메일 주소 알려 주세요.",
             "가입 안내는 이메일로 보내 드릴게요. 주소가 어떻게 되세요?")
    talk.say(1, "#Email#이에요.", "#Email#입니다.")
    talk.maybe(0.5, 2, "등록됐습니다. 오늘부터 이용하시면 돼요.", "감사합니다. 열심히 운동하세요.")
    return f"#Person1#은 {reason} 헬스장 {months}개월을 {price}에 등록한다."
