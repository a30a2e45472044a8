"""Registration actions over HTTP (个人报到 and 单位报到): thin calls into the use cases."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ActorDep, ClientDep, IdPath, PoolDep, TaskQueueDep
from schemas.registration import (
    ActionReason,
    BulkResult,
    ConfirmRegistrations,
    DecideUnitRegistration,
    MemberRegistrationOut,
    PlaceInGrid,
    RejectRegistrations,
    SubmitMemberRegistration,
    SubmitUnitRegistration,
    TransferMember,
    UnitRegistrationOut,
)
from services import registration as members
from services import unit_registration as units
from services.workflow_calls import connection_then_calls

router = APIRouter(prefix="/registrations", tags=["registrations 报到"])


@router.post("/members", response_model=MemberRegistrationOut, status_code=201, summary="个人报到")
async def submit_member(pool: PoolDep, client: ClientDep, actor: ActorDep, task_queue: TaskQueueDep,
                        body: SubmitMemberRegistration) -> MemberRegistrationOut:
    async with connection_then_calls(pool) as conn:
        return await members.submit_member_registration(
            conn, actor, member_id=body.member_id, community_id=body.community_id, grid_id=body.grid_id,
            client=client, task_queue=task_queue,
        )


@router.post("/members/confirm", response_model=BulkResult, summary="确认报到 (可批量)")
async def confirm_members(pool: PoolDep, client: ClientDep, actor: ActorDep,
                          body: ConfirmRegistrations) -> BulkResult:
    async with connection_then_calls(pool) as conn:
        rows = await members.confirm_registrations(conn, actor, body.ids, grid_override=body.grid_id,
                                                   client=client)
    return BulkResult(registrations=rows)


@router.post("/members/reject", response_model=BulkResult, summary="退回报到 (可批量, 须填原因)")
async def reject_members(pool: PoolDep, client: ClientDep, actor: ActorDep,
                         body: RejectRegistrations) -> BulkResult:
    async with connection_then_calls(pool) as conn:
        rows = await members.reject_registrations(conn, actor, body.ids, body.reason, client=client)
    return BulkResult(registrations=rows)


@router.post("/members/transfer", response_model=MemberRegistrationOut, summary="转移到新社区")
async def transfer_member(pool: PoolDep, client: ClientDep, actor: ActorDep, task_queue: TaskQueueDep,
                          body: TransferMember) -> MemberRegistrationOut:
    async with connection_then_calls(pool) as conn:
        return await members.transfer_member(conn, actor, body.member_id, body.to_community_id,
                                             body.to_grid_id, client=client, task_queue=task_queue)


@router.post("/members/{registration_id}/place", response_model=MemberRegistrationOut, summary="编入网格")
async def place_member(pool: PoolDep, client: ClientDep, actor: ActorDep, registration_id: IdPath,
                       body: PlaceInGrid) -> MemberRegistrationOut:
    async with connection_then_calls(pool) as conn:
        return await members.place_in_grid(conn, actor, registration_id, body.grid_id, client=client)


@router.post("/members/{registration_id}/pause", response_model=MemberRegistrationOut, summary="暂停")
async def pause_member(pool: PoolDep, client: ClientDep, actor: ActorDep, registration_id: IdPath,
                       body: ActionReason | None = None) -> MemberRegistrationOut:
    async with connection_then_calls(pool) as conn:
        return await members.pause(conn, actor, registration_id, reason=body.reason if body else None,
                                   client=client)


@router.post("/members/{registration_id}/resume", response_model=MemberRegistrationOut, summary="恢复")
async def resume_member(pool: PoolDep, client: ClientDep, actor: ActorDep, registration_id: IdPath,
                        body: ActionReason | None = None) -> MemberRegistrationOut:
    async with connection_then_calls(pool) as conn:
        return await members.resume(conn, actor, registration_id, reason=body.reason if body else None,
                                    client=client)


@router.post("/members/{registration_id}/withdraw", response_model=MemberRegistrationOut, summary="退出")
async def withdraw_member(pool: PoolDep, client: ClientDep, actor: ActorDep, registration_id: IdPath,
                          body: ActionReason | None = None) -> MemberRegistrationOut:
    async with connection_then_calls(pool) as conn:
        return await members.withdraw(conn, actor, registration_id, reason=body.reason if body else None,
                                      client=client)


@router.post("/members/{registration_id}/renew", response_model=MemberRegistrationOut, summary="重新报到")
async def renew_member(pool: PoolDep, client: ClientDep, actor: ActorDep,
                       registration_id: IdPath) -> MemberRegistrationOut:
    async with connection_then_calls(pool) as conn:
        return await members.renew(conn, actor, registration_id, client=client)


@router.post("/units", response_model=UnitRegistrationOut, status_code=201, summary="单位报到")
async def submit_unit(pool: PoolDep, client: ClientDep, actor: ActorDep, task_queue: TaskQueueDep,
                      body: SubmitUnitRegistration) -> UnitRegistrationOut:
    async with connection_then_calls(pool) as conn:
        return await units.submit_unit_registration(conn, actor, unit_id=body.unit_id,
                                                    community_id=body.community_id, client=client,
                                                    task_queue=task_queue)


@router.post("/units/{registration_id}/confirm", response_model=UnitRegistrationOut,
             summary="确认单位报到并签订共建协议")
async def confirm_unit(pool: PoolDep, client: ClientDep, actor: ActorDep, registration_id: IdPath,
                       body: DecideUnitRegistration | None = None) -> UnitRegistrationOut:
    async with connection_then_calls(pool) as conn:
        return await units.confirm_unit_registration(conn, actor, registration_id,
                                                     projects=body.projects if body else [], client=client)


@router.post("/units/{registration_id}/reject", response_model=UnitRegistrationOut,
             summary="退回单位报到 (须填原因)")
async def reject_unit(pool: PoolDep, client: ClientDep, actor: ActorDep, registration_id: IdPath,
                      body: ActionReason) -> UnitRegistrationOut:
    async with connection_then_calls(pool) as conn:
        return await units.reject_unit_registration(conn, actor, registration_id, body.reason or "",
                                                    client=client)


@router.post("/units/{registration_id}/renew", response_model=UnitRegistrationOut, summary="续签共建协议")
async def renew_unit(pool: PoolDep, client: ClientDep, actor: ActorDep, task_queue: TaskQueueDep,
                     registration_id: IdPath) -> UnitRegistrationOut:
    async with connection_then_calls(pool) as conn:
        return await units.renew_unit_registration(conn, actor, registration_id, client=client,
                                                   task_queue=task_queue)
