"""Embedded default corpus: seeded synthetic Korean dialogues for dialogue summarization.

Rows follow the Korean dialogue-summarization competition format (DialogSum style): turns are
``#PersonN#: ...`` lines joined by newlines, some turns carry masked entities such as
``#PhoneNumber#``, and summaries refer to speakers by tag. Every summary is a deterministic
function of what its dialogue shows (topic, slot values, outcome), so it is learnable from the
dialogue alone; surface wording of the dialogue varies at random. Generation uses only private
``random.Random`` instances and ordered sequences, so a seed yields identical output everywhere.
"""

from __future__ import annotations

import random
from collections.abc import Callable

_NAMES = (
    "김민수",
    "이지은",
    "박서준",
    "최유나",
    "정하늘",
    "강도윤",
    "윤서연",
    "한지호",
    "오민지",
    "서태양",
    "임수빈",
    "장현우",
    "신예린",
    "조성민",
    "백하은",
    "권도현",
)
_DAYS = (
    "오늘",
    "내일",
    "모레",
    "이번 주 목요일",
    "이번 주 금요일",
    "이번 주 토요일",
    "다음 주 월요일",
    "다음 주 화요일",
    "다음 주 수요일",
)
_PARTICLES = {
    "은": ("은", "는"),
    "이": ("이", "가"),
    "을": ("을", "를"),
    "과": ("과", "와"),
    "이에요": ("이에요", "예요"),
    "이라": ("이라", "라"),
    "이면": ("이면", "면"),
    "이죠": ("이죠", "죠"),
}
# Jongseong of digits read in Sino-Korean: 0 영, 1 일, 3 삼, 6 육, 7 칠, 8 팔.
_DIGIT_FINALS = {"0": 21, "1": 8, "3": 16, "6": 1, "7": 8, "8": 8}
_RIEUL = 8


def _final(word: str) -> int:
    """Jongseong index of the last pronounced character (0 when it ends in a vowel)."""
    last = word.rstrip("#. ")[-1]
    if "가" <= last <= "힣":
        return (ord(last) - 0xAC00) % 28
    return _DIGIT_FINALS.get(last, 0)


def _j(word: str, particle: str) -> str:
    """Attach a Korean particle in the form that agrees with ``word``'s final sound."""
    final = _final(word)
    if particle == "으로":
        return word + ("으로" if final not in (0, _RIEUL) else "로")
    with_final, without_final = _PARTICLES[particle]
    return word + (with_final if final else without_final)


def _won(amount: int) -> str:
    """Format a price such as ``39,000원``."""
    return f"{amount:,}원"


def _clock(rng: random.Random, *, meal: bool = False) -> str:
    """A time of day such as ``오후 3시`` or ``저녁 7시 30분``."""
    if meal:
        slots = [("점심", 12), ("점심", 1), ("저녁", 6), ("저녁", 7), ("저녁", 8)]
    else:
        slots = [("오전", h) for h in (9, 10, 11)] + [("오후", h) for h in (1, 2, 3, 4, 5, 6)]
    period, hour = rng.choice(slots)
    return f"{period} {hour}시" + rng.choice(("", " 30분"))


def _date(rng: random.Random) -> str:
    """A calendar date such as ``5월 17일``."""
    return f"{rng.randint(1, 12)}월 {rng.randint(1, 28)}일"


def _two(make: Callable[[], str]) -> tuple[str, str]:
    """Two distinct values drawn from ``make``."""
    first = make()
    second = make()
    while second == first:
        second = make()
    return first, second


class _Talk:
    """Accumulates dialogue turns, choosing one paraphrase per turn."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.turns: list[str] = []

    def say(self, speaker: int, *options: str) -> None:
        self.turns.append(f"#Person{speaker}#: {self.rng.choice(options)}")

    def maybe(self, p: float, speaker: int, *options: str) -> bool:
        """Add a turn with probability ``p``; return whether it was added."""
        added = self.rng.random() < p
        if added:
            self.say(speaker, *options)
        return added

    def text(self) -> str:
        return "\n".join(self.turns)


_Builder = Callable[[random.Random, _Talk], str]

_CLINICS = (
    ("치과", ("이가 시려서", "사랑니 쪽이 아파서", "잇몸에서 피가 나서", "어금니가 욱신거려서")),
    ("피부과", ("얼굴에 두드러기가 나서", "여드름이 심해져서", "손등에 습진이 생겨서")),
    ("안과", ("눈이 자꾸 충혈돼서", "눈이 가렵고 따가워서", "눈이 침침해서")),
    ("이비인후과", ("목이 계속 아파서", "코가 막혀서", "귀가 먹먹해서")),
    ("정형외과", ("허리가 아파서", "발목을 삐어서", "무릎이 시큰거려서")),
    ("내과", ("열이 나고 기침이 나서", "배가 계속 아파서", "소화가 잘 안 돼서")),
)


def _hospital(rng: random.Random, talk: _Talk) -> str:
    clinic, reasons = rng.choice(_CLINICS)
    reason = rng.choice(reasons)
    place = rng.choice(("서울", "하나", "튼튼", "밝은", "미소", "우리")) + clinic
    day = rng.choice(_DAYS)
    first, second = _two(lambda: _clock(rng))
    short_opening = rng.random() < 0.5
    if short_opening:
        talk.say(
            1,
            f"안녕하세요, {reason} 진료를 좀 받고 싶은데 예약이 될까요?",
            f"여보세요? {reason} 그러는데 진료 예약 좀 할 수 있을까요?",
        )
        talk.say(
            2,
            f"네, {place}입니다. 언제 오시겠어요?",
            f"네, {place}입니다. 원하시는 날짜와 시간이 있으세요?",
        )
    else:
        talk.say(
            1,
            f"여보세요, {_j(place, '이죠')}? 진료 예약 좀 하려고요.",
            f"안녕하세요, {place} 맞나요? 예약하려고 전화드렸어요.",
        )
        talk.say(2, "네, 맞습니다. 어디가 불편하세요?", "네, 어떤 증상 때문에 그러세요?")
        talk.say(1, f"{reason}요. 며칠째 계속 그러네요.", f"{reason} 진료를 받아 보려고요.")
        talk.say(
            2, "많이 불편하시겠어요. 언제 오시겠어요?", "그러시군요. 원하시는 시간이 있으세요?"
        )
    talk.say(
        1,
        f"{day} {first}에 가능할까요? 그때가 제일 편해서요.",
        f"혹시 {day} {first}에 자리 있나요?",
        f"{day} {first}쯤 괜찮을까요?",
    )
    if short_opening and talk.maybe(
        0.5,
        2,
        "잠시만요, 확인해 볼게요. 저희 병원은 처음이세요?",
        "네, 잠깐만 기다려 주세요. 전에 오신 적 있으세요?",
    ):
        talk.say(1, "네, 처음이에요.", "아니요, 작년에 한 번 간 적 있어요.")
    outcome = rng.choice(("accepted", "rescheduled", "declined"))
    if outcome == "accepted":
        confirm = rng.choice(
            (
                f"{day} {first} 비어 있네요. 그 시간으로 예약해 드릴게요.",
                "네, 그 시간 가능하세요. 바로 잡아 드릴게요.",
            )
        )
        summary = f"#Person1#은 {reason} {day} {_j(first, '으로')} {clinic} 진료를 예약한다."
    else:
        talk.say(
            2,
            f"죄송하지만 그 시간은 예약이 다 찼어요. {_j(second, '은')} 어떠세요?",
            f"그 시간은 이미 꽉 찼네요. 같은 날 {second}에는 자리가 있어요.",
        )
        if outcome == "declined":
            talk.say(
                1,
                f"{second}에는 제가 일이 있어서 안 되겠네요. 다시 전화드릴게요.",
                f"아, {second}에는 어렵겠어요. 일정 확인해 보고 다시 연락드릴게요.",
            )
            talk.say(2, "네, 알겠습니다. 편하실 때 연락 주세요.", "네, 그럼 다시 전화 주세요.")
            return (
                f"#Person1#은 {day} {clinic} 진료를 예약하려 했지만 원하는 시간에 자리가 "
                "없어 다시 전화하기로 한다."
            )
        talk.say(
            1, f"그럼 {_j(second, '으로')} 해 주세요.", f"네, {second}도 괜찮아요. 그때로 할게요."
        )
        confirm = f"네, {day} {_j(second, '으로')} 예약해 드렸습니다."
        summary = (
            f"#Person1#은 {reason} {clinic} 예약을 하는데 {first}에는 자리가 없어 "
            f"{day} {_j(second, '으로')} 예약한다."
        )
    notice = rng.random() < 0.4
    id_notice = "처음 오시면 신분증 꼭 챙겨 오세요."
    if rng.random() < 0.5:
        talk.say(2, f"{confirm} 예약하시는 분 성함과 생년월일 말씀해 주시겠어요?")
        name = rng.choice(_NAMES)
        talk.say(
            1,
            f"{_j(name, '이에요')}. 생년월일은 #DateOfBirth#이고요.",
            f"{name}, #DateOfBirth#입니다.",
        )
        talk.say(2, f"확인됐습니다. {id_notice}" if notice else "확인됐습니다. 그때 뵙겠습니다.")
    else:
        talk.say(2, f"{confirm} {id_notice}" if notice else confirm)
        talk.say(1, "네, 감사합니다.", "알겠습니다. 그때 뵐게요.", "감사합니다. 수고하세요.")
    if notice:
        summary += " #Person2#는 신분증을 챙겨 오라고 안내한다."
    return summary


_ITEMS = (
    ("운동화", 89000, True),
    ("셔츠", 39000, True),
    ("청바지", 59000, True),
    ("원피스", 79000, True),
    ("니트", 45000, True),
    ("가방", 129000, False),
    ("블루투스 이어폰", 99000, False),
    ("전기포트", 35000, False),
    ("텀블러", 25000, False),
)
_COLORS = ("검은색", "흰색", "남색", "회색", "베이지색")


def _shopping(rng: random.Random, talk: _Talk) -> str:
    item, amount, wearable = rng.choice(_ITEMS)
    cost = _won(amount)
    outcome = rng.choice(("refund", "exchange", "declined"))
    if outcome == "exchange":
        reason = rng.choice(("색상이 사진과 달라서", "색이 생각보다 너무 밝아서"))
        talk.say(
            1,
            f"저기요, 지난주에 여기서 {_j(item, '을')} 샀는데요. {reason} 다른 색으로 "
            "바꾸고 싶어요.",
            f"안녕하세요. 여기서 {_j(item, '을')} 샀는데 {reason} 교환하러 왔어요.",
        )
    else:
        reasons = ["불량이 있어서", "마음이 바뀌어서", "흠집이 나 있어서"]
        reason = rng.choice([*reasons, "사이즈가 맞지 않아서"] if wearable else reasons)
        talk.say(
            1,
            f"안녕하세요, 이 {item} 환불 좀 받고 싶은데요. {reason}요.",
            f"저기요, {reason} 이 {item} 환불하러 왔어요.",
        )
    talk.say(
        2,
        "네, 영수증 가지고 계세요?",
        "네, 고객님. 영수증 좀 보여 주시겠어요?",
        "아, 그러세요? 구매하신 영수증 있으실까요?",
    )
    days = rng.randint(16, 30) if outcome == "declined" else rng.randint(2, 13)
    talk.say(
        1,
        f"네, 여기요. {days}일 전에 {cost} 주고 샀어요.",
        f"여기 있어요. {days}일 전에 샀고 {_j(cost, '이에요')}.",
    )
    if talk.maybe(
        0.5,
        2,
        "제품 상태 좀 확인할게요. 사용하신 적은 있으세요?",
        "잠시 물건 좀 볼게요. 포장은 그대로 있나요?",
    ):
        talk.say(1, "아니요, 한 번 꺼내 보기만 했어요.", "포장만 뜯고 거의 안 썼어요.")
    if outcome == "declined":
        talk.say(
            2,
            f"죄송하지만 구매하신 지 {days}일이 지나서 환불이 어렵습니다. "
            "환불은 14일 이내에만 가능해요.",
            f"고객님, 저희는 14일 이내에만 환불이 되는데 벌써 {days}일이 지나셨네요.",
        )
        talk.say(
            1,
            "정말 안 되나요? 거의 새 거나 마찬가지인데요.",
            "아, 그래요? 조금만 봐주시면 안 될까요?",
        )
        talk.say(
            2, "죄송합니다. 규정상 어렵습니다.", "정말 죄송합니다. 기간이 지나면 처리가 안 돼요."
        )
        return (
            f"#Person1#은 {_j(item, '을')} 환불하려 했지만 산 지 {days}일이 지나 환불받지 못한다."
        )
    if outcome == "exchange":
        color = rng.choice(_COLORS)
        talk.say(
            2,
            "네, 교환 가능합니다. 어떤 색으로 드릴까요?",
            "확인했습니다. 원하시는 색상이 있으세요?",
        )
        talk.say(1, f"{_j(color, '으로')} 주세요.", f"음, {_j(color, '으로')} 할게요.")
        talk.say(
            2,
            f"여기 {color} 있습니다. 한번 확인해 보세요.",
            f"{color} 재고가 있네요. 바로 바꿔 드릴게요.",
        )
        talk.say(1, "네, 이게 훨씬 낫네요. 감사합니다.", "좋아요, 감사합니다.")
        return f"#Person1#은 {reason} {cost}에 산 {_j(item, '을')} {_j(color, '으로')} 교환한다."
    talk.say(
        2,
        f"네, 확인됐습니다. {cost} 결제하신 카드로 취소해 드릴게요.",
        f"네, 환불해 드리겠습니다. 카드 결제 {cost} 취소됩니다.",
    )
    talk.say(1, "감사합니다. 처리가 빠르네요.", "네, 알겠습니다. 감사합니다.")
    return f"#Person1#은 {reason} {cost}에 산 {_j(item, '을')} 환불받는다."


_DESTINATIONS = ("제주도", "부산", "강릉", "오사카", "도쿄", "방콕", "다낭", "타이베이", "괌")


def _travel(rng: random.Random, talk: _Talk) -> str:
    dest = rng.choice(_DESTINATIONS)
    nights = rng.randint(2, 4)
    trip = f"{nights}박 {nights + 1}일"
    people = rng.randint(2, 5)
    first, second = _two(lambda: _date(rng))
    price = _won(rng.randrange(300000, 1300000, 50000))
    talk.say(
        1,
        f"안녕하세요, {dest} 여행 상품 좀 알아보려고요.",
        f"{_j(dest, '으로')} 여행을 가려는데 패키지 상품이 있을까요?",
    )
    talk.say(2, "네, 언제 출발하실 예정이세요?", "네, 출발 날짜와 인원을 알려 주시겠어요?")
    talk.say(
        1,
        f"{first}에 출발해서 {_j(trip, '으로')} 생각하고 있어요. {people}명이에요.",
        f"{people}명이고요, {first} 출발로 {trip} 정도요.",
    )
    if talk.maybe(0.5, 2, "혹시 원하시는 숙소 조건이 있으세요?", "숙소는 어떤 곳을 선호하세요?"):
        talk.say(
            1,
            "바다가 보이는 곳이면 좋겠어요.",
            "조식이 나오는 곳이면 좋겠어요.",
            "시내랑 가까우면 좋겠어요.",
        )
    outcome = rng.choice(("booked", "rescheduled", "declined"))
    if outcome == "rescheduled":
        talk.say(
            2,
            f"죄송하지만 {_j(first, '은')} 이미 마감됐어요. {second} 출발은 자리가 "
            f"있고 1인당 {_j(price, '이에요')}.",
            f"{first} 출발 상품은 다 찼네요. 대신 {_j(second, '은')} 가능하고 1인당 {price}입니다.",
        )
        talk.say(
            1, f"그럼 {_j(second, '으로')} 할게요.", f"괜찮아요. {second} 출발로 예약해 주세요."
        )
        summary = (
            f"#Person1#은 {_j(first, '은')} 마감이라 {second}에 출발하는 {dest} {trip} "
            f"여행을 {people}명으로 예약한다."
        )
    else:
        talk.say(
            2,
            f"그 일정이면 1인당 {price} 상품이 있습니다. 호텔과 조식이 포함돼 있어요.",
            f"네, {first} 출발 상품은 1인당 {_j(price, '이에요')}. 항공권과 숙소 포함이에요.",
        )
        if outcome == "declined":
            talk.say(
                1,
                "생각보다 비싸네요. 조금 더 알아보고 다시 올게요.",
                "음, 가격이 좀 부담되네요. 다른 데도 알아볼게요.",
            )
            talk.say(2, "네, 천천히 생각해 보세요.", "알겠습니다. 언제든 다시 연락 주세요.")
            return (
                f"#Person1#은 {dest} {trip} 여행을 알아보지만 1인당 {_j(price, '이')} "
                "비싸서 예약하지 않는다."
            )
        talk.say(1, "좋네요. 그걸로 예약할게요.", "괜찮네요. 그 상품으로 해 주세요.")
        summary = f"#Person1#은 {first}에 출발하는 {dest} {trip} 여행을 {people}명으로 예약한다."
    if rng.random() < 0.5:
        talk.say(
            2,
            "예약 확인 메일은 #Email#로 보내 드릴게요. 이 주소 맞으시죠?",
            "이메일이 #Email# 맞으세요? 예약 확인 메일을 그쪽으로 보내 드릴게요.",
        )
        talk.say(1, "네, 맞아요. 감사합니다.", "네, 그 주소로 보내 주세요.")
        summary += " #Person2#는 예약 확인 메일을 보내 주기로 한다."
    else:
        talk.say(
            2,
            "네, 예약 완료됐습니다. 즐거운 여행 되세요.",
            "예약 도와 드렸습니다. 출발 전에 다시 안내 연락 드릴게요.",
        )
    return summary


_RESTAURANTS = ("바다횟집", "소담한정식", "라 피아짜", "미소 스시", "청기와 갈비", "정원 레스토랑")
_OCCASIONS = ("부모님 생신", "결혼기념일", "회사 회식", "친구 생일", "동창 모임")
_REQUESTS = ("창가 자리", "룸", "아기 의자", "조용한 자리")


def _restaurant(rng: random.Random, talk: _Talk) -> str:
    place = rng.choice(_RESTAURANTS)
    day = rng.choice(_DAYS)
    people = rng.randint(2, 8)
    first, second = _two(lambda: _clock(rng, meal=True))
    talk.say(
        1,
        f"여보세요, {_j(place, '이죠')}? {day} 예약 좀 하려고요.",
        f"안녕하세요, {_j(place, '이죠')}? {rng.choice(_OCCASIONS)} 모임이 있어서 {day} "
        "예약하고 싶은데요.",
    )
    talk.say(2, f"네, {place}입니다. 몇 분이세요?", "네, 감사합니다. 몇 분이 오시나요?")
    talk.say(
        1, f"{people}명이요. {first}에 가능할까요?", f"{people}명이고요, {first}쯤 가려고 해요."
    )
    outcome = rng.choice(("accepted", "rescheduled", "declined"))
    if outcome == "declined":
        talk.say(
            2,
            f"죄송합니다만 {_j(day, '은')} 예약이 모두 찼습니다.",
            f"아이고, {_j(day, '은')} 이미 자리가 다 찼네요. 죄송합니다.",
        )
        talk.say(1, "아쉽네요. 다음에 다시 연락드릴게요.", "그래요? 할 수 없죠. 다음에 갈게요.")
        talk.maybe(0.5, 2, "죄송합니다. 다음에 꼭 모실게요.", "네, 다음에 꼭 찾아 주세요.")
        return (
            f"#Person1#은 {place}에 {people}명 예약을 하려 했지만 {_j(day, '은')} 자리가 "
            "다 차서 예약하지 못한다."
        )
    if outcome == "rescheduled":
        talk.say(
            2,
            f"{_j(first, '은')} 자리가 없고 {_j(second, '은')} 가능합니다.",
            f"죄송하지만 {_j(first, '은')} 다 찼어요. {_j(second, '은')} 어떠세요?",
        )
        talk.say(1, f"그럼 {_j(second, '으로')} 할게요.", f"네, {second}도 괜찮아요.")
        summary = (
            f"#Person1#은 {place}에 {first} 자리가 없어 {day} {_j(second, '으로')} "
            f"{people}명 예약을 한다."
        )
    else:
        talk.say(
            2,
            f"네, {day} {first}에 {people}명 예약 가능합니다.",
            f"{first} 비어 있네요. {people}명으로 잡아 드릴게요.",
        )
        talk.say(1, "잘됐네요. 감사합니다.", "좋아요, 그렇게 해 주세요.")
        summary = f"#Person1#은 {place}에 {day} {first} {people}명 예약을 한다."
    talk.say(2, "예약자분 연락처 남겨 주시겠어요?", "연락 가능한 번호 하나 알려 주세요.")
    request = rng.choice(_REQUESTS) if rng.random() < 0.5 else ""
    if request:
        talk.say(
            1,
            f"#PhoneNumber#입니다. 혹시 {request} 가능할까요?",
            f"#PhoneNumber#이요. 그리고 {request} 부탁드려도 될까요?",
        )
        talk.say(2, f"네, {request} 준비해 두겠습니다.", f"물론이죠. {request} 마련해 둘게요.")
        summary += f" #Person2#는 {_j(request, '을')} 준비해 주기로 한다."
    else:
        talk.say(1, "#PhoneNumber#입니다.", "네, #PhoneNumber#이에요.")
        talk.say(2, "감사합니다. 그날 뵙겠습니다.", "예약 완료됐습니다. 감사합니다.")
    talk.maybe(0.5, 1, "네, 그날 뵐게요.", "감사합니다. 수고하세요.")
    return summary


_AGENDAS = (
    "분기 실적",
    "신제품 출시",
    "내년 예산안",
    "마케팅 전략",
    "고객 설문 결과",
    "홈페이지 개편",
)
_ROOMS = ("대회의실", "소회의실", "3층 회의실", "5층 회의실")
_CONFLICTS = ("외근", "고객 미팅", "병원 예약", "교육", "출장")


def _meeting(rng: random.Random, talk: _Talk) -> str:
    agenda = rng.choice(_AGENDAS)
    room = rng.choice(_ROOMS)
    first, second = rng.sample(_DAYS[1:], 2)
    time = _clock(rng)
    conflict = rng.choice(_CONFLICTS)
    accepted = rng.random() < 0.5
    if rng.random() < 0.6:
        talk.say(
            1,
            f"두 분 다 계시네요. {agenda} 회의 일정 좀 정하려고요.",
            f"잠깐 괜찮으세요? {agenda} 건으로 회의를 한번 해야 할 것 같아서요.",
        )
        talk.say(2, "네, 언제로 할까요?", "좋아요. 언제가 괜찮으세요?")
        talk.say(
            1,
            f"{first} {time}에 {room}에서 하면 어떨까요?",
            f"{first} {time} 어때요? {_j(room, '이')} 비어 있더라고요.",
        )
        talk.say(2, "저는 괜찮아요.", "저는 그때 좋습니다.")
        if accepted:
            talk.say(3, "저도 좋습니다. 그때 뵐게요.", "저도 시간 됩니다. 자료 챙겨 갈게요.")
            talk.say(1, "그럼 그때 봬요.", "좋아요, 회의실은 제가 예약해 둘게요.")
            talk.maybe(0.5, 2, "발표 자료는 제가 미리 공유할게요.", "네, 그럼 그때 뵙겠습니다.")
            return (
                f"#Person1#, #Person2#, #Person3#은 {first} {time}에 {room}에서 {agenda} "
                "회의를 하기로 한다."
            )
        talk.say(
            3,
            f"죄송한데 저는 {first}에 {_j(conflict, '이')} 있어요. {_j(second, '이면')} 가능해요.",
            f"아, 저는 {first}에 {_j(conflict, '이')} 잡혀 있어서요. {_j(second, '은')} 어떠세요?",
        )
        talk.say(
            1, f"그럼 {second} 같은 시간으로 하죠.", f"좋아요, {second} {_j(time, '으로')} 옮겨요."
        )
        talk.say(2, "네, 그게 좋겠네요.", "저도 그날 괜찮아요.")
        talk.maybe(0.5, 3, "배려해 주셔서 감사합니다.", "감사합니다. 자료는 제가 준비할게요.")
        return (
            f"#Person3#이 {first}에 {_j(conflict, '이')} 있어서 세 사람은 {agenda} 회의를 "
            f"{second} {_j(time, '으로')} 미룬다."
        )
    talk.say(
        1,
        f"{agenda} 관련해서 회의 일정을 잡으려고 하는데요.",
        f"{agenda} 건으로 회의를 한번 해야 할 것 같은데요.",
    )
    talk.say(2, "좋아요. 언제가 좋을까요?", "네, 언제로 할까요?")
    talk.say(1, f"{first} {time}에 {room}에서 어때요?", f"{first} {time} 괜찮으세요? {room}에서요.")
    if accepted:
        talk.say(2, "좋아요, 그때 봬요.", "네, 그 시간 괜찮아요.")
        talk.say(1, "그럼 회의실 예약해 둘게요.", "좋아요. 참석자들에게도 알릴게요.")
        talk.maybe(0.5, 2, "네, 저는 지난 자료 정리해서 갈게요.", "감사합니다. 그때 뵐게요.")
        return f"#Person1#과 #Person2#는 {first} {time}에 {room}에서 {agenda} 회의를 하기로 한다."
    talk.say(
        2,
        f"{first}에는 제가 {_j(conflict, '이')} 있어서요. {_j(second, '은')} 어떠세요?",
        f"죄송해요, {first}에는 {_j(conflict, '이')} 있어요. {_j(second, '이면')} 좋겠어요.",
    )
    talk.say(
        1, f"그럼 {second} {_j(time, '으로')} 하죠.", f"알겠어요. {second} 같은 시간으로 해요."
    )
    talk.say(2, "네, 감사합니다.", "좋아요, 그때 봬요.")
    return (
        f"#Person2#가 {first}에 {_j(conflict, '이')} 있어서 #Person1#과 #Person2#는 "
        f"{agenda} 회의를 {second} {_j(time, '으로')} 잡는다."
    )


_TAXI_DESTS = (
    "서울역",
    "김포공항",
    "강남역",
    "시청",
    "인천공항",
    "코엑스",
    "고속버스터미널",
    "#Address#",
)
_ROADS = ("올림픽대로", "강변북로", "내부순환로", "남산 터널", "경부고속도로")


def _taxi(rng: random.Random, talk: _Talk) -> str:
    dest = rng.choice(_TAXI_DESTS)
    fare = _won(rng.randrange(5800, 48000, 100))
    pay = rng.choice(("카드", "현금"))
    talk.say(1, f"기사님, {_j(dest, '으로')} 가 주세요.", f"안녕하세요. {dest}까지 가 주시겠어요?")
    talk.say(2, "네, 알겠습니다. 혹시 급하세요?", "네, 출발하겠습니다. 시간 약속 있으세요?")
    deadline = f"{rng.randint(1, 11)}시" + rng.choice(("", " 30분"))
    talk.say(
        1,
        f"{deadline}까지는 도착해야 하는데 괜찮을까요?",
        f"네, {deadline}까지 가야 해서요. 빨리 가 주시면 좋겠어요.",
    )
    detour = rng.random() < 0.5
    if detour:
        road, other = rng.sample(_ROADS, 2)
        talk.say(
            2,
            f"지금 {_j(road, '이')} 많이 막혀서 {_j(other, '으로')} 돌아가는 게 빠를 것 같아요.",
            f"{_j(road, '은')} 사고가 나서 꽉 막혔대요. {_j(other, '으로')} 갈게요.",
        )
        talk.say(1, "네, 그렇게 해 주세요.", "기사님이 편하신 길로 가 주세요.")
    else:
        talk.say(2, "지금은 길이 안 막혀서 충분할 거예요.", "그 정도면 넉넉하게 도착합니다.")
        talk.say(
            1,
            "다행이네요. 에어컨 좀 약하게 해 주시겠어요?",
            "다행이다. 감사합니다.",
            "잘됐네요. 창문 좀 열어도 될까요?",
        )
    if talk.maybe(
        0.5,
        2,
        "오늘 날씨가 많이 덥네요. 어디 놀러 가세요?",
        "이 시간엔 보통 차가 많은데 오늘은 괜찮네요.",
    ):
        talk.say(1, "아니요, 일 때문에 가요.", "네, 친구 만나러 가요.", "그러게요. 운이 좋네요.")
    talk.say(2, f"도착했습니다. 요금은 {_j(fare, '이에요')}.", f"다 왔습니다. {fare} 나왔어요.")
    talk.say(
        1, f"{_j(pay, '으로')} 계산할게요.", f"여기요, {_j(pay, '으로')} 드릴게요. 영수증도 주세요."
    )
    tail = f"{dest}에 도착해 요금 {_j(fare, '을')} {_j(pay, '으로')} 낸다."
    if detour:
        return f"#Person2#는 {_j(road, '이')} 막혀 {_j(other, '으로')} 돌아가고, #Person1#은 {tail}"
    return f"#Person1#은 {deadline}까지 가야 해서 택시를 타고 {tail}"


def _bank_account(rng: random.Random, talk: _Talk) -> str:
    talk.say(
        1,
        "안녕하세요, 통장을 하나 새로 만들고 싶어요. 이번에 회사를 옮겨서요.",
        "입출금 통장 개설하러 왔는데요. 월급 통장으로 쓰려고요.",
    )
    talk.say(2, "네, 신분증 가지고 오셨어요?", "네, 고객님. 신분증 먼저 보여 주시겠어요?")
    if rng.random() < 0.3:
        day = rng.choice(("내일", "모레", "다음 주"))
        talk.say(
            1, "아, 신분증을 집에 두고 왔네요.", "어, 지갑에 없네요. 신분증을 집에 두고 왔어요."
        )
        talk.say(
            2,
            "신분증이 없으면 계좌 개설이 어렵습니다.",
            "죄송하지만 본인 확인이 안 되면 통장을 만들 수 없어요.",
        )
        talk.say(1, f"그럼 {day} 다시 올게요.", f"알겠습니다. {day} 신분증 챙겨서 올게요.")
        talk.maybe(0.5, 2, "네, 번거롭게 해 드려 죄송합니다.", "네, 그때 다시 도와 드릴게요.")
        return f"#Person1#은 통장을 만들려 했지만 신분증을 집에 두고 와서 {day} 다시 오기로 한다."
    talk.say(1, "네, 여기 있습니다.", "여기요. 운전면허증도 되죠?")
    talk.say(
        2, "이 서류에 생년월일과 연락처 적어 주세요.", "신청서에 생년월일과 전화번호를 써 주세요."
    )
    talk.say(
        1, "#DateOfBirth#, #PhoneNumber# 이렇게 적으면 되죠?", "다 적었어요. #PhoneNumber# 맞아요."
    )
    talk.say(2, "네, 체크카드도 같이 만들어 드릴까요?", "감사합니다. 체크카드도 신청하시겠어요?")
    if rng.random() < 0.5:
        talk.say(1, "네, 같이 만들어 주세요.", "네, 체크카드도 주세요.")
        return "#Person1#은 신분증을 보여 주고 새 통장을 만들며 체크카드도 함께 신청한다."
    talk.say(1, "아니요, 통장만 만들게요.", "카드는 괜찮아요. 통장만 해 주세요.")
    return "#Person1#은 신분증을 보여 주고 새 통장을 만들지만 체크카드는 신청하지 않는다."


def _bank_lost_card(rng: random.Random, talk: _Talk) -> str:
    place = rng.choice(("지하철", "버스", "카페", "택시", "식당"))
    talk.say(
        1,
        f"카드를 잃어버렸어요. {place}에서 잃어버린 것 같아요.",
        f"저, 어제 {place}에서 카드를 잃어버린 것 같은데요.",
    )
    talk.say(
        2,
        "바로 정지해 드릴게요. 본인 확인을 위해 생년월일 말씀해 주세요.",
        "많이 놀라셨겠어요. 먼저 생년월일로 본인 확인할게요.",
    )
    talk.say(1, "#DateOfBirth#입니다. 빨리 좀 부탁드려요.", "네, #DateOfBirth#이에요.")
    days = rng.randint(3, 10)
    talk.say(
        2,
        f"카드 정지됐습니다. 재발급하시겠어요? 새 카드는 {days}일 정도 걸려요.",
        f"정지 완료했습니다. 재발급 신청하시면 {days}일쯤 뒤에 받으실 수 있어요.",
    )
    if rng.random() < 0.6:
        talk.say(1, "네, 재발급해 주세요.", "네, 새로 만들어 주세요.")
        talk.maybe(0.5, 2, "신청됐습니다. 등록된 주소로 보내 드릴게요.", "네, 접수됐습니다.")
        return (
            f"#Person1#은 {place}에서 잃어버린 카드를 정지하고 재발급을 신청한다. "
            f"새 카드는 {days}일 정도 걸린다."
        )
    talk.say(1, "아니요, 일단 정지만 해 주세요.", "혹시 찾을 수도 있으니 재발급은 나중에 할게요.")
    talk.maybe(0.5, 2, "알겠습니다. 찾으시면 정지 해제도 가능해요.", "네, 정지만 해 두겠습니다.")
    return f"#Person1#은 {place}에서 잃어버린 카드를 정지만 하고 재발급은 신청하지 않는다."


def _bank_savings(rng: random.Random, talk: _Talk) -> str:
    amount = _won(rng.choice((100000, 200000, 300000, 500000)))
    months = rng.choice((6, 12, 24, 36))
    rate = f"{rng.choice((2, 3, 4))}.{rng.choice((0, 2, 5, 8))}%"
    talk.say(
        1,
        "적금을 하나 들고 싶은데요. 목돈을 좀 모아 보려고요.",
        "안녕하세요, 적금 상품 좀 알아보러 왔어요.",
    )
    talk.say(2, "네, 매달 얼마씩 넣으실 생각이세요?", "네, 한 달에 얼마 정도 넣으실 건가요?")
    talk.say(
        1, f"{amount}씩 {months}개월 정도요.", f"매달 {amount}씩 {months}개월 생각하고 있어요."
    )
    talk.say(2, f"그럼 이 상품이 연 {rate} 금리예요.", f"그 조건이면 연 {rate} 상품이 있습니다.")
    if rng.random() < 0.7:
        talk.say(1, "좋아요, 그걸로 가입할게요.", "괜찮네요. 가입해 주세요.")
        talk.maybe(0.5, 2, "네, 서류 준비해 드릴게요.", "감사합니다. 여기 서명해 주세요.")
        return f"#Person1#은 매달 {amount}씩 {months}개월 동안 넣는 연 {rate} 적금에 가입한다."
    talk.say(
        1, "생각보다 금리가 낮네요. 좀 더 생각해 볼게요.", "음, 금리가 좀 아쉽네요. 다음에 올게요."
    )
    talk.maybe(0.5, 2, "네, 언제든 다시 찾아 주세요.", "알겠습니다. 안내문 챙겨 가세요.")
    return f"#Person1#은 적금을 알아보지만 금리가 연 {rate}라 낮아서 가입하지 않는다."


def _bank(rng: random.Random, talk: _Talk) -> str:
    return rng.choice((_bank_account, _bank_lost_card, _bank_savings))(rng, talk)


_HOUSES = ("원룸", "투룸", "쓰리룸", "30평대 아파트")


def _moving(rng: random.Random, talk: _Talk) -> str:
    house = rng.choice(_HOUSES)
    kind = rng.choice(("포장이사", "반포장이사"))
    first, second = _two(lambda: _date(rng))
    price = _won(rng.randrange(400000, 2000000, 50000))
    talk.say(
        1,
        "이사 견적 좀 받아 보려고 전화드렸어요.",
        "안녕하세요, 이삿짐센터죠? 이사 문의 좀 하려고요.",
    )
    talk.say(2, "네, 언제 이사하세요?", "네, 이사 날짜가 언제세요?")
    talk.say(
        1,
        f"{_j(first, '이에요')}. 짐은 {house} 정도예요.",
        f"{first}에 하려고요. {house}에 살고 있어요.",
    )
    if rng.random() < 0.5:
        talk.say(2, "출발지랑 도착지 주소 알려 주시겠어요?", "어디에서 어디로 가시나요?")
        talk.say(
            1, "#Address#에서 #Address#로 가요.", "지금 #Address#에 살고, 새집은 #Address#예요."
        )
    outcome = rng.choice(("booked", "rescheduled", "declined"))
    if outcome == "rescheduled":
        talk.say(
            2,
            f"{_j(first, '은')} 손 없는 날이라 예약이 다 찼어요. {_j(second, '은')} 가능합니다.",
            f"죄송하지만 {_j(first, '은')} 이미 마감이에요. {second}에는 가능해요.",
        )
        talk.say(
            1,
            f"그럼 {_j(second, '으로')} 할게요. 비용은 얼마예요?",
            f"{second}도 괜찮아요. 얼마인가요?",
        )
    talk.say(
        2, f"{_j(kind, '으로')} 하시면 {_j(price, '이에요')}.", f"{kind} 기준으로 {price}입니다."
    )
    if outcome == "declined":
        talk.say(
            1,
            "생각보다 비싸네요. 다른 곳도 알아보고 연락드릴게요.",
            "음, 예상보다 비싸네요. 좀 더 알아볼게요.",
        )
        talk.maybe(0.5, 2, "네, 비교해 보시고 연락 주세요.", "알겠습니다. 언제든 전화 주세요.")
        return (
            f"#Person1#은 {house} {kind} 견적이 {_j(price, '이라')} 비싸서 다른 업체도 "
            "알아보기로 한다."
        )
    talk.say(1, "네, 그 가격이면 괜찮네요. 예약할게요.", "좋아요, 그렇게 예약해 주세요.")
    talk.say(
        2, "네, 예약됐습니다. 그날 아침 8시에 찾아뵙겠습니다.", "감사합니다. 예약 완료됐습니다."
    )
    if outcome == "rescheduled":
        return (
            f"#Person1#은 {first}에 예약이 차서 {_j(second, '으로')} {house} "
            f"{_j(kind, '을')} 예약한다."
        )
    return f"#Person1#은 {first}에 {house} {_j(kind, '을')} {price}에 예약한다."


_TITLES = (
    "데미안",
    "어린 왕자",
    "코스모스",
    "채식주의자",
    "사피엔스",
    "아몬드",
    "미움받을 용기",
    "달러구트 꿈 백화점",
)


def _library(rng: random.Random, talk: _Talk) -> str:
    title = rng.choice(_TITLES)
    kind = rng.choice(("borrow", "reserve", "overdue"))
    if kind == "overdue":
        days = rng.randint(2, 9)
        talk.say(
            1,
            f"안녕하세요, {title} 반납하려고요. 반납함이 꽉 차 있어서 직접 가져왔어요.",
            f"이 책 반납할게요. {_j(title, '이에요')}. 혹시 늦은 건 아니죠?",
        )
        talk.say(
            2, f"확인해 볼게요. 반납일이 {days}일 지났네요.", f"아, 이 책은 {days}일 연체됐어요."
        )
        talk.say(1, "아, 깜빡했어요. 어떻게 되나요?", "죄송해요. 연체료가 있나요?")
        talk.say(
            2,
            f"연체료는 없지만 {days}일 동안 대출이 정지됩니다.",
            f"늦은 만큼 {days}일 동안 책을 빌리실 수 없어요.",
        )
        talk.say(1, "알겠습니다. 다음부터 조심할게요.", "네, 알겠어요. 요즘 너무 바빴네요.")
        talk.maybe(
            0.5, 2, "반납 알림 문자를 신청하시면 편해요.", "네, 다음부터는 기한 꼭 확인하세요."
        )
        return (
            f"#Person1#은 {_j(title, '을')} {days}일 늦게 반납해서 {days}일 동안 대출이 정지된다."
        )
    talk.say(
        1,
        f"안녕하세요, {title} 빌리고 싶은데 있나요? 과제 때문에 꼭 읽어야 해서요.",
        f"저기요, {_j(title, '을')} 찾고 있는데요. 어디 있는지 알 수 있을까요?",
    )
    if kind == "reserve":
        talk.say(
            2,
            f"{_j(title, '은')} 지금 대출 중이에요. 예약해 드릴까요?",
            f"검색해 보니 {_j(title, '은')} 다른 분이 빌려 가셨네요. 예약 걸어 드릴까요?",
        )
        talk.say(1, "네, 예약해 주세요. 언제쯤 돌아오나요?", "네, 그렇게 해 주세요.")
        talk.say(2, "책이 반납되면 문자로 알려 드릴게요.", "반납되는 대로 문자 보내 드릴게요.")
        talk.maybe(0.6, 1, "감사합니다. 기다릴게요.", "알겠습니다. 연락 기다릴게요.")
        return (
            f"#Person1#은 {_j(title, '이')} 대출 중이라 예약하고, 책이 반납되면 문자를 받기로 한다."
        )
    date = _date(rng)
    talk.say(
        2,
        "네, 2층 문학 코너에 있어요. 회원증 있으세요?",
        "네, 대출 가능해요. 회원증 보여 주시겠어요?",
    )
    if rng.random() < 0.5:
        talk.say(1, "아직 회원이 아니에요.", "회원증이 없는데요. 여기 처음 왔어요.")
        talk.say(
            2,
            "그럼 회원 가입부터 해 드릴게요. 이메일 주소 알려 주세요.",
            "가입하시면 바로 빌리실 수 있어요. 이메일 주소가 어떻게 되세요?",
        )
        talk.say(1, "#Email#이에요.", "#Email#입니다.")
        talk.say(
            2, f"가입됐습니다. 반납은 {date}까지예요.", f"다 됐습니다. {date}까지 반납해 주세요."
        )
        return (
            f"#Person1#은 도서관 회원으로 가입하고 {_j(title, '을')} 빌린다. 반납일은 {date}이다."
        )
    talk.say(1, "네, 여기요.", "여기 있습니다.")
    talk.say(2, f"대출됐습니다. 반납은 {date}까지입니다.", f"{date}까지 반납해 주시면 돼요.")
    talk.maybe(0.6, 1, "네, 감사합니다.", "알겠습니다. 기한 안에 가져올게요.")
    return f"#Person1#은 {_j(title, '을')} 빌리고 {date}까지 반납해야 한다."


_GYM_REASONS = (
    "살을 빼고 싶어서",
    "요즘 체력이 떨어져서",
    "허리가 안 좋아서",
    "근력을 키우고 싶어서",
)


def _gym(rng: random.Random, talk: _Talk) -> str:
    months = rng.choice((1, 3, 6, 12))
    price = _won(months * rng.choice((50000, 60000, 70000)) - (months // 3) * 20000)
    reason = rng.choice(_GYM_REASONS)
    talk.say(
        1,
        f"안녕하세요. {reason} 헬스장 등록하려고 왔어요.",
        f"{reason} 운동을 시작하려는데 등록 가능하죠?",
    )
    talk.say(2, "네, 몇 개월로 생각하세요?", "네, 환영합니다. 기간은 어떻게 하실 건가요?")
    talk.say(1, f"{months}개월이면 얼마예요?", f"일단 {months}개월 하려고요. 가격이 어떻게 되나요?")
    talk.say(
        2,
        f"{months}개월은 {_j(price, '이에요')}. 운동복이랑 수건은 무료예요.",
        f"{months}개월 등록하시면 {price}입니다. 샤워실도 자유롭게 쓰실 수 있어요.",
    )
    if rng.random() < 0.25:
        talk.say(
            1,
            "생각보다 비싸네요. 좀 더 생각해 볼게요.",
            "음, 좀 부담되네요. 생각해 보고 다시 올게요.",
        )
        talk.say(2, "네, 천천히 생각해 보세요.", "알겠습니다. 언제든 오세요.")
        return (
            f"#Person1#은 헬스장 {months}개월 가격이 {_j(price, '이라')} 비싸서 좀 더 생각해 "
            "보기로 한다."
        )
    talk.say(1, "좋아요, 그걸로 할게요.", "네, 등록할게요. 카드로 결제할게요.")
    pt = rng.choice((10, 20)) if rng.random() < 0.4 else 0
    if pt:
        talk.say(
            2,
            f"개인 PT도 있는데 {pt}회 같이 하시겠어요? 이메일도 알려 주세요.",
            f"PT {pt}회 패키지도 있어요. 안내 메일 보낼 주소도 알려 주세요.",
        )
        talk.say(
            1,
            f"PT도 {pt}회 할게요. 이메일은 #Email#이에요.",
            f"네, PT {pt}회도 해 주세요. #Email#입니다.",
        )
        talk.maybe(
            0.5,
            2,
            "등록됐습니다. 내일부터 나오시면 돼요.",
            "감사합니다. 트레이너가 연락드릴 거예요.",
        )
        return (
            f"#Person1#은 {reason} 헬스장 {months}개월을 {price}에 등록하고 PT {pt}회도 "
            "함께 신청한다."
        )
    talk.say(
        2,
        "회원 정보 등록하게 이메일 주소 알려 주세요.",
        "가입 안내는 이메일로 보내 드릴게요. 주소가 어떻게 되세요?",
    )
    talk.say(1, "#Email#이에요.", "#Email#입니다.")
    talk.maybe(0.5, 2, "등록됐습니다. 오늘부터 이용하시면 돼요.", "감사합니다. 열심히 운동하세요.")
    return f"#Person1#은 {reason} 헬스장 {months}개월을 {price}에 등록한다."


_COURIERS = ("한빛", "바로", "씽씽", "우리")
_DROP_PLACES = ("경비실", "문 앞", "택배함", "현관 앞")
_ORDERS = ("운동화", "책", "노트북", "화장품", "이불", "커피 머신")


def _parcel_delay(rng: random.Random, talk: _Talk) -> str:
    item = rng.choice(_ORDERS)
    days = rng.randint(3, 10)
    day = rng.choice(_DAYS[1:])
    talk.say(
        1,
        f"안녕하세요, {days}일 전에 주문한 {_j(item, '이')} 아직 안 왔어요.",
        f"{_j(item, '을')} 시킨 지 {days}일이 됐는데 아직 못 받았어요.",
    )
    talk.say(
        2,
        "불편을 드려 죄송합니다. 주문하신 분 연락처 알려 주시겠어요?",
        "죄송합니다. 연락처로 조회해 볼게요.",
    )
    talk.say(1, "#PhoneNumber#입니다.", "#PhoneNumber#이에요.")
    talk.say(
        2,
        f"확인해 보니 물류센터에 있어서 {day}까지 도착할 예정입니다.",
        f"지금 배송 중이고 {day}까지는 받으실 수 있어요.",
    )
    talk.say(1, "알겠습니다. 왜 이렇게 늦어졌나요?", "네, 꼭 그때까지 받았으면 좋겠네요.")
    talk.say(2, "요즘 물량이 많아서 조금 밀렸습니다. 죄송합니다.", "최대한 빨리 보내 드리겠습니다.")
    return (
        f"#Person1#은 {days}일 전에 주문한 {_j(item, '이')} 오지 않아 문의하고, "
        f"#Person2#는 {day}까지 도착한다고 안내한다."
    )


def _parcel(rng: random.Random, talk: _Talk) -> str:
    if rng.random() < 0.4:
        return _parcel_delay(rng, talk)
    courier = rng.choice(_COURIERS)
    talk.say(
        1,
        f"안녕하세요, {courier}택배입니다. #Address# 맞으시죠?",
        f"{courier}택배인데요, #Address# 댁이죠?",
    )
    talk.say(2, "네, 맞아요. 무슨 일이세요?", "네, 맞습니다. 택배 올 게 있었나 보네요.")
    talk.say(
        1,
        "지금 댁에 계세요? 물건 갖다 드리려고요.",
        "상자가 좀 커서 직접 전해 드려야 할 것 같은데, 지금 집에 계신가요?",
    )
    outcome = rng.choice(("home", "drop", "later"))
    if outcome == "home":
        minutes = rng.choice((5, 10, 20, 30))
        talk.say(2, "네, 집에 있어요. 언제쯤 오세요?", "네, 있어요. 몇 시쯤 오시나요?")
        talk.say(1, f"{minutes}분 안에 도착합니다.", f"지금 근처라서 {minutes}분 뒤에 갈게요.")
        talk.maybe(0.6, 2, "네, 기다리고 있을게요.", "알겠습니다. 감사합니다.")
        return f"#Person1#은 #Person2#에게 전화해 {minutes}분 뒤에 택배를 갖다주겠다고 한다."
    if outcome == "drop":
        place = rng.choice(_DROP_PLACES)
        talk.say(
            2,
            f"지금 밖이라서요. {place}에 놓아 주시겠어요?",
            f"제가 회사예요. {place}에 두고 가 주세요.",
        )
        talk.say(1, f"네, {place}에 두고 갈게요.", f"알겠습니다. {place}에 놓겠습니다.")
        talk.maybe(0.6, 2, "감사합니다. 수고하세요.", "네, 사진도 좀 찍어 주세요.")
        return (
            f"#Person1#은 택배를 배달하려 하지만 #Person2#가 집에 없어서 {place}에 맡기기로 한다."
        )
    time = _clock(rng)
    talk.say(
        2,
        f"지금 집에 없는데 내일 {time}에 다시 와 주실 수 있나요?",
        f"오늘은 늦게 들어가요. 내일 {time}쯤 다시 와 주시겠어요?",
    )
    talk.say(1, f"네, 내일 {time}에 다시 오겠습니다.", "네, 그때 다시 방문할게요.")
    talk.maybe(0.6, 2, "번거롭게 해 드려 죄송해요.", "감사합니다. 그때 꼭 있을게요.")
    return f"#Person1#은 #Person2#가 집에 없어서 택배를 내일 {time}에 다시 배달하기로 한다."


_MOVIES = ("범죄도시", "인사이드 아웃", "듄", "서울의 봄", "엘리멘탈", "파묘", "탑건", "하얼빈")
_PLANS = ("알바", "시험공부", "가족 모임", "야근", "동아리 모임")


def _movie(rng: random.Random, talk: _Talk) -> str:
    title, other = rng.sample(_MOVIES, 2)
    day = rng.choice(_DAYS)
    time = _clock(rng)
    talk.say(
        1,
        f"{day}에 {title} 보러 갈래? 요즘 제일 인기래. 평점도 엄청 좋더라.",
        f"우리 {day} 영화 볼래? {_j(title, '이')} 재밌대. 다들 보러 간다던데.",
    )
    outcome = rng.choice(("agree", "switch", "decline"))
    if outcome == "decline":
        plan = rng.choice(_PLANS)
        talk.say(
            2,
            f"미안, {day}에는 {_j(plan, '이')} 있어서 안 될 것 같아.",
            f"아, 나 {day}에 {_j(plan, '이')} 있어.",
        )
        talk.say(1, "아쉽다. 그럼 다음에 보자. 끝나면 연락해.", "그래? 그럼 다음에 같이 가자.")
        talk.say(2, "응, 다음엔 꼭 같이 보자.", "미안해. 다음 주에 다시 얘기하자.")
        return (
            f"#Person1#은 #Person2#에게 {day}에 {_j(title, '을')} 보자고 하지만 "
            f"#Person2#는 {_j(plan, '이')} 있어서 다음에 보기로 한다."
        )
    if outcome == "switch":
        talk.say(
            2,
            f"{_j(title, '은')} 나 이미 봤어. {_j(other, '은')} 어때?",
            f"나 {_j(title, '은')} 지난주에 봤는데. 대신 {other} 보자.",
        )
        talk.say(1, f"좋아, 그럼 {other} 보자.", f"{other}도 괜찮지. 그걸로 하자.")
        title = other
        chooser = 2
    else:
        talk.say(2, "좋아! 몇 시 거 볼까?", "오, 나도 보고 싶었어. 몇 시로 할까?")
        chooser = 1
    talk.say(chooser, f"{time} 거 있던데 그거 예매할까?", f"{time}에 자리 많더라. 그걸로 하자.")
    if rng.random() < 0.4:
        talk.say(3, "너희 영화 보러 가? 나도 같이 가도 돼?", "나도 끼워 줘! 나도 그거 보고 싶었어.")
        talk.say(
            1, "당연하지! 그럼 세 명으로 예매할게.", "좋아, 셋이 같이 가자. 자리는 내가 잡을게."
        )
        talk.maybe(0.5, 3, "고마워! 팝콘은 내가 살게.", "신난다. 그날 보자!")
        return (
            f"#Person1#, #Person2#, #Person3#은 {day} {time}에 {_j(title, '을')} 함께 보기로 한다."
        )
    talk.say(3 - chooser, "응, 좋아. 팝콘은 내가 살게.", "좋아, 그 시간으로 하자.")
    return f"#Person1#과 #Person2#는 {day} {time}에 {_j(title, '을')} 보기로 한다."


_SERVICES = (
    ("커트", 20000),
    ("펌", 90000),
    ("염색", 80000),
    ("뿌리 염색", 50000),
    ("클리닉", 40000),
)
_DESIGNERS = ("지수 실장님", "민호 원장님", "하린 디자이너님", "태오 실장님")


def _salon(rng: random.Random, talk: _Talk) -> str:
    service, base = rng.choice(_SERVICES)
    price = _won(base + rng.choice((0, 10000, 20000)))
    designer, other = rng.sample(_DESIGNERS, 2)
    day = rng.choice(_DAYS)
    time = _clock(rng)
    talk.say(
        1, f"안녕하세요, {day} {service} 예약하려고요.", f"{day} {time}에 {service} 가능할까요?"
    )
    talk.say(2, "네, 원하시는 디자이너 있으세요?", "네, 담당 디자이너 지정하시겠어요?")
    talk.say(
        1,
        f"{designer}께 받고 싶어요. {time}에 돼요?",
        f"{_j(designer, '으로')} 부탁드려요. 시간은 {time}요.",
    )
    outcome = rng.choice(("accepted", "other", "declined"))
    if outcome == "declined":
        talk.say(
            2,
            f"{designer}께서 {day}에는 예약이 다 차셨어요.",
            f"죄송한데 {day}에는 {designer} 예약이 꽉 찼어요.",
        )
        talk.say(1, "그럼 다음에 다시 연락드릴게요.", "아쉽네요. 다른 날 다시 전화할게요.")
        talk.maybe(0.5, 2, "네, 죄송합니다. 다음에 꼭 연락 주세요.", "알겠습니다. 감사합니다.")
        return (
            f"#Person1#은 {designer}에게 {service} 예약을 하려 했지만 {day}에는 자리가 "
            "없어 다음에 연락하기로 한다."
        )
    if outcome == "other":
        talk.say(
            2,
            f"{designer}께서 {day}에는 쉬세요. {_j(other, '은')} 가능하세요.",
            f"{_j(day, '은')} {designer} 휴무예요. 대신 {other} 어떠세요?",
        )
        talk.say(1, f"그럼 {other}께 받을게요.", "네, 괜찮아요. 그렇게 해 주세요.")
    booked = other if outcome == "other" else designer
    talk.say(
        2,
        f"{day} {_j(time, '으로')} {booked} {service} 예약됐습니다. 가격은 {_j(price, '이에요')}.",
        f"예약 완료됐습니다. {_j(service, '은')} {price}입니다.",
    )
    talk.say(1, "네, 감사합니다.", "알겠습니다. 그때 갈게요.", "네, 늦지 않게 갈게요.")
    talk.maybe(0.5, 2, "예약 시간 10분 전까지 와 주세요.", "네, 그날 뵙겠습니다.")
    if outcome == "other":
        return (
            f"#Person1#은 원하던 디자이너가 쉬는 날이라 {other}에게 {day} {time} "
            f"{service} 예약을 한다. 가격은 {price}이다."
        )
    return f"#Person1#은 {day} {time}에 {designer}에게 {service} 예약을 한다. 가격은 {price}이다."


_DEVICES = ("휴대폰", "노트북", "태블릿", "스마트워치")
_ISSUES = ("화면이 깨져서", "배터리가 빨리 닳아서", "충전이 잘 안 돼서", "전원이 갑자기 꺼져서")


def _repair(rng: random.Random, talk: _Talk) -> str:
    device = rng.choice(_DEVICES)
    issue = rng.choice(_ISSUES)
    hours = rng.randint(1, 4)
    talk.say(
        1,
        f"안녕하세요, {device} {issue} 수리 맡기려고 왔어요.",
        f"저기요, {_j(device, '이')} {issue}요. 좀 봐 주시겠어요?",
    )
    talk.say(
        2,
        f"네, {device} 좀 볼게요. 구입하신 지 얼마나 되셨어요?",
        "잠시 확인해 볼게요. 언제 사셨어요?",
    )
    months = rng.randint(2, 30)
    talk.say(1, f"{months}개월 정도 됐어요.", f"산 지 {months}개월쯤 됐어요.")
    if months < 12:
        talk.say(
            2,
            f"보증 기간 안이라서 무료로 수리해 드려요. {hours}시간 정도 걸립니다.",
            f"아직 보증 기간이라 수리비는 없어요. {hours}시간 뒤에 찾으러 오세요.",
        )
        talk.say(
            1, "다행이네요. 맡기고 갈게요. 근처에서 커피 마시고 올게요.", "잘됐네요. 그때 올게요."
        )
        talk.maybe(0.5, 2, "네, 수리 끝나면 문자 드릴게요.", "접수증 잘 챙겨 가세요.")
        return f"#Person1#은 {issue} {device} 수리를 맡기고, 보증 기간 안이라 무료로 수리받는다."
    cost = _won(rng.randrange(50000, 400000, 10000))
    talk.say(
        2,
        f"보증 기간이 지나서 수리비가 {cost} 나옵니다.",
        f"보증 기간이 끝나서 {_j(cost, '이')} 들어요.",
    )
    if rng.random() < 0.6:
        talk.say(1, "괜찮아요, 수리해 주세요.", "어쩔 수 없죠. 고쳐 주세요.")
        talk.say(2, f"네, {hours}시간 뒤에 찾으러 오세요.", f"{hours}시간 정도 걸리니 그때 오세요.")
        talk.maybe(0.5, 1, "네, 그때 올게요.", "알겠습니다. 잘 부탁드려요.")
        return f"#Person1#은 {issue} {device} 수리를 맡기고 수리비 {_j(cost, '을')} 내기로 한다."
    talk.say(1, "그 돈이면 새로 사는 게 낫겠네요.", "생각보다 비싸네요. 그냥 새로 살게요.")
    talk.say(2, "네, 그러셔도 됩니다.", "알겠습니다. 필요하시면 다시 오세요.")
    return f"#Person1#은 {device} 수리비가 {_j(cost, '이라')} 수리하지 않고 새로 사기로 한다."


_TOPICS: tuple[tuple[str, _Builder], ...] = (
    ("병원 예약", _hospital),
    ("쇼핑 환불", _shopping),
    ("여행 예약", _travel),
    ("식당 예약", _restaurant),
    ("업무 회의", _meeting),
    ("택시", _taxi),
    ("은행", _bank),
    ("이사", _moving),
    ("도서관", _library),
    ("헬스장 등록", _gym),
    ("택배", _parcel),
    ("영화", _movie),
    ("미용실 예약", _salon),
    ("기기 수리", _repair),
)


def _generate(n: int, rng: random.Random, prefix: str, exclude: set[str]) -> list[dict[str, str]]:
    """Draw ``n`` rows whose dialogues are unique and not in ``exclude``."""
    rows: list[dict[str, str]] = []
    seen = set(exclude)
    for _ in range(50 * n + 100):
        if len(rows) == n:
            break
        topic, build = rng.choice(_TOPICS)
        talk = _Talk(rng)
        summary = build(rng, talk)
        dialogue = talk.text()
        if dialogue not in seen:
            seen.add(dialogue)
            rows.append(
                {
                    "fname": f"{prefix}_{len(rows)}",
                    "dialogue": dialogue,
                    "summary": summary,
                    "topic": topic,
                }
            )
    if len(rows) < n:
        raise RuntimeError(f"could not draw {n} distinct synthetic dialogues")
    return rows


def generate_dialogues(n: int, seed: int, prefix: str = "train") -> list[dict[str, str]]:
    """Generate ``n`` distinct dialogue/summary rows, deterministic for ``seed``.

    Each row has ``fname`` (``f"{prefix}_{i}"``), ``dialogue``, ``summary`` and ``topic``.
    """
    return _generate(n, random.Random(seed), prefix, set())


def embedded_splits(
    train_size: int = 3000, eval_size: int = 200, seed: int = 0
) -> dict[str, list[dict[str, str]]]:
    """Build train/validation/test splits whose dialogues are pairwise disjoint.

    ``train`` equals ``generate_dialogues(train_size, seed)``; validation and test use seeds
    derived from ``seed`` and skip dialogues already drawn for earlier splits.
    """
    train = generate_dialogues(train_size, seed, "train")
    used = {row["dialogue"] for row in train}
    validation = _generate(eval_size, random.Random(f"{seed}:validation"), "dev", used)
    used.update(row["dialogue"] for row in validation)
    test = _generate(eval_size, random.Random(f"{seed}:test"), "test", used)
    return {"train": train, "validation": validation, "test": test}
