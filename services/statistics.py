"""Registration statistics 报到率 for every front door, inside the caller's scope."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from db import statistics
from db.pool import Conn
from db.statistics import StatisticsGroup
from domain.errors import Forbidden, InvalidInput, NotFound
from domain.evaluation import Period, period_of
from domain.local_time import LOCAL_ZONE
from domain.registration_rules import registration_rate
from domain.scope import HierarchyPath, allows, scope_filter
from schemas.api import GroupPageRequest
from schemas.auth import Actor, ScopeKind
from schemas.evaluation import EvaluationRule, PeriodKind
from schemas.statistics import (
    RegistrationStatistics,
    RegistrationTrend,
    StatisticsLevel,
    TrendMonth,
)


async def registration_statistics(
    conn: Conn, actor: Actor, *, level: StatisticsLevel, page: GroupPageRequest | None = None
) -> RegistrationStatistics:
    """Every group of `level` inside the actor's scope, or `page` of them sorted as it asks."""
    total, rows = await statistics.select_registration_counts(
        conn, scope=scope_filter(actor), level=level.value, page=page
    )
    return RegistrationStatistics(level=level, total=total, items=rows)


def trend_months(now: datetime, months: int) -> list[Period]:
    """The last `months` calendar months (Beijing time) up to and including the current one."""
    local = now.astimezone(LOCAL_ZONE)
    out = []
    for back in range(months - 1, -1, -1):
        index = local.year * 12 + local.month - 1 - back
        out.append(period_of(PeriodKind.month, f"{index // 12}-{index % 12 + 1:02d}"))
    return out


def _may_see(actor: Actor, level: StatisticsLevel, group: StatisticsGroup) -> bool:
    """The city's figures for city-wide staff; an area's for staff of it or above; a unit's for
    city-wide staff and its own admin."""
    if actor.scope_kind is ScopeKind.city:
        return True
    if level is StatisticsLevel.unit:
        return actor.scope_kind is ScopeKind.unit and actor.scope_id == group.unit_id
    if level is StatisticsLevel.city:
        return False
    return allows(actor, HierarchyPath(district_id=group.district_id, subdistrict_id=group.subdistrict_id,
                                       community_id=group.community_id))


async def registration_trend(
    conn: Conn, actor: Actor, *, level: StatisticsLevel, group_id: int | None, months: int = 6,
    now: datetime | None = None, rule: EvaluationRule | None = None, live: bool = False,
) -> RegistrationTrend:
    """报到率 and the monthly standard month by month for one group (the city, a district,
    subdistrict, community or unit): what trend charts draw. `live`: grouped from the raw tables,
    not the maintained counts (the benches' baseline)."""
    if level is StatisticsLevel.city and group_id is not None:
        raise InvalidInput("level=city 时不能指定 id")
    if level is not StatisticsLevel.city and group_id is None:
        raise InvalidInput(f"level={level.value} 时必须指定 id")
    group = await statistics.select_group(conn, level=level.value, group_id=group_id)
    if group is None:
        raise NotFound(f"{_LEVEL_NAMES[level]} {group_id} 不存在")
    if not _may_see(actor, level, group):
        raise Forbidden(f"无权查看该{_LEVEL_NAMES[level]}的统计")
    rule = rule or EvaluationRule()
    periods = trend_months(now or datetime.now(UTC), months)
    quota_services = Decimal(str(rule.min_services_per_month))
    quota_hours = Decimal(str(rule.min_hours_per_month))
    rows = await statistics.select_registration_trend(
        conn, scope=scope_filter(actor), level=level.value, group_id=group_id,
        starts=[p.start for p in periods], ends=[p.end for p in periods],
        quota_services=quota_services, quota_hours=quota_hours, live=live,
    )
    return RegistrationTrend(
        level=level, id=group_id, name=group.name, quota_services=float(quota_services),
        quota_hours=float(quota_hours),
        months=[TrendMonth(month=p.label, members=r.members, registered=r.registered,
                           newly_registered=r.newly_registered, served=r.served,
                           met_standard=r.met_standard, rate=registration_rate(r.registered, r.members))
                for p, r in zip(periods, rows, strict=True)],
    )


_LEVEL_NAMES = {StatisticsLevel.unit: "单位", StatisticsLevel.community: "社区", StatisticsLevel.subdistrict: "街道",
                StatisticsLevel.district: "区", StatisticsLevel.city: "全市"}
