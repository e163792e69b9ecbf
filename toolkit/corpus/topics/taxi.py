"""A taxi ride: destination, deadline, route and fare."""

from __future__ import annotations

import random

from toolkit.corpus.grammar import josa
from toolkit.corpus.slots import won
from toolkit.corpus.talk import Talk

NAME = "택시"
DESTINATIONS = ("서울역", "김포공항", "강남역", "시청", "인천공항", "코엑스", "고속버스터미널",
                "#Address#")
ROADS = ("올림픽대로", "강변북로", "내부순환로", "남산 터널", "경부고속도로")


def build(rng: random.Random, talk: Talk) -> str:
    dest = rng.choice(DESTINATIONS)
    fare = won(rng.randrange(5800, 48000, 100))
    pay = rng.choice(("카드", "현금"))
    talk.say(1, f"기사님, {josa(dest, '으로')} 가 주세요.", f"안녕하세요. {dest}까지 가 주시겠어요?")
    talk.say(2, "네, 알겠습니다. 혹시 급하세요?", "네, 출발하겠습니다. 시간 약속 있으세요?")
    deadline = f"{rng.randint(1, 11)}시" + rng.choice(("", " 30분"))
    talk.say(1, f"{deadline}까지는 도착해야 하는데 괜찮을까요?",
             f"네, {deadline}까지 가야 해서요. 빨리 가 주시면 좋겠어요.")
    detour = rng.random() < 0.5
    if detour:
        road, other = rng.sample(ROADS, 2)
        talk.say(2, f"지금 {josa(road, '이')} 많이 막혀서 {josa(other, '으로')} 돌아가는 게 빠를 것 같아요.",
                 f"{josa(road, '은')} 사고가 나서 꽉 막혔대요. {josa(other, '으로')} 갈게요.")
        talk.say(1, "네, 그렇게 해 주세요.", "기사님이 편하신 길로 가 주세요.")
    else:
        talk.say(2, "지금은 길이 안 막혀서 충분할 거예요.", "그 정도면 넉넉하게 도착합니다.")
        talk.say(1, "다행이네요. 에어컨 좀 약하게 해 주시겠어요?", "다행이다. 감사합니다.",
                 "잘됐네요. 창문 좀 열어도 될까요?")
    if talk.maybe(0.5, 2, "오늘 날씨가 많이 덥네요. 어디 놀러 가세요?",
                  "이 시간엔 보통 차가 많은데 오늘은 괜찮네요."):
        talk.say(1, "아니요, 일 때문에 가요.", "네, 친구 만나러 가요.", "그러게요. 운이 좋네요.")
    talk.say(2, f"도착했습니다. 요금은 {josa(fare, '이에요')}.", f"다 왔습니다. {fare} 나왔어요.")
    talk.say(1, f"{josa(pay, '으로')} 계산할게요.", f"여기요, {josa(pay, '으로')} 드릴게요. 영수증도 주세요.")
    tail = f"{dest}에 도착해 요금 {josa(fare, '을')} {josa(pay, '으로')} 낸다."
    if detour:
        return f"#Person2#는 {josa(road, '이')} 막혀 {josa(other, '으로')} 돌아가고, #Person1#은 {tail}"
    return f"#Person1#은 {deadline}까지 가야 해서 택시를 타고 {tail}"
