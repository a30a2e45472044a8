"""Read routes of the directory: hierarchy, units, members, registrations, audit.

Everything is filtered to the caller's scope. A single item outside it answers 404 (the same as a
missing one), so ids elsewhere cannot be probed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import ActorDep, IdField, IdPath, IdQuery, Limit, Offset, PoolDep, TextQuery
from domain.scope import PlaceFilter
from schemas.api import Page
from schemas.directory import (
    AuditEntry,
    Community,
    District,
    Grid,
    Member,
    MemberRegistration,
    RegistrationEvent,
    Subdistrict,
    Unit,
    UnitRegistration,
)
from schemas.moments import Moment
from schemas.registration import MemberRegistrationStatus, UnitRegistrationStatus
from schemas.text import Text
from services import directory

router = APIRouter(tags=["directory 名录"])


# The place filters of each list, as query parameters in this order (a list takes those it can be
# narrowed by), handed on as one PlaceFilter.

class InDistrict(BaseModel):
    district_id: IdField = None

    def place(self, *, member_id: int | None = None) -> PlaceFilter:
        return PlaceFilter(**self.model_dump(), member_id=member_id)


class InSubdistrict(InDistrict):
    subdistrict_id: IdField = None


class InCommunity(InSubdistrict):
    community_id: IdField = None


class InUnit(InCommunity):
    unit_id: IdField = None


class InGridAndUnit(InCommunity):
    grid_id: IdField = None
    unit_id: IdField = None


@router.get("/districts", response_model=Page[District], summary="区列表")
async def list_districts(
    pool: PoolDep, actor: ActorDep, name: TextQuery = None, limit: Limit = 50, offset: Offset = 0
) -> Page[District]:
    async with pool.acquire() as conn:
        return await directory.list_districts(conn, actor, name=name, limit=limit, offset=offset)


@router.get("/subdistricts", response_model=Page[Subdistrict], summary="街道列表")
async def list_subdistricts(
    pool: PoolDep, actor: ActorDep, name: TextQuery = None, where: Annotated[InDistrict, Query()] = InDistrict(),
    limit: Limit = 50, offset: Offset = 0,
) -> Page[Subdistrict]:
    async with pool.acquire() as conn:
        return await directory.list_subdistricts(
            conn, actor, place=where.place(), name=name, limit=limit, offset=offset
        )


@router.get("/communities", response_model=Page[Community], summary="社区列表")
async def list_communities(
    pool: PoolDep, actor: ActorDep, name: TextQuery = None, where: Annotated[InSubdistrict, Query()] = InSubdistrict(),
    limit: Limit = 50, offset: Offset = 0,
) -> Page[Community]:
    async with pool.acquire() as conn:
        return await directory.list_communities(
            conn, actor, place=where.place(), name=name, limit=limit, offset=offset
        )


@router.get("/grids", response_model=Page[Grid], summary="网格列表 (含相邻网格)")
async def list_grids(
    pool: PoolDep, actor: ActorDep, name: TextQuery = None, where: Annotated[InCommunity, Query()] = InCommunity(),
    limit: Limit = 50, offset: Offset = 0,
) -> Page[Grid]:
    async with pool.acquire() as conn:
        return await directory.list_grids(
            conn, actor, place=where.place(), name=name, limit=limit, offset=offset
        )


@router.get("/units", response_model=Page[Unit], summary="报到单位列表")
async def list_units(
    pool: PoolDep, actor: ActorDep, name: TextQuery = None, where: Annotated[InCommunity, Query()] = InCommunity(),
    status: UnitRegistrationStatus | None = None, limit: Limit = 50, offset: Offset = 0,
) -> Page[Unit]:
    async with pool.acquire() as conn:
        return await directory.list_units(
            conn, actor, place=where.place(), name=name, status=status, limit=limit, offset=offset
        )


@router.get("/units/{unit_id}", response_model=Unit, summary="报到单位详情")
async def get_unit(pool: PoolDep, actor: ActorDep, unit_id: IdPath) -> Unit:
    async with pool.acquire() as conn:
        return await directory.get_unit(conn, actor, unit_id=unit_id)


@router.get("/members", response_model=Page[Member], summary="党员列表 (姓名检索)")
async def list_members(
    pool: PoolDep, actor: ActorDep,
    name: Annotated[Text | None, Query(min_length=1, max_length=100, description="姓名包含")] = None,
    name_prefix: Annotated[Text | None, Query(min_length=1, max_length=100, description="姓名开头")] = None,
    where: Annotated[InGridAndUnit, Query()] = InGridAndUnit(),
    status: MemberRegistrationStatus | None = None, limit: Limit = 50, offset: Offset = 0,
) -> Page[Member]:
    async with pool.acquire() as conn:
        return await directory.list_members(
            conn, actor, place=where.place(), name=name, name_prefix=name_prefix, status=status,
            limit=limit, offset=offset,
        )


@router.get("/members/{member_id}", response_model=Member, summary="党员详情")
async def get_member(pool: PoolDep, actor: ActorDep, member_id: IdPath) -> Member:
    async with pool.acquire() as conn:
        return await directory.get_member(conn, actor, member_id=member_id)


@router.get("/registrations/members", response_model=Page[MemberRegistration], summary="个人报到列表")
async def list_member_registrations(
    pool: PoolDep, actor: ActorDep, name: TextQuery = None, member_id: IdQuery = None,
    where: Annotated[InGridAndUnit, Query()] = InGridAndUnit(),
    status: MemberRegistrationStatus | None = None, limit: Limit = 50, offset: Offset = 0,
) -> Page[MemberRegistration]:
    async with pool.acquire() as conn:
        return await directory.list_member_registrations(
            conn, actor, place=where.place(member_id=member_id), name=name, status=status,
            limit=limit, offset=offset,
        )


@router.get("/registrations/units", response_model=Page[UnitRegistration], summary="单位报到列表")
async def list_unit_registrations(
    pool: PoolDep, actor: ActorDep, name: TextQuery = None, where: Annotated[InUnit, Query()] = InUnit(),
    status: UnitRegistrationStatus | None = None, limit: Limit = 50, offset: Offset = 0,
) -> Page[UnitRegistration]:
    async with pool.acquire() as conn:
        return await directory.list_unit_registrations(
            conn, actor, place=where.place(), name=name, status=status, limit=limit, offset=offset
        )


@router.get(
    "/registrations/members/{registration_id}/history",
    response_model=list[RegistrationEvent],
    summary="个人报到状态历史",
)
async def member_registration_history(
    pool: PoolDep, actor: ActorDep, registration_id: IdPath
) -> list[RegistrationEvent]:
    async with pool.acquire() as conn:
        return await directory.member_registration_history(
            conn, actor, registration_id=registration_id
        )


@router.get("/audit", response_model=Page[AuditEntry], summary="审计日志 (仅组织部, 限管辖范围)")
async def list_audit(
    pool: PoolDep, actor: ActorDep, subject_kind: TextQuery = None, subject_id: IdQuery = None,
    actor_name: Annotated[Text | None, Query(alias="actor", min_length=1, max_length=200)] = None,
    action: TextQuery = None,
    since: Annotated[Moment | None, Query(description="起始时间 (含)")] = None,
    until: Annotated[Moment | None, Query(description="截止时间 (不含)")] = None,
    limit: Limit = 50, offset: Offset = 0,
) -> Page[AuditEntry]:
    async with pool.acquire() as conn:
        return await directory.list_audit(
            conn, actor, subject_kind=subject_kind, subject_id=subject_id, actor_name=actor_name,
            action=action, since=since, until=until, limit=limit, offset=offset,
        )
