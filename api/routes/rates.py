"""The three rates 三率 live per level (thin: services/rates.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ActorDep, PoolDep
from domain import local_time
from schemas.rates import LiveRates, RatesLevel
from schemas.text import Text
from services import rates

router = APIRouter(tags=["statistics 统计"])


@router.get("/statistics/rates", response_model=LiveRates, summary="三率 (响应率、解决率、满意率) 实时统计")
async def live_rates(
    pool: PoolDep, actor: ActorDep, level: RatesLevel = "community",
    period: Annotated[Text | None, Query(min_length=4, max_length=7, pattern=r"^\d{4}(-\d{2}|-[Qq][1-4])?$",
                                        description="2026-11 (月)、2026-Q4 (季度) 或 2026 (年); 默认本月")] = None,
) -> LiveRates:
    """Each group at `level` inside the caller's scope, counted as of now from counters kept in
    the same transaction as the needs, tasks and ratings they count."""
    async with pool.acquire() as conn:
        return await rates.live_rates(conn, actor, level=level, period=period, now=local_time.now())
