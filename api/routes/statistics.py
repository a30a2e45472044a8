"""Registration statistics 报到率 per unit, community, subdistrict, district or the city."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ActorDep, PoolDep
from schemas.statistics import RegistrationStatistics, StatisticsLevel
from services import statistics

router = APIRouter(tags=["statistics 统计"])


@router.get("/statistics/registration", response_model=RegistrationStatistics, summary="报到率统计")
async def registration_statistics(
    pool: PoolDep, actor: ActorDep, level: StatisticsLevel = StatisticsLevel.community
) -> RegistrationStatistics:
    async with pool.acquire() as conn:
        return await statistics.registration_statistics(conn, actor, level=level)
