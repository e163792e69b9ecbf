"""At the library: borrowing, reserving, or returning a book late."""

from __future__ import annotations

import random

from toolkit.corpus.grammar import josa
from toolkit.corpus.slots import date
from toolkit.corpus.talk import Talk

NAME = "도서관"
TITLES = ("데미안", "어린 왕자", "코스모스", "채식주의자", "사피엔스", "아몬드", "미움받을 용기",
          "달러구트 꿈 백화점")


def build(rng: random.Random, talk: Talk) -> str:
    title = rng.choice(TITLES)
    kind = rng.choice(("borrow", "reserve", "overdue"))
    if kind == "overdue":
        return _overdue(rng, talk, title)
    talk.say(1, f"안녕하세요, {title} 빌리고 싶은데 있나요? 과제 때문에 꼭 읽어야 해서요.",
             f"저기요, {josa(title, '을')} 찾고 있는데요. 어디 있는지 알 수 있을까요?")
    if kind == "reserve":
        talk.say(2, f"{josa(title, '은')} 지금 대출 중이에요. 예약해 드릴까요?",
                 f"검색해 보니 {josa(title, '은')} 다른 분이 빌려 가셨네요. 예약 걸어 드릴까요?")
        talk.say(1, "네, 예약해 주세요. 언제쯤 돌아오나요?", "네, 그렇게 해 주세요.")
        talk.say(2, "책이 반납되면 문자로 알려 드릴게요.", "반납되는 대로 문자 보내 드릴게요.")
        talk.maybe(0.6, 1, "감사합니다. 기다릴게요.", "알겠습니다. 연락 기다릴게요.")
        return f"#Person1#은 {josa(title, '이')} 대출 중이라 예약하고, 책이 반납되면 문자를 받기로 한다."
    due = date(rng)
    talk.say(2, "네, 2층 문학 코너에 있어요. 회원증 있으세요?",
             "네, 대출 가능해요. 회원증 보여 주시겠어요?")
    if rng.random() < 0.5:
        talk.say(1, "아직 회원이 아니에요.", "회원증이 없는데요. 여기 처음 왔어요.")
        talk.say(2, "그럼 회원 가입부터 해 드릴게요. 이메일 주소 알려 주세요.",
                 "가입하시면 바로 빌리실 수 있어요. 이메일 주소가 어떻게 되세요?")
        talk.say(1, "#Email#이에요.", "#Email#입니다.")
        talk.say(2, f"가입됐습니다. 반납은 {due}까지예요.", f"다 됐습니다. {due}까지 반납해 주세요.")
        return f"#Person1#은 도서관 회원으로 가입하고 {josa(title, '을')} 빌린다. 반납일은 {due}이다."
    talk.say(1, "네, 여기요.", "여기 있습니다.")
    talk.say(2, f"대출됐습니다. 반납은 {due}까지입니다.", f"{due}까지 반납해 주시면 돼요.")
    talk.maybe(0.6, 1, "네, 감사합니다.", "알겠습니다. 기한 안에 가져올게요.")
    return f"#Person1#은 {josa(title, '을')} 빌리고 {due}까지 반납해야 한다."


def _overdue(rng: random.Random, talk: Talk, title: str) -> str:
    days = rng.randint(2, 9)
    talk.say(1, f"안녕하세요, {title} 반납하려고요. 반납함이 꽉 차 있어서 직접 가져왔어요.",
             f"이 책 반납할게요. {josa(title, '이에요')}. 혹시 늦은 건 아니죠?")
    talk.say(2, f"확인해 볼게요. 반납일이 {days}일 지났네요.", f"아, 이 책은 {days}일 연체됐어요.")
    talk.say(1, "아, 깜빡했어요. 어떻게 되나요?", "죄송해요. 연체료가 있나요?")
    talk.say(2, f"연체료는 없지만 {days}일 동안 대출이 정지됩니다.",
             f"늦은 만큼 {days}일 동안 책을 빌리실 수 없어요.")
    talk.say(1, "알겠습니다. 다음부터 조심할게요.", "네, 알겠어요. 요즘 너무 바빴네요.")
    talk.maybe(0.5, 2, "반납 알림 문자를 신청하시면 편해요.", "네, 다음부터는 기한 꼭 확인하세요.")
    return f"#Person1#은 {josa(title, '을')} {days}일 늦게 반납해서 {days}일 동안 대출이 정지된다."
