"""Transfers between employer units 转单位 over HTTP: thin calls into services/unit_transfer.py.

A unit admin sees the requests leaving their unit and those addressed to it; any other request
answers 404, like a missing one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ActorDep, ClientDep, IdPath, IdQuery, Limit, Offset, PoolDep, TaskQueueDep, TextQuery
from schemas.api import Page
from schemas.unit_transfer import (
    DecideUnitTransfer,
    StartUnitTransfer,
    TransferTargetUnit,
    UnitTransferOut,
    UnitTransferStatus,
)
from services import unit_transfer as transfers
from services.workflow_calls import connection_then_calls

router = APIRouter(prefix="/unit-transfers", tags=["unit transfers 转单位"])


@router.post("", response_model=UnitTransferOut, status_code=201, summary="申请转单位 (组织部门可直接办理)")
async def start_transfer(pool: PoolDep, client: ClientDep, actor: ActorDep, task_queue: TaskQueueDep,
                         body: StartUnitTransfer) -> UnitTransferOut:
    async with connection_then_calls(pool) as conn:
        return await transfers.start_unit_transfer(
            conn, actor, member_id=body.member_id, to_unit_id=body.to_unit_id, note=body.note,
            decide_now=body.decide_now, client=client, task_queue=task_queue,
        )


@router.get("", response_model=Page[UnitTransferOut], summary="转单位申请列表")
async def list_transfers(pool: PoolDep, actor: ActorDep, status: UnitTransferStatus | None = None,
                         member_id: IdQuery = None, unit_id: IdQuery = None, limit: Limit = 50,
                         offset: Offset = 0) -> Page[UnitTransferOut]:
    async with pool.acquire() as conn:
        return await transfers.list_unit_transfers(conn, actor, status=status, member_id=member_id,
                                                   unit_id=unit_id, limit=limit, offset=offset)


@router.get("/target-units", response_model=list[TransferTargetUnit], summary="可转入的单位 (按名称查找)")
async def target_units(pool: PoolDep, actor: ActorDep, name: TextQuery = None,
                       limit: Annotated[int, Query(ge=1, le=50)] = 20) -> list[TransferTargetUnit]:
    async with pool.acquire() as conn:
        return await transfers.list_target_units(conn, actor, name=name, limit=limit)


@router.get("/{transfer_id}", response_model=UnitTransferOut, summary="转单位申请详情")
async def get_transfer(pool: PoolDep, actor: ActorDep, transfer_id: IdPath) -> UnitTransferOut:
    async with pool.acquire() as conn:
        return await transfers.get_unit_transfer(conn, actor, transfer_id)


@router.post("/{transfer_id}/accept", response_model=UnitTransferOut, summary="转入单位确认接收")
async def accept_transfer(pool: PoolDep, client: ClientDep, actor: ActorDep,
                          transfer_id: IdPath) -> UnitTransferOut:
    async with connection_then_calls(pool) as conn:
        return await transfers.accept_unit_transfer(conn, actor, transfer_id, client=client)


@router.post("/{transfer_id}/refuse", response_model=UnitTransferOut, summary="转入单位拒绝 (须填原因)")
async def refuse_transfer(pool: PoolDep, client: ClientDep, actor: ActorDep, transfer_id: IdPath,
                          body: DecideUnitTransfer) -> UnitTransferOut:
    async with connection_then_calls(pool) as conn:
        return await transfers.refuse_unit_transfer(conn, actor, transfer_id, body.reason or "", client=client)


@router.post("/{transfer_id}/cancel", response_model=UnitTransferOut, summary="申请方撤回")
async def cancel_transfer(pool: PoolDep, client: ClientDep, actor: ActorDep, transfer_id: IdPath,
                          body: DecideUnitTransfer | None = None) -> UnitTransferOut:
    async with connection_then_calls(pool) as conn:
        return await transfers.cancel_unit_transfer(conn, actor, transfer_id, body.reason if body else None,
                                                    client=client)
