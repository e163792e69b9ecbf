"""Friends making plans to see a film; a third friend may join."""

from __future__ import annotations

import random

from toolkit.corpus.grammar import josa
from toolkit.corpus.slots import DAYS, clock
from toolkit.corpus.talk import Talk

NAME = "영화"
MOVIES = ("범죄도시", "인사이드 아웃", "듄", "서울의 봄", "엘리멘탈", "파묘", "탑건", "하얼빈")
PLANS = ("알바", "시험공부", "가족 모임", "야근", "동아리 모임")


def build(rng: random.Random, talk: Talk) -> str:
    title, other = rng.sample(MOVIES, 2)
    day = rng.choice(DAYS)
    time = clock(rng)
    talk.say(1, f"{day}에 {title} 보러 갈래? 요즘 제일 인기래. 평점도 엄청 좋더라.",
             f"우리 {day} 영화 볼래? {josa(title, '이')} 재밌대. 다들 보러 간다던데.")
    outcome = rng.choice(("agree", "switch", "decline"))
    if outcome == "decline":
        plan = rng.choice(PLANS)
        talk.say(2, f"미안, {day}에는 {josa(plan, '이')} 있어서 안 될 것 같아.",
                 f"아, 나 {day}에 {josa(plan, '이')} 있어.")
        talk.say(1, "아쉽다. 그럼 다음에 보자. 끝나면 연락해.", "그래? 그럼 다음에 같이 가자.")
        talk.say(2, "응, 다음엔 꼭 같이 보자.", "미안해. 다음 주에 다시 얘기하자.")
        return (f"#Person1#은 #Person2#에게 {day}에 {josa(title, '을')} 보자고 하지만 "
                f"#Person2#는 {josa(plan, '이')} 있어서 다음에 보기로 한다.")
    if outcome == "switch":
        talk.say(2, f"{josa(title, '은')} 나 이미 봤어. {josa(other, '은')} 어때?",
                 f"나 {josa(title, '은')} 지난주에 봤는데. 대신 {other} 보자.")
        talk.say(1, f"좋아, 그럼 {other} 보자.", f"{other}도 괜찮지. 그걸로 하자.")
        title = other
        chooser = 2
    else:
        talk.say(2, "좋아! 몇 시 거 볼까?", "오, 나도 보고 싶었어. 몇 시로 할까?")
        chooser = 1
    talk.say(chooser, f"{time} 거 있던데 그거 예매할까?", f"{time}에 자리 많더라. 그걸로 하자.")
    if rng.random() < 0.4:
        talk.say(3, "너희 영화 보러 가? 나도 같이 가도 돼?", "나도 끼워 줘! 나도 그거 보고 싶었어.")
        talk.say(1, "당연하지! 그럼 세 명으로 예매할게.", "좋아, 셋이 같이 가자. 자리는 내가 잡을게.")
        talk.maybe(0.5, 3, "고마워! 팝콘은 내가 살게.", "신난다. 그날 보자!")
        return f"#Person1#, #Person2#, #Person3#은 {day} {time}에 {josa(title, '을')} 함께 보기로 한다."
    talk.say(3 - chooser, "응, 좋아. 팝콘은 내가 살게.", "좋아, 그 시간으로 하자.")
    return f"#Person1#과 #Person2#는 {day} {time}에 {josa(title, '을')} 보기로 한다."
