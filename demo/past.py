"""`up --demo`, the city's past: registrations handed in and confirmed over the past months, and a
full quarter (plus the current one up to a few days ago) of tasks offered, accepted, served,
rated, verified and credited, so the dashboard, the rankings, the trend charts and the quarterly
evaluation show what a city that has been at it for a while looks like.

Why not through live workflows: the past is ~13,000 tasks on the full demo city, and the embedded
Temporal dev server runs about 20 workflows a second on two cores; a TaskWorkflow also waits on
real timers (offer timeouts, the rating window). So the facts a finished TaskWorkflow leaves in
Postgres are written directly, set-based, by the db/ modules that own each table, with what the
workflow's activities would have written: the same statuses and status history (`task_event`
kinds, from/to statuses, actors), offers with the matcher's score parts (`domain.matching.score`),
assignments checked in and out with hours by `domain.points.service_hours`, the resident's rating
(or the default one when the rating window passed), follow-up 待跟进 after a low rating, and
evaluation points by `domain.points.compute_points` under `domain.points.service_key`, so a credit
can never be paid twice. Registrations go through the registration use cases (confirm / reject,
with the business time of the past decision); only the submission time is moved back, since a
roster import submits everything at once.

Who does how well is a fixed function of the seed and of names (no wall clock): each reporting
unit gets a profile (a few 优秀-grade units whose members serve twice a month, most steady, a few
lagging ones with members who never registered, were rejected, registered late or hardly served),
so the evaluation of the last complete quarter shows a realistic spread. The dates are laid out
relative to `now`: the roster came in six weeks before that quarter began.

Runs once per data directory: a second `up --demo` finds past tasks and writes nothing.
"""

from __future__ import annotations

import math
import random
import zlib
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from demo.needs import NEEDS
from domain.dispatch_policy import DEFAULT_POLICY
from domain.evaluation import Period, previous_period
from domain.local_time import LOCAL_ZONE, window_slots
from domain.matching import score
from domain.points import compute_points, service_hours, service_key
from domain.task_rules import FAIRNESS_WINDOW
from schemas.dispatch import PointsRule
from schemas.evaluation import PeriodKind
from schemas.matching import CityMap, EscalationLevel, MatchWeights, MemberCandidate, TaskSpec

PAST_SEED = 2024
WORKFLOW_ACTOR = "system:workflow"
POLICY = DEFAULT_POLICY
# The roster came in this long before the evaluated quarter began.
ROSTER_LEAD = timedelta(days=45)
# Of the members who serve at their unit's pace, this share registered early in the quarter
# rather than with the roster (the registration trend keeps rising into the quarter).
JOINED_SHARE = 0.15
# Nothing in the past ends closer to "now" (or to the quarter's end) than this: every past task is
# rated (or its rating window has passed) and verified before the boundary.
SETTLE = timedelta(days=6)
RULE = PointsRule(points_per_hour=10.0, category_bonus=0.0, rating_bonus=2.0, cap=100.0)
REJECT_REASONS = (
    "居住地址与本社区登记信息不符: 请核实住址后重新提交",
    "已在其他社区报到: 请先办理转出手续",
    "身份信息待核实: 请携带身份证到社区党群服务中心确认",
)
# The needs the live stream draws from (demo/dispatch.py) but its last, as the past was first drawn.
NEED_TASKS = NEEDS[:-1]
COMMUNITY_TASKS = (
    ("环境整治", "周末小区环境卫生大扫除"),
    ("政策宣传", "防范电信诈骗宣传进小区"),
    ("文明创建", "文明交通劝导志愿服务"),
    ("助老助残", "走访慰问高龄独居老人"),
    ("文明创建", "垃圾分类桶边督导"),
)
# What members log themselves (a service outside any dispatched task), and how often.
RECORD_SERVICES = (
    ("助老助残", "作为党员中心户走访独居老人, 帮助购买生活用品"),
    ("环境整治", "周末参加小区楼道清理和杂物清运"),
    ("政策宣传", "在小区门口讲解医保缴费政策"),
    ("文明创建", "劝导电动车规范停放"),
)
RECORD_SHARE = 0.08
SURNAMES = "王李张刘陈杨黄赵吴周徐孙"
GIVEN = ("桂兰", "秀英", "建国", "玉珍", "德福", "淑芬", "长林", "凤英")
PART_STARTS = (time(9, 0), time(14, 30), time(19, 0))
COMMENTS = {5: "服务及时, 态度很好", 4: "很好, 谢谢党员同志", 3: "还可以", 2: "来得太晚了", 1: "没有解决问题"}
REPORT = "已完成服务, 居民表示满意"


def _fraction(text: str) -> float:
    """A stable number in [0, 1) for a string: the same decision on every run and machine."""
    return zlib.crc32(text.encode("utf-8")) / 2**32


class Profile(StrEnum):
    """How a reporting unit's members have been doing."""

    star = "star"          # everyone registered, services twice a month: 优秀
    steady = "steady"      # registered, the quarterly quota met by (almost) all: 合格
    basic = "basic"        # a tenth short on registration or the quota: 基本合格
    lagging = "lagging"    # a third short: 不合格


class Kind(StrEnum):
    """One member's past."""

    active = "active"      # registered with the roster, serves at the unit's pace
    idle = "idle"          # registered with the roster, served once or twice
    late = "late"          # registered only in the last weeks of the quarter or after it
    pending = "pending"    # submitted, not yet confirmed by the community
    rejected = "rejected"  # sent back by the community with a reason


@dataclass(frozen=True)
class PastCalendar:
    now: datetime
    quarter: Period          # the last complete quarter: the one the demo evaluates
    current_start: datetime  # the start of the quarter `now` is in
    roster_at: datetime      # when the roster's registrations were handed in

    @property
    def quarter_label(self) -> str:
        return self.quarter.label


def past_calendar(now: datetime) -> PastCalendar:
    quarter = previous_period(PeriodKind.quarter, now)
    return PastCalendar(now=now, quarter=quarter, current_start=quarter.end, roster_at=quarter.start - ROSTER_LEAD)


@dataclass(frozen=True)
class CityMember:
    """A member as the past needs them (read from the directory)."""

    member_id: int
    unit_id: int
    community_id: int
    grid_id: int
    registration_id: int


@dataclass(frozen=True)
class MemberPast:
    member_id: int
    registration_id: int
    community_id: int
    kind: Kind
    submitted_at: datetime
    decided_at: datetime | None     # confirmed or rejected; None while pending
    reject_reason: str | None = None


@dataclass
class PastTask:
    """Everything one finished TaskWorkflow left behind, before ids are known."""

    community_id: int
    grid_id: int
    category: str
    title: str
    need: dict[str, Any] | None
    created_at: datetime
    created_by: str
    window_start: datetime
    window_end: datetime
    place: str
    category_bonus: float
    members: list[int]
    score_parts: list[dict[str, Any]]
    accepted_at: list[datetime]
    checked_in_at: list[datetime]
    checked_out_at: list[datetime]
    rating: int
    rating_comment: str | None
    defaulted: bool
    rated_at: datetime
    verified_at: datetime
    verifier: str
    hours: list[float] = field(default_factory=list)

    @property
    def offered_at(self) -> datetime:
        return self.created_at + timedelta(seconds=2)

    @property
    def staffed_at(self) -> datetime:
        return max(self.accepted_at)

    @property
    def done_at(self) -> datetime:
        return max(self.checked_out_at)


@dataclass(frozen=True)
class PastRecord:
    """A service the member logged themself 服务记录, approved in the community's weekly batch."""

    member_id: int
    community_id: int
    grid_id: int
    category: str
    description: str
    started_at: datetime
    ended_at: datetime
    hours: float
    created_at: datetime
    approved_at: datetime
    approver_community: int


@dataclass
class PastPlan:
    calendar: PastCalendar
    profiles: dict[int, Profile]
    members: list[MemberPast]
    tasks: list[PastTask]
    records: list[PastRecord] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Who did what
# ---------------------------------------------------------------------------------------------


def unit_profiles(units: Sequence[tuple[int, str]]) -> dict[int, Profile]:
    """Profiles by a stable shuffle of the unit names: about 12 % star, 7 % lagging, 5 % basic,
    the rest steady; at least one star and one lagging unit in any city of two units or more."""
    order = sorted(units, key=lambda u: (_fraction(f"unit-past:{u[1]}"), u[0]))
    n = len(order)
    stars = max(1, round(n * 0.12)) if n >= 2 else 0
    lagging = max(1, round(n * 0.07)) if n >= 2 else 0
    basic = round(n * 0.05)
    out: dict[int, Profile] = {}
    for i, (unit_id, _) in enumerate(order):
        if i < stars:
            out[unit_id] = Profile.star
        elif i < stars + lagging:
            out[unit_id] = Profile.lagging
        elif i < stars + lagging + basic:
            out[unit_id] = Profile.basic
        else:
            out[unit_id] = Profile.steady
    return out


def _weak_count(profile: Profile, n: int) -> int:
    """How many of a unit's `n` members fall short: within 5 % for star and steady units (they
    stay eligible), about a tenth for basic ones (above 80 %), about a third for lagging ones."""
    if profile in (Profile.star, Profile.steady):
        return math.floor(n * 0.05)
    if profile is Profile.basic:
        return min(max(1, math.ceil(n * 0.1)), math.floor(n * 0.2))
    return max(1, math.ceil(n * 0.3))


_WEAK_KINDS = {
    Profile.star: (Kind.idle, Kind.late),
    Profile.steady: (Kind.idle, Kind.late),
    Profile.basic: (Kind.idle, Kind.late, Kind.pending),
    Profile.lagging: (Kind.pending, Kind.rejected, Kind.idle, Kind.late, Kind.pending),
}


def _local_day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LOCAL_ZONE)


def _uniform_time(rng: random.Random, start: datetime, end: datetime) -> datetime:
    if end <= start:
        return start
    return start + timedelta(seconds=rng.uniform(0, (end - start).total_seconds()))


def _batch_time(community_id: int, around: datetime, after: datetime) -> datetime:
    """When the community decides its week's registrations (one batch a week, on a working day
    and hour fixed per community and week): the batch of the week of `around`, or the next
    week's when that one is not at least a few hours after `after`."""
    week = _week_start(around)
    while True:
        f = _fraction(f"batch:{community_id}:{week.date()}")
        at = week + timedelta(days=int(f * 5), hours=9 + 8 * _fraction(f"hour:{community_id}:{week.date()}"))
        if at >= after + timedelta(hours=4):
            return at
        week += timedelta(days=7)


def _week_start(at: datetime) -> datetime:
    local = at.astimezone(LOCAL_ZONE)
    monday = local.date() - timedelta(days=local.weekday())
    return _local_day_start(monday)


def plan_members(members: Sequence[CityMember], profiles: dict[int, Profile], cal: PastCalendar,
                 rng: random.Random) -> list[MemberPast]:
    """Each member's registration story: most handed in with the roster and confirmed in the
    community's weekly batches over the following weeks (some communities are quicker than
    others), some late, a few pending or rejected, concentrated in the weaker units."""
    by_unit: dict[int, list[CityMember]] = defaultdict(list)
    for m in members:
        by_unit[m.unit_id].append(m)
    out: list[MemberPast] = []
    for unit_id in sorted(by_unit):
        profile = profiles[unit_id]
        people = sorted(by_unit[unit_id], key=lambda m: (_fraction(f"member-past:{m.member_id}"), m.member_id))
        weak = _weak_count(profile, len(people))
        kinds = _WEAK_KINDS[profile]
        for i, m in enumerate(people):
            kind = kinds[i % len(kinds)] if i < weak else Kind.active
            pace = 5 + 35 * _fraction(f"pace:{m.community_id}")   # days the community takes
            roster = cal.roster_at
            if kind is Kind.active and rng.random() < JOINED_SHARE:
                # Joined the unit (or was added to the roster) early in the quarter: registered
                # then, in time to meet the quarter's quota.
                submitted = cal.quarter.start + timedelta(days=rng.uniform(0, 18))
                decided = _batch_time(m.community_id, submitted + timedelta(days=rng.uniform(0, 4)), submitted)
                out.append(MemberPast(m.member_id, m.registration_id, m.community_id, kind, submitted, decided))
            elif kind in (Kind.active, Kind.idle):
                submitted = roster
                decided = _batch_time(m.community_id, roster + timedelta(days=rng.uniform(1, pace)), submitted)
                out.append(MemberPast(m.member_id, m.registration_id, m.community_id, kind, submitted, decided))
            elif kind is Kind.late:
                low = cal.quarter.end - timedelta(days=25)
                submitted = _uniform_time(rng, low, cal.now - timedelta(days=12))
                decided = _batch_time(m.community_id, submitted + timedelta(days=rng.uniform(0, 6)), submitted)
                if decided >= cal.now - timedelta(hours=1):   # not yet decided: still pending
                    out.append(MemberPast(m.member_id, m.registration_id, m.community_id, Kind.pending,
                                          submitted, None))
                else:
                    out.append(MemberPast(m.member_id, m.registration_id, m.community_id, kind, submitted,
                                          decided))
            elif kind is Kind.pending:
                # Half never got an answer since the roster; half handed in during the last weeks.
                submitted = roster if rng.random() < 0.5 else _uniform_time(
                    rng, cal.now - timedelta(days=25), cal.now - timedelta(days=1))
                out.append(MemberPast(m.member_id, m.registration_id, m.community_id, kind, submitted, None))
            else:
                decided = _batch_time(m.community_id, roster + timedelta(days=rng.uniform(2, 20)), submitted)
                out.append(MemberPast(m.member_id, m.registration_id, m.community_id, kind, roster, decided,
                                      REJECT_REASONS[m.member_id % len(REJECT_REASONS)]))
    return out


def _service_count(profile: Profile, kind: Kind, rng: random.Random) -> int:
    """Services in a full quarter (three months)."""
    if kind is Kind.idle:
        return rng.choice((1, 2))
    if kind is not Kind.active and kind is not Kind.late:
        return 0
    if profile is Profile.star:
        return rng.choices((6, 7, 8), weights=(40, 40, 20))[0]
    return rng.choices((3, 4, 5), weights=(86, 10, 4))[0]


def _service_days(rng: random.Random, count: int, start: datetime, end: datetime) -> list[date]:
    """`count` distinct local days in [start, end), or fewer when the span is shorter."""
    first = start.astimezone(LOCAL_ZONE).date() + timedelta(days=1)
    last = end.astimezone(LOCAL_ZONE).date() - timedelta(days=1)
    span = (last - first).days + 1
    if span <= 0 or count <= 0:
        return []
    return sorted(first + timedelta(days=d) for d in rng.sample(range(span), min(count, span)))


def plan_services(members: Sequence[MemberPast], profile_of: dict[int, Profile], cal: PastCalendar,
                  rng: random.Random) -> dict[int, list[date]]:
    """The days each registered member served: a quarter's worth in the evaluated quarter, and
    the same pace in the current quarter up to a week ago (after they were confirmed)."""
    days: dict[int, list[date]] = {}
    q_len = (cal.quarter.end - cal.quarter.start) / timedelta(days=1)
    for m in members:
        if m.kind in (Kind.pending, Kind.rejected) or m.decided_at is None:
            continue
        count = _service_count(profile_of[m.member_id], m.kind, rng)
        served: list[date] = []
        if m.kind is not Kind.late:   # the late ones were not there for the evaluated quarter
            start = max(cal.quarter.start, m.decided_at)
            served += _service_days(rng, count, start, cal.quarter.end - SETTLE)
        cur_end = cal.now - SETTLE
        if cur_end > cal.current_start:
            start = max(cal.current_start, m.decided_at)
            share = max(0.0, (cur_end - start) / timedelta(days=1)) / q_len
            served += _service_days(rng, round(count * share + rng.uniform(-0.3, 0.3)), start, cur_end)
        if served:
            days[m.member_id] = served
    return days


# ---------------------------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommunityPlace:
    community_id: int
    staff: str                     # the community staff's audit name
    grids: list[tuple[int, str]]   # (grid id, compound name)

    def grid_name(self, grid_id: int) -> str:
        return next((name for g, name in self.grids if g == grid_id), self.grids[0][1])


def plan_records(members: Sequence[CityMember], services: dict[int, list[date]], cal: PastCalendar,
                 rng: random.Random) -> list[PastRecord]:
    """Take about one service in twelve out of the task plan as a record the member logged that
    evening; the community approves it in its next weekly batch. Only services far enough from the
    quarter's end (and from now) that the approval falls in the same quarter become records."""
    member_of = {m.member_id: m for m in members}
    out: list[PastRecord] = []
    q_start, q_end = cal.quarter.start.date(), cal.quarter.end.date()
    for member_id in sorted(services):
        kept: list[date] = []
        # A short visit (under the monthly 2 hours) only where it cannot cost the quarter's quota.
        spare = sum(1 for d in services[member_id] if q_start <= d < q_end) >= 4
        for day in services[member_id]:
            start = datetime.combine(day, rng.choice(PART_STARTS), tzinfo=LOCAL_ZONE)
            boundary = cal.quarter.end if start < cal.quarter.end else cal.now
            if rng.random() >= RECORD_SHARE or start > boundary - timedelta(days=16):
                kept.append(day)
                continue
            m = member_of[member_id]
            category, description = rng.choice(RECORD_SERVICES)
            hours = rng.choices((2.0, 2.5, 3.0), weights=(60, 32, 8))[0]
            if (spare or day >= q_end) and rng.random() < 0.5:
                hours = rng.choice((1.0, 1.5))
            logged = start.replace(hour=21, minute=0) + timedelta(minutes=rng.uniform(0, 50))
            out.append(PastRecord(
                member_id=member_id, community_id=m.community_id, grid_id=m.grid_id, category=category,
                description=description, started_at=start, ended_at=start + timedelta(hours=hours), hours=hours,
                created_at=logged, approved_at=_batch_time(m.community_id, logged + timedelta(days=1), logged),
                approver_community=m.community_id,
            ))
        services[member_id] = kept
    return out


def plan_tasks(members: Sequence[CityMember], services: dict[int, list[date]],
               communities: dict[int, CommunityPlace], category_bonus: dict[str, float],
               cal: PastCalendar, rng: random.Random) -> list[PastTask]:
    """Group each community's services of a day into tasks of one to six members (a member
    serves at most once a day), each with the life a finished TaskWorkflow records."""
    member_of = {m.member_id: m for m in members}
    by_day: dict[tuple[int, date], list[int]] = defaultdict(list)
    for member_id, days in services.items():
        for day in days:
            by_day[(member_of[member_id].community_id, day)].append(member_id)
    recent: dict[int, deque[datetime]] = defaultdict(deque)   # member → services in the fairness window
    ratings: dict[int, list[int]] = defaultdict(list)       # member → earlier ratings
    tasks: list[PastTask] = []
    for (community_id, day) in sorted(by_day):
        people = sorted(by_day[(community_id, day)])
        rng.shuffle(people)
        place = communities[community_id]
        quality = _fraction(f"quality:{community_id}")
        while people:
            size = min(len(people), rng.choices((1, 2, 3, 4, 5, 6), weights=(22, 22, 20, 16, 10, 10))[0])
            group, people = people[:size], people[size:]
            tasks.append(_plan_task(group, member_of, place, category_bonus, day, quality, recent, ratings, rng))
    tasks.sort(key=lambda t: (t.created_at, t.community_id))
    return tasks


def _plan_task(group: list[int], member_of: dict[int, CityMember], place: CommunityPlace,
               category_bonus: dict[str, float], day: date, quality: float,
               recent: dict[int, deque[datetime]], ratings: dict[int, list[int]],
               rng: random.Random) -> PastTask:
    hours = rng.choices((2.0, 2.5, 3.0), weights=(60, 32, 8))[0]
    window_start = datetime.combine(day, rng.choice(PART_STARTS), tzinfo=LOCAL_ZONE)
    window_end = window_start + timedelta(hours=hours)
    grid_id = member_of[group[0]].grid_id
    grid_name = place.grid_name(grid_id)
    need: dict[str, Any] | None = None
    if rng.random() < 0.65:
        category, text, title = rng.choice(NEED_TASKS)
        resident = rng.choice(SURNAMES) + rng.choice(GIVEN)
        placed = window_start - timedelta(days=rng.uniform(1, 4))
        urgency = rng.choices(("red", "yellow", "blue"), weights=(10, 40, 50))[0]
        need = {
            "category": category, "urgency": urgency,
            "deadline_at": placed + timedelta(hours={"red": 2, "yellow": 24, "blue": 72}[urgency]),
            "description": text.format(name=resident, grid=grid_name), "resident_name": resident,
            "resident_phone": f"139{rng.randrange(10**8):08d}",
            "donor_name": "爱心企业" if category == "物资微心愿" else None,
            "donor_anonymous": category == "物资微心愿" and rng.random() < 0.5,
            "created_at": placed, "decided_at": placed + timedelta(hours=rng.uniform(0.5, 3)),
        }
        created_at = need["decided_at"] + timedelta(minutes=rng.uniform(5, 90))
    else:
        category, title = rng.choice(COMMUNITY_TASKS)
        created_at = window_start - timedelta(days=rng.uniform(1, 3))
    # model_construct: these are the matcher's own inputs, built from rows already valid.
    spec = TaskSpec.model_construct(task_id=0, community_id=place.community_id, grid_id=grid_id,
                                    headcount=len(group), required_skills=frozenset(),
                                    window_slots=window_slots(window_start, window_end), level=EscalationLevel.grid)
    city = CityMap.model_construct(neighbours={}, grid_community={grid_id: place.community_id},
                                   community_subdistrict={}, subdistrict_district={})
    weights = MatchWeights()
    parts = []
    offered = created_at + timedelta(seconds=2)
    for member_id in group:
        m = member_of[member_id]
        earlier = recent[member_id]
        while earlier and earlier[0] < offered - FAIRNESS_WINDOW:
            earlier.popleft()
        rated = ratings[member_id]
        candidate = MemberCandidate.model_construct(
            member_id=member_id, unit_id=m.unit_id, home_grid_id=m.grid_id, community_id=m.community_id,
            subdistrict_id=None, district_id=None, skills=frozenset(), free_slots=frozenset(), paused=False,
            active_registration_community_id=m.community_id, current_load=0, max_concurrent_tasks=2,
            recent_load=float(len(earlier)), avg_rating=sum(rated) / len(rated) if rated else None,
            rating_count=len(rated), declined_or_no_show_task_ids=frozenset(),
        )
        parts.append(score(spec, candidate, city, weights).model_dump())
    accepted = [offered + timedelta(minutes=rng.uniform(2, 25)) for _ in group]
    checked_in = [window_start + timedelta(minutes=rng.uniform(-10, 10)) for _ in group]
    checked_out = [t + timedelta(hours=hours, minutes=rng.uniform(0, 12)) for t in checked_in]
    done = max(checked_out)
    u = rng.random()
    low = 0.03 + 0.07 * (1 - quality)
    score_ = 1 if u < low * 0.2 else 2 if u < low else 3 if u < low + 0.05 + 0.12 * (1 - quality) else (
        4 if u < 0.45 else 5)
    defaulted = rng.random() < 0.12 and score_ >= 4
    if defaulted:
        score_ = POLICY.default_rating
        rated_at = done + POLICY.rating_window
    else:
        rated_at = done + timedelta(hours=rng.uniform(1, 30))
    verified_at = rated_at + timedelta(hours=rng.uniform(2, 40))
    for member_id in group:
        recent[member_id].append(done)
        ratings[member_id].append(score_)
    return PastTask(
        community_id=place.community_id, grid_id=grid_id, category=category, title=title, need=need,
        created_at=created_at, created_by=place.staff, window_start=window_start, window_end=window_end,
        place=grid_name, category_bonus=category_bonus.get(category, 0.0), members=list(group),
        score_parts=parts, accepted_at=accepted, checked_in_at=checked_in, checked_out_at=checked_out,
        rating=score_, rating_comment=None if defaulted else COMMENTS[score_], defaulted=defaulted,
        rated_at=rated_at, verified_at=verified_at, verifier=place.staff,
        hours=[service_hours(a, b) for a, b in zip(checked_in, checked_out, strict=True)],
    )


def plan_past(members: Sequence[CityMember], units: Sequence[tuple[int, str]],
              communities: dict[int, CommunityPlace], category_bonus: dict[str, float],
              now: datetime, seed: int = PAST_SEED) -> PastPlan:
    """The whole past, a pure function of the city, the seed and the day it is laid out on."""
    cal = past_calendar(now)
    rng = random.Random(seed)
    profiles = unit_profiles(units)
    pasts = plan_members(members, profiles, cal, rng)
    profile_of = {m.member_id: profiles[m.unit_id] for m in members}
    services = plan_services(pasts, profile_of, cal, rng)
    records = plan_records(members, services, cal, rng)
    tasks = plan_tasks(members, services, communities, category_bonus, cal, rng)
    return PastPlan(calendar=cal, profiles=profiles, members=pasts, tasks=tasks, records=records)


# ---------------------------------------------------------------------------------------------
# What each task's workflow would have written
# ---------------------------------------------------------------------------------------------


def task_points(task: PastTask) -> list[dict[str, Any]]:
    """The award activity's breakdown per member (domain.points, the task's own rule)."""
    rule = RULE.model_copy(update={"category_bonus": task.category_bonus})
    return [compute_points(rule, hours=h, rating=task.rating).model_dump() for h in task.hours]


def task_keys(task_id: int, task: PastTask) -> list[str]:
    return [service_key(task_id, m) for m in task.members]


def task_events(task_id: int, task: PastTask) -> list[tuple[str, str | None, str | None, int | None, str,
                                                              dict[str, Any], datetime]]:
    """(kind, from, to, member, actor, detail, at) in the order the TaskWorkflow writes them."""
    ev: list[tuple[str, str | None, str | None, int | None, str, dict[str, Any], datetime]] = []

    def status(frm: str, to: str, actor: str, at: datetime, reason: str | None = None) -> None:
        ev.append(("status", frm, to, None, actor, {"level": "grid", "reason": reason}, at))

    ev.append(("created", None, "open", None, task.created_by, {}, task.created_at))
    status("open", "offering", WORKFLOW_ACTOR, task.created_at + timedelta(seconds=1))
    ev.append(("offers_sent", None, None, None, WORKFLOW_ACTOR,
               {"wave": 1, "level": "grid", "member_ids": list(task.members)}, task.offered_at))
    # offer ids are filled in by the writer (they exist only after the offers are inserted)
    for member_id, at in sorted(zip(task.members, task.accepted_at, strict=True), key=lambda p: p[1]):
        ev.append(("offer_accepted", None, None, member_id, f"member:{member_id}",
                   {"offer_id": None, "reason": None}, at))
    status("offering", "staffed", WORKFLOW_ACTOR, task.staffed_at)
    scans = sorted(
        [(at, "checked_in", m, {}) for m, at in zip(task.members, task.checked_in_at, strict=True)]
        + [(at, "checked_out", m, {"hours": h})
           for m, at, h in zip(task.members, task.checked_out_at, task.hours, strict=True)],
        key=lambda s: s[0])
    first_in = True
    for at, kind, member_id, detail in scans:
        ev.append((kind, None, None, member_id, f"member:{member_id}", detail, at))
        if kind == "checked_in" and first_in:
            status("staffed", "in_progress", WORKFLOW_ACTOR, at)
            first_in = False
    status("in_progress", "done", WORKFLOW_ACTOR, task.done_at)
    ev.append(("rated", None, None, None, "system:default" if task.defaulted else "resident",
               {"score": task.rating, "defaulted": task.defaulted}, task.rated_at))
    before_verify = "done"
    if task.rating <= POLICY.low_rating_threshold:
        status("done", "follow_up", WORKFLOW_ACTOR, task.rated_at, "居民评价较低, 需回访跟进")
        ev.append(("notified_follow_up", None, None, None, WORKFLOW_ACTOR,
                   {"level": "community", "recipient_kind": "community", "recipient_id": task.community_id},
                   task.rated_at))
        before_verify = "follow_up"
    status(before_verify, "verified", task.verifier, task.verified_at)
    status("verified", "closed", task.verifier, task.verified_at)
    return ev


def as_utc(at: datetime) -> datetime:
    return at.astimezone(UTC)
