"""吹哨报到 front door: blow a whistle, list and show whistles (responses and history), answer for a
unit, mark arrivals, close.

Thin: every route calls services/whistle.py, which checks role and scope and talks to the whistle's
workflow; refusals come back as 409 with the workflow's Chinese message.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from api.deps import ActorDep, ClientDep, IdPath, IdQuery, Limit, Offset, PoolDep, TaskQueueDep
from schemas.api import Page
from schemas.whistle import (
    AnswerResult,
    ArriveResult,
    WhistleAnswer,
    WhistleArrival,
    WhistleBlow,
    WhistleClose,
    WhistleDetail,
    WhistleFilter,
    WhistleSnapshot,
    WhistleStatus,
    WhistleView,
)
from services import whistle as whistle_service

router = APIRouter(tags=["whistle 吹哨报到"])


@router.post("/whistles", response_model=WhistleView, status_code=201, summary="社区吹哨, 召集报到单位")
async def blow(pool: PoolDep, client: ClientDep, actor: ActorDep, task_queue: TaskQueueDep,
               body: WhistleBlow) -> WhistleView:
    return await whistle_service.blow(pool, client, actor, body, now=datetime.now(UTC), task_queue=task_queue)


@router.get("/whistles", response_model=Page[WhistleView],
            summary="吹哨事项列表 (单位管理员: 召集本单位的事项)")
async def list_whistles(pool: PoolDep, actor: ActorDep, community_id: IdQuery = None,
                        status: WhistleStatus | None = None, unit_id: IdQuery = None, limit: Limit = 50,
                        offset: Offset = 0) -> Page[WhistleView]:
    filters = WhistleFilter(community_id=community_id, status=status, unit_id=unit_id, limit=limit, offset=offset)
    async with pool.acquire() as conn:
        return await whistle_service.list_whistles(conn, actor, filters)


@router.get("/whistles/{whistle_id}", response_model=WhistleDetail, summary="吹哨事项详情: 召集、响应与流转记录")
async def get_whistle(pool: PoolDep, actor: ActorDep, whistle_id: IdPath) -> WhistleDetail:
    async with pool.acquire() as conn:
        return await whistle_service.get_whistle(conn, actor, whistle_id)


@router.post("/whistles/{whistle_id}/answer", response_model=AnswerResult, summary="报到单位响应或婉拒")
async def answer(pool: PoolDep, client: ClientDep, actor: ActorDep, whistle_id: IdPath,
                 body: WhistleAnswer) -> AnswerResult:
    return await whistle_service.answer(pool, client, actor, whistle_id, body)


@router.post("/whistles/{whistle_id}/arrivals", response_model=ArriveResult, summary="登记单位到岗")
async def arrive(pool: PoolDep, client: ClientDep, actor: ActorDep, whistle_id: IdPath,
                 body: WhistleArrival) -> ArriveResult:
    return await whistle_service.arrive(pool, client, actor, whistle_id, body)


@router.post("/whistles/{whistle_id}/close", response_model=WhistleSnapshot, summary="办结并填写处置小结")
async def close(pool: PoolDep, client: ClientDep, actor: ActorDep, whistle_id: IdPath,
                body: WhistleClose) -> WhistleSnapshot:
    return await whistle_service.close(pool, client, actor, whistle_id, body)
