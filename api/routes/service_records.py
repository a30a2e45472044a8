"""Service-record front door 服务记录: a member logs and lists their own; the community lists the
pending ones in its scope and approves 核实 or rejects them, singly or in bulk.

Thin: every route calls services/service_record.py, which checks role and scope.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ActorDep, ClientDep, IdPath, Limit, Offset, PoolDep, TaskQueueDep
from domain import local_time
from schemas.service_record import (
    ApproveRecords,
    RejectRecords,
    ServiceRecordCreate,
    ServiceRecordPage,
    ServiceRecordStatus,
    ServiceRecordView,
)
from services import service_record

router = APIRouter(prefix="/service-records", tags=["service records 服务记录"])



@router.post("", response_model=ServiceRecordView, status_code=201, summary="党员登记服务记录")
async def log_record(pool: PoolDep, client: ClientDep, actor: ActorDep, task_queue: TaskQueueDep,
                     body: ServiceRecordCreate) -> ServiceRecordView:
    return await service_record.log_record(pool, client, actor, body, now=local_time.now(), task_queue=task_queue)


@router.get("", response_model=ServiceRecordPage, summary="服务记录 (党员: 本人; 工作人员: 管辖范围)")
async def list_records(pool: PoolDep, actor: ActorDep, status: ServiceRecordStatus | None = None,
                       member_id: int | None = None, community_id: int | None = None,
                       limit: Limit = 100, offset: Offset = 0) -> ServiceRecordPage:
    async with pool.acquire() as conn:
        items = await service_record.list_records(conn, actor, status=status, member_id=member_id,
                                                  community_id=community_id, limit=limit, offset=offset)
    return ServiceRecordPage(items=items)


@router.get("/{record_id}", response_model=ServiceRecordView, summary="一条服务记录")
async def get_record(pool: PoolDep, actor: ActorDep, record_id: IdPath) -> ServiceRecordView:
    async with pool.acquire() as conn:
        return await service_record.get_record(conn, actor, record_id)


@router.post("/approve", response_model=ServiceRecordPage, summary="核实服务记录 (可批量, 按规则计分)")
async def approve(pool: PoolDep, client: ClientDep, actor: ActorDep, body: ApproveRecords) -> ServiceRecordPage:
    items = await service_record.decide(pool, client, actor, body.record_ids, approve=True, now=local_time.now())
    return ServiceRecordPage(items=items)


@router.post("/reject", response_model=ServiceRecordPage, summary="驳回服务记录 (须填写理由, 可批量)")
async def reject(pool: PoolDep, client: ClientDep, actor: ActorDep, body: RejectRecords) -> ServiceRecordPage:
    items = await service_record.decide(pool, client, actor, body.record_ids, approve=False,
                                        reason=body.reason, now=local_time.now())
    return ServiceRecordPage(items=items)
