"""The residents' doors 居民点单 / 居民评价, public (no bearer token): a resident holds only a code,
a grid's need-placing code 点单码, a task's rating code 评价码 or a placed need's follow token, and
anyone may read a community's public board 晒单. Codes travel in request bodies, never in a URL
(server logs). Issuing codes is for community staff and needs a token like every other route.

Thin: every route calls services/resident.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Query, Request

from api.deps import ActorDep, ClientDep, IdPath, Offset, PoolDep
from api.rate_limits import brake, brake_read
from db.pool import Conn, Pool
from domain import local_time
from schemas.dispatch import (
    GridNeedCodeIssued,
    ResidentNeedCreate,
    ResidentNeedReceipt,
    ResidentRateInput,
    ResidentRateResult,
    ResidentRatingCodeIssued,
)
from schemas.resident import FollowedNeed, NeedCodeOpens, PublicBoard, RatingCodeOpens, ResidentCode
from services import resident

router = APIRouter(tags=["resident 居民"])

T = TypeVar("T")

BOARD_PAGE_MAX = 50
BoardLimit = Annotated[int, Query(ge=1, le=BOARD_PAGE_MAX, description="每页条数 (1-50)")]


async def _read_with_code(request: Request, pool: Pool, *, route: str, code: str,
                          read: Callable[[Conn], Awaitable[T]]) -> T:
    """A public read keyed by a code: braked per address and per code, then read on one connection."""
    await brake(request, route=route, code=code)
    async with pool.acquire() as conn:
        return await read(conn)


@router.post("/resident/need-code/open", response_model=NeedCodeOpens,
             summary="居民扫点单码: 所在网格、社区和可选的需求类别 (无需登录)")
async def open_need_code(request: Request, pool: PoolDep, body: ResidentCode) -> NeedCodeOpens:
    return await _read_with_code(request, pool, route="resident_need_code", code=body.code,
                                 read=lambda conn: resident.open_need_code(conn, body.code))


@router.post("/resident/need-follow", response_model=FollowedNeed,
             summary="居民凭查询链接查看需求进度 (无需登录, 不含个人信息)")
async def follow_need(request: Request, pool: PoolDep, body: ResidentCode) -> FollowedNeed:
    return await _read_with_code(request, pool, route="resident_need_follow", code=body.code,
                                 read=lambda conn: resident.follow_need(conn, body.code))


@router.post("/resident/rating-code/open", response_model=RatingCodeOpens,
             summary="居民扫评价码: 待评价的服务, 或评价码为何不能用 (无需登录)")
async def open_rating_code(request: Request, pool: PoolDep, body: ResidentCode) -> RatingCodeOpens:
    return await _read_with_code(request, pool, route="resident_rating_code", code=body.code,
                                 read=lambda conn: resident.open_rating_code(conn, body.code, now=local_time.now()))


@router.get("/resident/board/{community_id}", response_model=PublicBoard,
            summary="社区晒单: 已办结的服务、人数和居民评价 (公开, 不含个人信息)")
async def public_board(request: Request, pool: PoolDep, community_id: IdPath,
                       limit: BoardLimit = 20, offset: Offset = 0) -> PublicBoard:
    await brake_read(request, route="resident_board")
    async with pool.acquire() as conn:
        return await resident.public_board(conn, community_id, limit=limit, offset=offset)
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
