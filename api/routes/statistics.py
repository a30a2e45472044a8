"""Registration statistics 报到率 per unit, community, subdistrict, district or the city, and
one group's trend month by month."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ActorDep, GroupPageQuery, IdQuery, PoolDep
from schemas.statistics import RegistrationStatistics, RegistrationTrend, StatisticsLevel
from services import statistics

router = APIRouter(tags=["statistics 统计"])


@router.get("/statistics/registration", response_model=RegistrationStatistics, summary="报到率统计")
async def registration_statistics(
    pool: PoolDep, actor: ActorDep, page: GroupPageQuery, level: StatisticsLevel = StatisticsLevel.community,
) -> RegistrationStatistics:
    """The groups of `level` in the caller's scope, one page (`limit` up to 500, 500 when not
    given; `offset`) sorted by `order` (id; rate_asc: the lowest 报到率 first); `total` counts
    them all."""
    async with pool.acquire() as conn:
        return await statistics.registration_statistics(conn, actor, level=level, page=page)


@router.get("/statistics/registration/trend", response_model=RegistrationTrend, summary="报到率及达标人数月度趋势")
async def registration_trend(
    pool: PoolDep, actor: ActorDep, level: StatisticsLevel = StatisticsLevel.city, id: IdQuery = None,
    months: Annotated[int, Query(ge=1, le=36, description="最近几个月 (含本月)")] = 6,
) -> RegistrationTrend:
    """Per calendar month: members, registered at the month's end, newly registered, served, and
    meeting the evaluation rule's monthly quota. `id` names the group (not for level=city)."""
    async with pool.acquire() as conn:
        return await statistics.registration_trend(conn, actor, level=level, group_id=id, months=months)
