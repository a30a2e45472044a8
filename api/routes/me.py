"""The member's own reads 我的 for the phone: registrations with names and status words, points in
both ledgers with each line's reason, the registration certificate. A member reads only their
own (the token says whose); every other role is refused before any lookup."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import ActorDep, Limit, Offset, PoolDep
from api.errors import ErrorBody
from schemas.certificate import MyCertificate
from schemas.points import MyPoints, PointsLedger
from schemas.registration import MyRegistrations
from services import certificate as certificates
from services import points
from services import registration as registrations

router = APIRouter(prefix="/me", tags=["me 我的"])


@router.get("/registrations", response_model=MyRegistrations, summary="我的报到 (状态、退回原因、是否可重新报到)")
async def my_registrations(pool: PoolDep, actor: ActorDep) -> MyRegistrations:
    async with pool.acquire() as conn:
        return await registrations.my_registrations(conn, actor)


@router.get("/points", response_model=MyPoints, summary="我的积分 (考评积分与可兑换积分, 每条的来由)")
async def my_points(pool: PoolDep, actor: ActorDep, ledger: PointsLedger | None = None,
                    limit: Limit = 50, offset: Offset = 0) -> MyPoints:
    async with pool.acquire() as conn:
        return await points.my_points(conn, actor, ledger=ledger, limit=limit, offset=offset)


@router.get("/certificate", response_model=MyCertificate, summary="我的报到证 (编号与核验二维码)",
            responses={409: {"model": ErrorBody, "description": "还没有已生效的报到"}})
async def my_certificate(request: Request, pool: PoolDep, actor: ActorDep) -> MyCertificate:
    async with pool.acquire() as conn:
        return await certificates.my_certificate(conn, actor, base_url=str(request.base_url))
