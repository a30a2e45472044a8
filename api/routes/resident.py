"""The residents' doors 居民点单 / 居民评价, public (no bearer token): a resident holds only a code,
a grid's need-placing code 点单码 or a task's rating code 评价码. Issuing those codes is for
community staff and needs a token like every other route.

Thin: every route calls services/resident.py.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import ActorDep, ClientDep, IdPath, PoolDep
from api.rate_limits import brake
from domain import local_time
from schemas.dispatch import (
    GridNeedCodeIssued,
    ResidentNeedCreate,
    ResidentNeedReceipt,
    ResidentRateInput,
    ResidentRateResult,
    ResidentRatingCodeIssued,
)
from services import resident

router = APIRouter(tags=["resident 居民"])



@router.post("/resident/needs", response_model=ResidentNeedReceipt, status_code=201,
             summary="居民凭网格点单码提交需求 (无需登录)")
async def place_need(request: Request, pool: PoolDep, body: ResidentNeedCreate) -> ResidentNeedReceipt:
    await brake(request, route="resident_needs", code=body.code)
    async with pool.acquire() as conn:
        return await resident.place_need_as_resident(conn, body, now=local_time.now())


@router.post("/resident/rating", response_model=ResidentRateResult, summary="居民凭评价码评价服务 (无需登录)")
async def rate(request: Request, pool: PoolDep, client: ClientDep, body: ResidentRateInput) -> ResidentRateResult:
    await brake(request, route="resident_rating", code=body.code)
    return await resident.rate_as_resident(pool, client, body, now=local_time.now())


@router.post("/grids/{grid_id}/need-code", response_model=GridNeedCodeIssued, status_code=201,
             summary="签发网格点单码 (原点单码作废)")
async def issue_need_code(pool: PoolDep, actor: ActorDep, grid_id: IdPath) -> GridNeedCodeIssued:
    async with pool.acquire() as conn:
        return await resident.issue_grid_need_code(conn, actor, grid_id, now=local_time.now())


@router.post("/tasks/{task_id}/rating-code", response_model=ResidentRatingCodeIssued, status_code=201,
             summary="重新签发居民评价码 (原评价码作废)")
async def reissue_rating_code(pool: PoolDep, actor: ActorDep, task_id: IdPath) -> ResidentRatingCodeIssued:
    async with pool.acquire() as conn:
        return await resident.reissue_rating_code(conn, actor, task_id, now=local_time.now())
