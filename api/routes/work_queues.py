"""The workbench 工作台: the counts of a community's work queues (thin: services/work_queue.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from api.deps import ActorDep, PoolDep
from schemas.work_queue import WorkQueues
from services import work_queue

router = APIRouter(tags=["work queues 工作台"])


@router.get("/work-queues", response_model=WorkQueues, summary="工作台: 各待办队列的数量 (管辖范围内)")
async def work_queues(pool: PoolDep, actor: ActorDep) -> WorkQueues:
    async with pool.acquire() as conn:
        return await work_queue.work_queues(conn, actor, now=datetime.now(UTC))
