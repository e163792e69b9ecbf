"""Colleagues fixing the date of a meeting, for two or three people."""

from __future__ import annotations

import random

from toolkit.corpus.grammar import josa
from toolkit.corpus.slots import DAYS, clock
from toolkit.corpus.talk import Talk

NAME = "업무 회의"
AGENDAS = ("분기 실적", "신제품 출시", "내년 예산안", "마케팅 전략", "고객 설문 결과", "홈페이지 개편")
ROOMS = ("대회의실", "소회의실", "3층 회의실", "5층 회의실")
CONFLICTS = ("외근", "고객 미팅", "병원 예약", "교육", "출장")


def build(rng: random.Random, talk: Talk) -> str:
    agenda = rng.choice(AGENDAS)
    room = rng.choice(ROOMS)
    first, second = rng.sample(DAYS[1:], 2)
    time = clock(rng)
    conflict = rng.choice(CONFLICTS)
    accepted = rng.random() < 0.5
    if rng.random() < 0.6:  # #Person1# asks #Person2# and #Person3#; #Person3# may be busy
        talk.say(1, f"두 분 다 계시네요. {agenda} 회의 일정 좀 정하려고요.",
                 f"잠깐 괜찮으세요? {agenda} 건으로 회의를 한번 해야 할 것 같아서요.")
        talk.say(2, "네, 언제로 할까요?", "좋아요. 언제가 괜찮으세요?")
        talk.say(1, f"{first} {time}에 {room}에서 하면 어떨까요?",
                 f"{first} {time} 어때요? {josa(room, '이')} 비어 있더라고요.")
        talk.say(2, "저는 괜찮아요.", "저는 그때 좋습니다.")
        if accepted:
            talk.say(3, "저도 좋습니다. 그때 뵐게요.", "저도 시간 됩니다. 자료 챙겨 갈게요.")
            talk.say(1, "그럼 그때 봬요.", "좋아요, 회의실은 제가 예약해 둘게요.")
            talk.maybe(0.5, 2, "발표 자료는 제가 미리 공유할게요.", "네, 그럼 그때 뵙겠습니다.")
            return (f"#Person1#, #Person2#, #Person3#은 {first} {time}에 {room}에서 {agenda} "
                    "회의를 하기로 한다.")
        talk.say(3, f"죄송한데 저는 {first}에 {josa(conflict, '이')} 있어요. {josa(second, '이면')} 가능해요.",
                 f"아, 저는 {first}에 {josa(conflict, '이')} 잡혀 있어서요. {josa(second, '은')} 어떠세요?")
        talk.say(1, f"그럼 {second} 같은 시간으로 하죠.", f"좋아요, {second} {josa(time, '으로')} 옮겨요.")
        talk.say(2, "네, 그게 좋겠네요.", "저도 그날 괜찮아요.")
        talk.maybe(0.5, 3, "배려해 주셔서 감사합니다.", "감사합니다. 자료는 제가 준비할게요.")
        return (f"#Person3#이 {first}에 {josa(conflict, '이')} 있어서 세 사람은 {agenda} 회의를 "
                f"{second} {josa(time, '으로')} 미룬다.")
    talk.say(1, f"{agenda} 관련해서 회의 일정을 잡으려고 하는데요.",
             f"{agenda} 건으로 회의를 한번 해야 할 것 같은데요.")
    talk.say(2, "좋아요. 언제가 좋을까요?", "네, 언제로 할까요?")
    talk.say(1, f"{first} {time}에 {room}에서 어때요?", f"{first} {time} 괜찮으세요? {room}에서요.")
    if accepted:
        talk.say(2, "좋아요, 그때 봬요.", "네, 그 시간 괜찮아요.")
        talk.say(1, "그럼 회의실 예약해 둘게요.", "좋아요. 참석자들에게도 알릴게요.")
        talk.maybe(0.5, 2, "네, 저는 지난 자료 정리해서 갈게요.", "감사합니다. 그때 뵐게요.")
        return f"#Person1#과 #Person2#는 {first} {time}에 {room}에서 {agenda} 회의를 하기로 한다."
    talk.say(2, f"{first}에는 제가 {josa(conflict, '이')} 있어서요. {josa(second, '은')} 어떠세요?",
             f"죄송해요, {first}에는 {josa(conflict, '이')} 있어요. {josa(second, '이면')} 좋겠어요.")
    talk.say(1, f"그럼 {second} {josa(time, '으로')} 하죠.", f"알겠어요. {second} 같은 시간으로 해요.")
    talk.say(2, "네, 감사합니다.", "좋아요, 그때 봬요.")
    return (f"#Person2#가 {first}에 {josa(conflict, '이')} 있어서 #Person1#과 #Person2#는 "
            f"{agenda} 회의를 {second} {josa(time, '으로')} 잡는다.")

