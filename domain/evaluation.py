"""Evaluation 述职评议考核 as pure rules: periods, thresholds, grades, stars, and a reference
implementation computing every figure from raw ledger rows.

The SQL in db/evaluation.py computes the same figures set-based over a million members; it is
written to mirror these functions (the same thresholds, passed in as numbers computed here). The
reference `evaluate_city` is a different computation of the same definitions, so the tests can
check the SQL against it instead of against itself.

Definitions (people ask "why this grade", so each is stated once, here):
- registered: the member's latest registration (highest id) is confirmed, active or paused.
  A member who never registered (or whose latest registration is submitted, rejected, withdrawn,
  lapsed, transferred) cannot be 合格 or better: they are 不合格.
- services / hours / points: the member's evaluation_points rows awarded within the period;
  hours from each row's `parts.hours`. avg_rating: residents' ratings of those rows' tasks.
- quota met: services ≥ quota services and hours ≥ quota hours (per-month figures × months).
- score = weight_points·points + weight_hours·hours + weight_services·services.
- unit: registration rate = registered / members; completion rate = quota met / members;
  eligible when both reach their minimum (compared exactly, 94.9 % < 95 %).
- community: needs placed in the period (not rejected, not a duplicate); responded = a member
  accepted a task of the need before the period's end; resolved = a task of the need verified
  or closed; satisfied = a rating in the period at or above `satisfied_min_score`.
  Rates and the composite (mean of the available 三率) are rounded to 4 decimals before stars
  and ranks are taken from them, so SQL numerics and Python fractions agree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from domain.local_time import LOCAL_ZONE
from schemas.evaluation import EvaluationRule, Grade, PeriodKind

# Periods are Beijing-time calendar periods: November is what a clerk in the city calls November.
REGISTERED_STATUSES = ("confirmed", "active", "paused")
RESOLVED_TASK_STATUSES = ("verified", "closed")
_DAYS_PER_MONTH = 30.4375
_FOUR = Decimal("0.0001")


# --- periods ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    label: str
    start: datetime
    end: datetime   # exclusive


def _month_start(year: int, month: int) -> datetime:
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=LOCAL_ZONE)


def period_of(kind: PeriodKind, label: str) -> Period:
    """Parse 2026-11 (month), 2026-Q4 (quarter) or 2026 (year)."""
    if kind == PeriodKind.month:
        year, month = (int(p) for p in label.split("-"))
        if not 1 <= month <= 12:
            raise ValueError(label)
        return Period(kind, f"{year}-{month:02d}", _month_start(year, month), _month_start(year, month + 1))
    if kind == PeriodKind.quarter:
        year_text, q_text = label.upper().split("-Q")
        year, q = int(year_text), int(q_text)
        if not 1 <= q <= 4:
            raise ValueError(label)
        return Period(kind, f"{year}-Q{q}", _month_start(year, 3 * q - 2), _month_start(year, 3 * q + 1))
    if kind == PeriodKind.year:
        year = int(label)
        return Period(kind, str(year), _month_start(year, 1), _month_start(year + 1, 1))
    raise ValueError(f"a campaign period comes from the campaign, not a label: {label}")


def parse_period(text: str) -> Period:
    """2026-Q4 → quarter, 2026-11 → month, 2026 → year."""
    if "Q" in text.upper():
        return period_of(PeriodKind.quarter, text)
    if "-" in text:
        return period_of(PeriodKind.month, text)
    return period_of(PeriodKind.year, text)


def previous_period(kind: PeriodKind, now: datetime) -> Period:
    """The last complete period before `now`: what a schedule firing at `now` evaluates."""
    now = now.astimezone(LOCAL_ZONE)
    if kind == PeriodKind.month:
        start = _month_start(now.year, now.month - 1)
        return period_of(kind, f"{start.year}-{start.month:02d}")
    if kind == PeriodKind.quarter:
        q = (now.month - 1) // 3   # the current quarter's index 0..3; the previous one is q - 1
        start = _month_start(now.year, 3 * (q - 1) + 1)
        return period_of(kind, f"{start.year}-Q{(start.month - 1) // 3 + 1}")
    if kind == PeriodKind.year:
        return period_of(kind, str(now.year - 1))
    raise ValueError("campaign periods are not scheduled")


def period_months(start: datetime, end: datetime) -> int:
    """The period's length in whole months (at least one): the multiplier of monthly quotas."""
    days = (end - start) / timedelta(days=1)
    return max(1, round(days / _DAYS_PER_MONTH))


def partition_bounds(lo: int, hi: int, size: int) -> list[tuple[int, int]]:
    """Inclusive member-id ranges of at most `size` ids covering lo..hi."""
    return [(start, min(start + size - 1, hi)) for start in range(lo, hi + 1, size)]


# --- thresholds and grades ----------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """A rule applied to one period: the numbers the SQL receives as parameters."""

    months: int
    quota_services: Decimal
    quota_hours: Decimal
    excellent_score: Decimal
    basic_services: Decimal
    basic_hours: Decimal
    weight_points: Decimal
    weight_hours: Decimal
    weight_services: Decimal
    unit_min_registration_rate: Decimal
    unit_min_completion_rate: Decimal
    unit_basic_rate: Decimal
    unit_excellent_services: Decimal
    satisfied_min_score: int
    star_bands: tuple[Decimal, Decimal, Decimal, Decimal]


def _dec(x: float) -> Decimal:
    return Decimal(str(x))


def thresholds(rule: EvaluationRule, start: datetime, end: datetime) -> Thresholds:
    months = period_months(start, end)
    quota_services = _dec(rule.min_services_per_month) * months
    quota_hours = _dec(rule.min_hours_per_month) * months
    share = _dec(rule.basic_share)
    return Thresholds(
        months=months,
        quota_services=quota_services,
        quota_hours=quota_hours,
        excellent_score=_dec(rule.excellent_score_per_month) * months,
        basic_services=quota_services * share,
        basic_hours=quota_hours * share,
        weight_points=_dec(rule.weight_points),
        weight_hours=_dec(rule.weight_hours),
        weight_services=_dec(rule.weight_services),
        unit_min_registration_rate=_dec(rule.unit_min_registration_rate),
        unit_min_completion_rate=_dec(rule.unit_min_completion_rate),
        unit_basic_rate=_dec(rule.unit_basic_rate),
        unit_excellent_services=_dec(rule.unit_excellent_services_per_month) * months,
        satisfied_min_score=rule.satisfied_min_score,
        star_bands=(_dec(rule.star_bands[0]), _dec(rule.star_bands[1]), _dec(rule.star_bands[2]),
                    _dec(rule.star_bands[3])),
    )


def is_registered(status: str | None) -> bool:
    return status in REGISTERED_STATUSES


def member_score(t: Thresholds, *, points: Decimal, hours: Decimal, services: int) -> Decimal:
    return t.weight_points * points + t.weight_hours * hours + t.weight_services * services


def quota_met(t: Thresholds, *, services: int, hours: Decimal) -> bool:
    return services >= t.quota_services and hours >= t.quota_hours


def member_grade(t: Thresholds, *, registered: bool, services: int, hours: Decimal, score: Decimal) -> Grade:
    if not registered:
        return Grade.unqualified
    met = quota_met(t, services=services, hours=hours)
    if met and score >= t.excellent_score:
        return Grade.excellent
    if met:
        return Grade.qualified
    if services >= t.basic_services and hours >= t.basic_hours:
        return Grade.basic
    return Grade.unqualified


def rate_at_least(numerator: int, denominator: int, minimum: Decimal) -> bool:
    """Exact: 949/1000 is below 0.95, however it would round."""
    return Fraction(numerator) >= Fraction(minimum) * denominator


def unit_eligible(t: Thresholds, *, members: int, registered: int, quota_met_count: int) -> bool:
    return rate_at_least(registered, members, t.unit_min_registration_rate) and rate_at_least(
        quota_met_count, members, t.unit_min_completion_rate
    )


def unit_grade(
    t: Thresholds, *, members: int, registered: int, quota_met_count: int, services: int
) -> Grade:
    if unit_eligible(t, members=members, registered=registered, quota_met_count=quota_met_count):
        if Fraction(services) >= Fraction(t.unit_excellent_services) * members:
            return Grade.excellent
        return Grade.qualified
    if rate_at_least(registered, members, t.unit_basic_rate) and rate_at_least(
        quota_met_count, members, t.unit_basic_rate
    ):
        return Grade.basic
    return Grade.unqualified


def round4(value: Fraction) -> Decimal:
    """A rate rounded half-up to four decimals, as numeric(6,4) stores it."""
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(_FOUR, rounding=ROUND_HALF_UP)


def rate(numerator: int, denominator: int) -> Decimal | None:
    return None if denominator == 0 else round4(Fraction(numerator, denominator))


def composite(rates: Iterable[Decimal | None]) -> Decimal | None:
    """The mean of the available rates, rounded to 4 decimals; None when none is available."""
    present = [Fraction(r) for r in rates if r is not None]
    if not present:
        return None
    return round4(sum(present, Fraction(0)) / len(present))


def stars(t: Thresholds, value: Decimal | None) -> int | None:
    if value is None:
        return None
    return 1 + sum(1 for band in t.star_bands if value >= band)


def ranks(keys: Sequence[tuple[Decimal | None, ...] | None]) -> list[int]:
    """SQL rank() over descending keys, None last: 1 + how many rank strictly ahead."""
    present = [k for k in keys if k is not None]
    out = []
    for key in keys:
        if key is None:
            out.append(1 + len(present))
        else:
            out.append(1 + sum(1 for other in present if other > key))
    return out


# --- the reference implementation ---------------------------------------------------------------


@dataclass(frozen=True)
class RawMember:
    id: int
    unit_id: int | None
    community_id: int


@dataclass(frozen=True)
class RawLedgerRow:
    id: int
    member_id: int
    task_id: int | None       # None for an approved service record (no task, no rating)
    points: Decimal
    hours: Decimal
    awarded_at: datetime


@dataclass(frozen=True)
class RawNeed:
    id: int
    community_id: int
    status: str
    duplicate_of: int | None
    created_at: datetime


@dataclass(frozen=True)
class RawTask:
    id: int
    need_id: int | None
    community_id: int
    status: str


@dataclass(frozen=True)
class RawAssignment:
    task_id: int
    member_id: int
    accepted_at: datetime


@dataclass(frozen=True)
class RawRating:
    task_id: int
    score: int
    rated_at: datetime


@dataclass(frozen=True)
class RawRegistration:
    id: int
    member_id: int
    grid_id: int | None
    status: str


@dataclass(frozen=True)
class RawGrid:
    id: int
    community_id: int
    branch_name: str | None


@dataclass(frozen=True)
class RawCommunity:
    id: int
    subdistrict_id: int
    district_id: int


@dataclass
class RawCity:
    """Everything the reference needs, as rows read straight from the tables."""

    communities: list[RawCommunity]
    grids: list[RawGrid]
    members: list[RawMember]
    registrations: list[RawRegistration]
    ledger: list[RawLedgerRow]
    needs: list[RawNeed]
    tasks: list[RawTask]
    assignments: list[RawAssignment]
    ratings: list[RawRating]


@dataclass(frozen=True)
class MemberFigures:
    services: int
    hours: Decimal
    points: Decimal
    ratings: int
    avg_rating: Decimal | None
    score: Decimal
    quota_met: bool
    registration_status: str
    registered: bool
    grade: Grade
    ledger_ids: tuple[int, ...]


@dataclass(frozen=True)
class UnitFigures:
    members: int
    registered: int
    quota_met: int
    services: int
    registration_rate: Decimal
    completion_rate: Decimal
    services_per_member: Decimal
    eligible: bool
    grade: Grade
    stars: int
    rank: int


@dataclass(frozen=True)
class CommunityFigures:
    members: int
    registered: int
    needs: int
    responded: int
    resolved: int
    ratings: int
    satisfied: int
    response_rate: Decimal | None
    resolution_rate: Decimal | None
    satisfaction_rate: Decimal | None
    avg_hours_to_respond: Decimal | None
    grids: int
    grids_with_branch: int
    grids_with_members: int
    branch_coverage: Decimal | None
    member_coverage: Decimal | None
    composite: Decimal | None
    stars: int | None
    rank: int


@dataclass(frozen=True)
class AreaFigures:
    communities: int
    members: int
    registered: int
    registration_rate: Decimal | None
    needs: int
    response_rate: Decimal | None
    resolution_rate: Decimal | None
    satisfaction_rate: Decimal | None
    grids: int
    branch_coverage: Decimal | None
    member_coverage: Decimal | None
    stars: int | None
    rank: int


@dataclass
class CityFigures:
    members: dict[int, MemberFigures] = field(default_factory=dict)
    units: dict[int, UnitFigures] = field(default_factory=dict)
    communities: dict[int, CommunityFigures] = field(default_factory=dict)
    areas: dict[tuple[str, int], AreaFigures] = field(default_factory=dict)


def _round2(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


def evaluate_city(city: RawCity, rule: EvaluationRule, start: datetime, end: datetime) -> CityFigures:
    """Every figure of a run over all of `city` (the caller passes only the scoped communities)."""
    t = thresholds(rule, start, end)
    out = CityFigures()
    community_ids = {c.id for c in city.communities}

    latest: dict[int, RawRegistration] = {}
    for reg in city.registrations:
        if reg.member_id not in latest or reg.id > latest[reg.member_id].id:
            latest[reg.member_id] = reg
    rating_of = {r.task_id: r for r in city.ratings}
    rows_of: dict[int, list[RawLedgerRow]] = defaultdict(list)
    for row in city.ledger:
        if start <= row.awarded_at < end:
            rows_of[row.member_id].append(row)

    members = [m for m in city.members if m.community_id in community_ids]
    for m in members:
        rows = sorted(rows_of.get(m.id, []), key=lambda r: r.id)
        services = len(rows)
        hours = sum((r.hours for r in rows), Decimal(0))
        points = sum((r.points for r in rows), Decimal(0))
        scores = [rating_of[r.task_id].score for r in rows if r.task_id in rating_of]
        avg = _round2(Fraction(sum(scores), len(scores))) if scores else None
        status = latest[m.id].status if m.id in latest else "none"
        registered = is_registered(status)
        score = member_score(t, points=points, hours=hours, services=services)
        out.members[m.id] = MemberFigures(
            services=services, hours=hours, points=points, ratings=len(scores), avg_rating=avg,
            score=score, quota_met=quota_met(t, services=services, hours=hours),
            registration_status=status, registered=registered,
            grade=member_grade(t, registered=registered, services=services, hours=hours, score=score),
            ledger_ids=tuple(r.id for r in rows),
        )

    by_unit: dict[int, list[int]] = defaultdict(list)
    for m in members:
        if m.unit_id is not None:
            by_unit[m.unit_id].append(m.id)
    unit_partial: dict[int, tuple[int, int, int, int]] = {}
    for unit_id, ids in by_unit.items():
        figs = [out.members[i] for i in ids]
        n = len(ids)
        n_registered = sum(f.registered for f in figs)
        met = sum(f.quota_met for f in figs)
        services = sum(f.services for f in figs)
        unit_partial[unit_id] = (n, n_registered, met, services)
    unit_ids = sorted(unit_partial)
    unit_keys = [
        (rate(unit_partial[u][2], unit_partial[u][0]), rate(unit_partial[u][1], unit_partial[u][0]),
         _round2(Fraction(unit_partial[u][3], unit_partial[u][0])))
        for u in unit_ids
    ]
    unit_ranks = ranks([(k[0] or Decimal(0), k[1] or Decimal(0), k[2]) for k in unit_keys])
    for u, ukey, rank in zip(unit_ids, unit_keys, unit_ranks, strict=True):
        n, n_reg, met, services = unit_partial[u]
        reg_rate, completion = rate(n_reg, n), rate(met, n)
        assert reg_rate is not None and completion is not None
        star = stars(t, min(reg_rate, completion))
        assert star is not None
        out.units[u] = UnitFigures(
            members=n, registered=n_reg, quota_met=met, services=services, registration_rate=reg_rate,
            completion_rate=completion, services_per_member=ukey[2],
            eligible=unit_eligible(t, members=n, registered=n_reg, quota_met_count=met),
            grade=unit_grade(t, members=n, registered=n_reg, quota_met_count=met, services=services),
            stars=star, rank=rank,
        )

    tasks_of_need: dict[int, list[RawTask]] = defaultdict(list)
    for task in city.tasks:
        if task.need_id is not None:
            tasks_of_need[task.need_id].append(task)
    first_accept: dict[int, datetime] = {}
    for a in city.assignments:
        if a.accepted_at < end and (a.task_id not in first_accept or a.accepted_at < first_accept[a.task_id]):
            first_accept[a.task_id] = a.accepted_at
    task_community = {task.id: task.community_id for task in city.tasks}
    # An open registered row places its grid (open rows are unique per member).
    placed_grid_ids = {
        r.grid_id for r in city.registrations if r.grid_id is not None and is_registered(r.status)
    }
    community_partial = {}
    for c in city.communities:
        c_members = [out.members[m.id] for m in members if m.community_id == c.id]
        needs = [n for n in city.needs if n.community_id == c.id and start <= n.created_at < end
                 and n.status != "rejected" and n.duplicate_of is None]
        responded = 0
        resolved = 0
        response_hours: list[Fraction] = []
        for need in needs:
            accepts = [first_accept[tk.id] for tk in tasks_of_need.get(need.id, []) if tk.id in first_accept]
            if accepts:
                responded += 1
                delta = min(accepts) - need.created_at
                response_hours.append(Fraction(int(delta / timedelta(microseconds=1)), 3_600_000_000))
            if any(tk.status in RESOLVED_TASK_STATUSES for tk in tasks_of_need.get(need.id, [])):
                resolved += 1
        c_ratings = [r for r in city.ratings if task_community.get(r.task_id) == c.id and start <= r.rated_at < end]
        satisfied = sum(1 for r in c_ratings if r.score >= t.satisfied_min_score)
        grids = [g for g in city.grids if g.community_id == c.id]
        with_branch = sum(1 for g in grids if g.branch_name)
        with_members = sum(1 for g in grids if g.id in placed_grid_ids)
        resp, resol, sat = rate(responded, len(needs)), rate(resolved, len(needs)), rate(satisfied, len(c_ratings))
        comp = composite([resp, resol, sat])
        community_partial[c.id] = CommunityFigures(
            members=len(c_members), registered=sum(f.registered for f in c_members), needs=len(needs),
            responded=responded, resolved=resolved, ratings=len(c_ratings), satisfied=satisfied,
            response_rate=resp, resolution_rate=resol, satisfaction_rate=sat,
            avg_hours_to_respond=_round2(sum(response_hours, Fraction(0)) / len(response_hours))
            if response_hours else None,
            grids=len(grids), grids_with_branch=with_branch, grids_with_members=with_members,
            branch_coverage=rate(with_branch, len(grids)), member_coverage=rate(with_members, len(grids)),
            composite=comp, stars=stars(t, comp), rank=0,
        )
    c_ids = sorted(community_partial)
    c_ranks = ranks([(community_partial[c].composite,) if community_partial[c].composite is not None else None
                     for c in c_ids])
    for c_id, rank in zip(c_ids, c_ranks, strict=True):
        f = community_partial[c_id]
        out.communities[c_id] = CommunityFigures(**{**f.__dict__, "rank": rank})

    for level in ("subdistrict", "district", "city"):
        groups: dict[int, list[int]] = defaultdict(list)
        for c in city.communities:
            key = c.subdistrict_id if level == "subdistrict" else c.district_id if level == "district" else 0
            groups[key].append(c.id)
        partial = {}
        for key, ids in groups.items():
            fs = [out.communities[i] for i in ids]
            s = {name: sum(getattr(f, name) for f in fs) for name in (
                "members", "registered", "needs", "responded", "resolved", "ratings", "satisfied", "grids",
                "grids_with_branch", "grids_with_members")}
            resp, resol, sat = rate(s["responded"], s["needs"]), rate(s["resolved"], s["needs"]), rate(
                s["satisfied"], s["ratings"])
            comp = composite([resp, resol, sat])
            partial[key] = (AreaFigures(
                communities=len(ids), members=s["members"], registered=s["registered"],
                registration_rate=rate(s["registered"], s["members"]), needs=s["needs"],
                response_rate=resp, resolution_rate=resol, satisfaction_rate=sat, grids=s["grids"],
                branch_coverage=rate(s["grids_with_branch"], s["grids"]),
                member_coverage=rate(s["grids_with_members"], s["grids"]), stars=stars(t, comp), rank=0,
            ), comp)
        keys = sorted(partial)
        area_ranks = ranks([(partial[k][1],) if partial[k][1] is not None else None for k in keys])
        for key, rank in zip(keys, area_ranks, strict=True):
            out.areas[(level, key)] = AreaFigures(**{**partial[key][0].__dict__, "rank": rank})
    return out


def quota_text(t: Thresholds) -> str:
    return f"{t.months} 个月: 至少服务 {_plain(t.quota_services)} 次且 {_plain(t.quota_hours)} 小时"


def _plain(value: Decimal) -> str:
    """12.00 → 12, 7.50 → 7.5: thresholds as people write them."""
    text = format(value.normalize(), "f")
    return text

