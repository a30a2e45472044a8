"""Pure rules of 吹哨报到 ("街乡吹哨、部门报到"): who is summoned at each level, when to urge, when
to climb, when to park, and the Chinese words for it all. No I/O, no temporalio.

The ladder is community → subdistrict → district. At the community level the units located in
the community, registered with it (单位报到) or holding a co-building agreement 共建协议 with it are
summoned; a level up, the units with an active registration in the subdistrict's other
communities; at the top, those of the district's other subdistricts. A unit is summoned once per
whistle, at the lowest level it qualifies for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from schemas.dispatch import Urgency
from schemas.whistle import SummonStatus, WhistleLevel, WhistleStatus

L = WhistleLevel
S = WhistleStatus

LADDER: tuple[WhistleLevel, ...] = (L.community, L.subdistrict, L.district)

LEVEL_LABELS: dict[WhistleLevel, str] = {L.community: "社区", L.subdistrict: "街道", L.district: "区"}

STATUS_LABELS: dict[WhistleStatus, str] = {
    S.summoning: "召集中", S.responded: "已响应", S.on_site: "到岗处置中", S.parked: "挂账", S.closed: "已办结",
}

SUMMON_LABELS: dict[SummonStatus, str] = {
    SummonStatus.summoned: "未响应", SummonStatus.answered: "已报到响应", SummonStatus.declined: "婉拒",
    SummonStatus.arrived: "已到岗",
}

# Why a unit was summoned (whistle_summon.basis).
BASIS_LABELS: dict[str, str] = {
    "located": "驻社区单位", "registered": "已报到单位", "agreement": "共建协议单位",
}
# When a unit qualifies several ways, the closest tie names it.
_BASIS_RANK = {"agreement": 0, "registered": 1, "located": 2}

# The respond-by deadline when the community gives none: the grid-event tiers of 接诉即办 practice.
URGENCY_WINDOWS: dict[Urgency, timedelta] = {
    Urgency.red: timedelta(hours=2), Urgency.yellow: timedelta(hours=24), Urgency.blue: timedelta(hours=72),
}

_MOVES: dict[WhistleStatus, frozenset[WhistleStatus]] = {
    S.summoning: frozenset({S.summoning, S.responded, S.on_site, S.parked, S.closed}),
    S.responded: frozenset({S.on_site, S.closed}),
    S.on_site: frozenset({S.closed}),
    S.parked: frozenset({S.responded, S.on_site, S.closed}),
    S.closed: frozenset(),
}

REFUSAL_CLOSED = "该吹哨事项已办结, 不再接受报到响应或到岗登记"
REFUSAL_NOT_SUMMONED = "该单位未被召集到此吹哨事项"
REFUSAL_ALREADY_ANSWERED = "该单位已作出响应, 不能重复响应"
REFUSAL_ANSWER_IN_FLIGHT = "该单位的响应正在登记, 请稍候"
REFUSAL_NOT_COMMITTED = "只有已报到响应的单位可以登记到岗"
REFUSAL_ALREADY_ARRIVED = "该单位已登记到岗"
REFUSAL_CLOSING = "该吹哨事项正在办结"
REFUSAL_SUMMARY_REQUIRED = "办结须填写处置情况小结"


class WhistleRefusal(StrEnum):
    """Why a whistle's workflow (or one of its activities) refuses a request: the stable code the
    caller gets (the API's 409 `code`); `message` is what the person reads."""

    whistle_closed = "whistle_closed"
    not_summoned = "not_summoned"
    already_answered = "already_answered"
    answer_in_flight = "answer_in_flight"
    not_committed = "not_committed"
    already_arrived = "already_arrived"
    whistle_closing = "whistle_closing"
    summary_required = "summary_required"

    @property
    def message(self) -> str:
        return _WHISTLE_REFUSAL_MESSAGES[self]


_WHISTLE_REFUSAL_MESSAGES: dict[WhistleRefusal, str] = {
    WhistleRefusal.whistle_closed: REFUSAL_CLOSED,
    WhistleRefusal.not_summoned: REFUSAL_NOT_SUMMONED,
    WhistleRefusal.already_answered: REFUSAL_ALREADY_ANSWERED,
    WhistleRefusal.answer_in_flight: REFUSAL_ANSWER_IN_FLIGHT,
    WhistleRefusal.not_committed: REFUSAL_NOT_COMMITTED,
    WhistleRefusal.already_arrived: REFUSAL_ALREADY_ARRIVED,
    WhistleRefusal.whistle_closing: REFUSAL_CLOSING,
    WhistleRefusal.summary_required: REFUSAL_SUMMARY_REQUIRED,
}


class Outcome(StrEnum):
    """What a level's deadline (or every summoned unit having answered) leads to."""

    covered = "covered"             # enough people committed: go ahead
    climb = "climb"                 # too few: summon the next level
    short_handed = "short_handed"   # the top, some but too few: go ahead flagged
    park = "park"                   # the top, nobody: parked 挂账 with a reason


@dataclass(frozen=True)
class Candidate:
    """A unit that might be summoned and how it is tied to the whistle's area."""

    unit_id: int
    basis: str             # located / registered / agreement
    community_id: int      # the community of that tie
    subdistrict_id: int


@dataclass(frozen=True)
class Place:
    community_id: int
    subdistrict_id: int


def next_level(level: WhistleLevel) -> WhistleLevel | None:
    i = LADDER.index(level)
    return LADDER[i + 1] if i + 1 < len(LADDER) else None


def default_respond_by(urgency: Urgency, now: datetime) -> datetime:
    return now + URGENCY_WINDOWS[urgency]


def level_window(first_window: timedelta, minimum: timedelta) -> timedelta:
    """How long a level above the community waits: the community's own window again (the matter
    is as urgent as it was), never less than `minimum` so units have time to read the summons."""
    return max(first_window, minimum)


def urge_at(level_start: datetime, deadline: datetime) -> datetime:
    """Units still silent at half the level's window are urged 催办, once."""
    return level_start + (deadline - level_start) / 2


def qualifies(level: WhistleLevel, place: Place, candidate: Candidate) -> bool:
    """Whether `candidate` is summoned at `level` (the lower levels' units already were)."""
    match level:
        case L.community:
            return candidate.community_id == place.community_id
        case L.subdistrict:
            return (candidate.basis == "registered" and candidate.subdistrict_id == place.subdistrict_id
                    and candidate.community_id != place.community_id)
        case L.district:
            return candidate.basis == "registered" and candidate.subdistrict_id != place.subdistrict_id


def choose_units(
    level: WhistleLevel, place: Place, candidates: list[Candidate], already: set[int]
) -> list[tuple[int, str]]:
    """The units newly summoned at `level` with the basis of their summons, by unit id.

    `candidates` may hold several ties per unit (located here, registered there); the closest tie
    that qualifies names the basis. Units in `already` were summoned at a lower level.
    """
    chosen: dict[int, str] = {}
    for c in candidates:
        if c.unit_id in already or not qualifies(level, place, c):
            continue
        held = chosen.get(c.unit_id)
        if held is None or _BASIS_RANK[c.basis] < _BASIS_RANK[held]:
            chosen[c.unit_id] = c.basis
    return sorted(chosen.items())


def outcome(level: WhistleLevel, *, committed: int, needed: int) -> Outcome:
    if committed >= needed:
        return Outcome.covered
    if next_level(level) is not None:
        return Outcome.climb
    return Outcome.short_handed if committed > 0 else Outcome.park


def shortfall(*, committed: int, needed: int) -> int:
    return max(needed - committed, 0)


def can_move(frm: WhistleStatus, to: WhistleStatus) -> bool:
    return to in _MOVES[frm]


def from_statuses(to: WhistleStatus) -> list[WhistleStatus]:
    """The statuses a whistle may move to `to` from (the guard of the status update)."""
    return [frm for frm, tos in _MOVES.items() if to in tos]


def parked_reason(*, summoned: int, needed: int) -> str:
    if summoned == 0:
        return f"逐级吹哨至区级, 辖区内无可召集的报到单位 (需 {needed} 人)"
    return f"逐级吹哨至区级, 召集的 {summoned} 个报到单位均未报到响应 (需 {needed} 人)"
