"""Transfer between employer units 转单位: use cases called by the API, the CLI and the workflow.

Each use case is one transaction: the request row (`unit_transfer`), the member's employer on
acceptance, the append-only audit (before and after) and the inbox messages of both units and
the member. The community registration is left alone: the member changed jobs, not homes.
A pending request has a `UnitTransferWorkflow` (started after the commit) that reminds the target
unit and expires the request when nobody answers; deciding signals it so it ends at once.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import structlog
from temporalio.client import Client

from db import member as member_db
from db import unit_transfer as transfer_db
from db.audit_log import insert_audit_entries
from db.hierarchy import select_community_path
from db.pool import Conn
from db.reporting_unit import select_unit, select_unit_names
from db.unit_transfer import UnitTransferRow
from domain import local_time
from domain import unit_transfer as rules
from domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from domain.notification_texts import Text
from domain.scope import scope_filter
from schemas.api import Page
from schemas.auth import Actor, Role
from schemas.settings import DEFAULT_TASK_QUEUE
from schemas.unit_transfer import (
    TransferTargetUnit,
    UnitTransferChanged,
    UnitTransferOut,
    UnitTransferPolicy,
    UnitTransferStatus,
    UnitTransferWorkflowInput,
)
from services.workflow_calls import signal_if_running, start_once
from workflows.unit_transfer import UnitTransferWorkflow, unit_transfer_workflow_id

log = structlog.get_logger(__name__)


_STATUS_WORDS = {
    UnitTransferStatus.accepted: "已转入", UnitTransferStatus.refused: "已被拒绝",
    UnitTransferStatus.cancelled: "已撤回", UnitTransferStatus.expired: "已失效",
    UnitTransferStatus.pending: "待处理",
}



def _sides(row: UnitTransferRow) -> rules.TransferSides:
    return rules.TransferSides(member_id=row.member_id, district_id=row.district_id,
                               subdistrict_id=row.subdistrict_id, community_id=row.community_id,
                               from_unit_id=row.from_unit_id, to_unit_id=row.to_unit_id)


async def _notify(conn: Conn, row: UnitTransferRow, event: str, text: Text,
                  recipients: list[tuple[str, int | None]]) -> None:
    """One inbox message per recipient (a member without a unit has no from side to tell)."""
    await transfer_db.insert_transfer_notifications(
        conn, transfer_id=row.id, event=event, category=text.category, title=text.title, body=text.body,
        recipients=[(kind, rid) for kind, rid in recipients if rid is not None],
    )


async def _signal(client: Client | None, transfer_id: int, reason: str) -> None:
    """Wake the request's workflow so it ends now; a finished or absent one needs no telling."""
    await signal_if_running(client, unit_transfer_workflow_id(transfer_id), UnitTransferWorkflow.changed,
                            UnitTransferChanged(reason=reason))


async def _load_pending(conn: Conn, actor: Actor, transfer_id: int) -> UnitTransferRow:
    """The request, locked; unknown or invisible → 404, no longer pending → 409."""
    row = await transfer_db.select_transfer(conn, transfer_id=transfer_id, for_update=True)
    if row is None or not rules.may_see(actor, _sides(row)):
        raise NotFound(f"转单位申请 {transfer_id} 不存在")
    status = UnitTransferStatus(row.status)
    if status is not UnitTransferStatus.pending:
        raise Conflict(f"转单位申请 {transfer_id} {_STATUS_WORDS[status]}, 不能再处理")
    return row


async def _close(conn: Conn, actor_name: str, row: UnitTransferRow, status: UnitTransferStatus,
                 reason: str | None, at: datetime) -> UnitTransferRow:
    await transfer_db.close_transfer(conn, transfer_id=row.id, status=status.value, decided_by=actor_name,
                                     decision_reason=reason, decided_at=at)
    closed = await transfer_db.select_transfer(conn, transfer_id=row.id)
    assert closed is not None
    return closed


async def _accept_locked(conn: Conn, actor_name: str, row: UnitTransferRow, at: datetime) -> UnitTransferRow:
    """Move the member and close the request as accepted (the request row is locked)."""
    before = await member_db.select_member_for_update(conn, member_id=row.member_id)
    assert before is not None  # member rows are never deleted
    after = await member_db.update_member_unit(conn, member_id=row.member_id, unit_id=row.to_unit_id)
    assert after is not None
    await insert_audit_entries(
        conn, actor=actor_name, action="member.unit_transfer", subject_kind="member",
        subject_ids=[row.member_id],
        befores=[{"unit_id": before.unit_id, "employer_name": before.employer_name,
                  "unit_transfer_id": row.id}],
        afters=[{"unit_id": after.unit_id, "employer_name": after.employer_name,
                 "unit_transfer_id": row.id}],
    )
    closed = await _close(conn, actor_name, row, UnitTransferStatus.accepted, None, at)
    text = rules.accepted(row.member_name, row.from_unit_name, row.to_unit_name)
    await _notify(conn, row, "accepted", text, [("unit", row.from_unit_id), ("unit", row.to_unit_id),
                                                ("member", row.member_id)])
    return closed


async def start_unit_transfer(
    conn: Conn,
    actor: Actor,
    *,
    member_id: int,
    to_unit_id: int,
    note: str | None = None,
    decide_now: bool = False,
    client: Client | None = None,
    policy: UnitTransferPolicy | None = None,
    task_queue: str = DEFAULT_TASK_QUEUE,
    now: datetime | None = None,
) -> UnitTransferOut:
    """Ask to move a member to `to_unit_id`; an organization department may decide at once.

    A pending request starts its workflow after the commit (reminders, expiry).
    """
    at = local_time.now_or(now)
    rules_policy = policy or UnitTransferPolicy()
    if decide_now and actor.role is not Role.org_department:
        raise Forbidden("只有组织部门可以直接办理转单位, 其他人请提交申请由转入单位确认")
    if actor.role not in (Role.unit_admin, Role.member, Role.org_department):
        raise Forbidden("只有党员本人、所在单位或组织部门可以申请转单位")
    async with conn.transaction():
        member = await member_db.select_member_for_update(conn, member_id=member_id)
        # A member outside the actor's reach reads as one that does not exist.
        missing = NotFound(f"党员 {member_id} 不存在")
        if member is None:
            raise missing
        path = await _home_path(conn, member.home_community_id)
        sides = rules.TransferSides(member_id=member_id, district_id=path[0], subdistrict_id=path[1],
                                    community_id=member.home_community_id, from_unit_id=member.unit_id,
                                    to_unit_id=to_unit_id)
        if not rules.may_start(actor, sides):
            raise missing
        target = await select_unit(conn, unit_id=to_unit_id)
        if target is None:
            raise NotFound(f"单位 {to_unit_id} 不存在, 请核对转入单位")
        if member.unit_id == to_unit_id:
            raise Conflict(f"党员 {member.name} 已在 {target.name}, 无需转单位")
        pending = await transfer_db.select_pending_for_member(conn, member_id=member_id)
        if pending is not None:
            raise Conflict(f"党员 {member.name} 已有待处理的转单位申请(编号 {pending}), 请等待处理或先撤回")
        clean_note = note.strip() if note and note.strip() else None
        try:
            async with conn.transaction():  # a savepoint: a racing second request is refused cleanly
                transfer_id = await transfer_db.insert_transfer(
                    conn, member_id=member_id, from_unit_id=member.unit_id, to_unit_id=to_unit_id,
                    note=clean_note, requested_by=actor.audit_name, requested_at=at,
                    expires_at=at + rules_policy.expire_after,
                )
        except asyncpg.UniqueViolationError as error:
            raise Conflict(f"党员 {member.name} 已有待处理的转单位申请, 请等待处理或先撤回") from error
        await insert_audit_entries(
            conn, actor=actor.audit_name, action="unit_transfer.start", subject_kind="unit_transfer",
            subject_ids=[transfer_id], befores=[None],
            afters=[{"status": "pending", "member_id": member_id, "from_unit_id": member.unit_id,
                     "to_unit_id": to_unit_id, "note": clean_note}],
        )
        row = await transfer_db.select_transfer(conn, transfer_id=transfer_id, for_update=True)
        assert row is not None
        if decide_now:
            row = await _accept_locked(conn, actor.audit_name, row, at)
        else:
            text = rules.request_to_target(row.member_name, row.from_unit_name, transfer_id,
                                           row.expires_at)
            await _notify(conn, row, "requested", text, [("unit", to_unit_id)])
    log.info("unit_transfer_started", transfer_id=transfer_id, member_id=member_id,
             to_unit_id=to_unit_id, decided=decide_now)
    if not decide_now and client is not None:
        await start_once(
            client, UnitTransferWorkflow.run,
            UnitTransferWorkflowInput(transfer_id=transfer_id, requested_at=at, policy=rules_policy),
            workflow_id=unit_transfer_workflow_id(transfer_id), task_queue=task_queue,
        )
    return row.out()


async def _home_path(conn: Conn, community_id: int | None) -> tuple[int | None, int | None]:
    """(district, subdistrict) of a home community; both None for a member without one."""
    if community_id is None:
        return None, None
    path = await select_community_path(conn, community_id=community_id)
    if path is None:
        return None, None
    return path.district_id, path.subdistrict_id


async def accept_unit_transfer(conn: Conn, actor: Actor, transfer_id: int, *, client: Client | None = None,
                               now: datetime | None = None) -> UnitTransferOut:
    """The target unit (or an organization department) takes the member in."""
    at = local_time.now_or(now)
    async with conn.transaction():
        row = await _load_pending(conn, actor, transfer_id)
        if not rules.may_decide(actor, _sides(row)):
            raise Forbidden("只有转入单位或组织部门可以确认接收")
        closed = await _accept_locked(conn, actor.audit_name, row, at)
    log.info("unit_transfer_accepted", transfer_id=transfer_id, member_id=row.member_id)
    await _signal(client, transfer_id, "accepted")
    return closed.out()


async def refuse_unit_transfer(conn: Conn, actor: Actor, transfer_id: int, reason: str, *,
                               client: Client | None = None, now: datetime | None = None) -> UnitTransferOut:
    """The target unit (or an organization department) declines, with a reason the requester reads."""
    if not reason or not reason.strip():
        raise InvalidInput("拒绝转入必须填写原因")
    at = local_time.now_or(now)
    async with conn.transaction():
        row = await _load_pending(conn, actor, transfer_id)
        if not rules.may_decide(actor, _sides(row)):
            raise Forbidden("只有转入单位或组织部门可以拒绝接收")
        closed = await _close(conn, actor.audit_name, row, UnitTransferStatus.refused, reason.strip(), at)
        text = rules.refused(row.member_name, row.to_unit_name, reason.strip())
        await _notify(conn, row, "refused", text, [("unit", row.from_unit_id), ("member", row.member_id)])
    log.info("unit_transfer_refused", transfer_id=transfer_id, member_id=row.member_id)
    await _signal(client, transfer_id, "refused")
    return closed.out()


async def cancel_unit_transfer(conn: Conn, actor: Actor, transfer_id: int, reason: str | None = None, *,
                               client: Client | None = None, now: datetime | None = None) -> UnitTransferOut:
    """The requesting side withdraws a request still waiting."""
    at = local_time.now_or(now)
    async with conn.transaction():
        row = await _load_pending(conn, actor, transfer_id)
        if not rules.may_cancel(actor, _sides(row)):
            raise Forbidden("只有申请方(原单位、党员本人或组织部门)可以撤回转单位申请")
        clean = reason.strip() if reason and reason.strip() else None
        closed = await _close(conn, actor.audit_name, row, UnitTransferStatus.cancelled, clean, at)
        text = rules.cancelled(row.member_name, row.to_unit_name)
        await _notify(conn, row, "cancelled", text, [("unit", row.to_unit_id)])
    await _signal(client, transfer_id, "cancelled")
    return closed.out()


async def get_unit_transfer(conn: Conn, actor: Actor, transfer_id: int) -> UnitTransferOut:
    row = await transfer_db.select_transfer(conn, transfer_id=transfer_id)
    if row is None or not rules.may_see(actor, _sides(row)):
        raise NotFound(f"转单位申请 {transfer_id} 不存在")
    return row.out()


async def list_unit_transfers(
    conn: Conn,
    actor: Actor,
    *,
    status: UnitTransferStatus | None = None,
    member_id: int | None = None,
    unit_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[UnitTransferOut]:
    """Requests inside the actor's scope, newest first (a unit sees those leaving or reaching it)."""
    total, rows = await transfer_db.select_transfers(
        conn, scope=scope_filter(actor), status=None if status is None else status.value,
        member_id=member_id, unit_id=unit_id, limit=limit, offset=offset,
    )
    return Page[UnitTransferOut](items=[r.out() for r in rows], total=total, limit=limit, offset=offset)


REQUESTING_ROLES = frozenset({Role.unit_admin, Role.member, Role.org_department})


async def list_target_units(conn: Conn, actor: Actor, *, name: str | None, limit: int = 20) -> list[TransferTargetUnit]:
    """Units a transfer may name as its target, by name: for those who may request one. A unit
    admin's own unit is left out (a member cannot move to the unit it is in)."""
    if actor.role not in REQUESTING_ROLES:
        raise Forbidden("只有党员本人、所在单位或组织部门可以申请转单位")
    own = actor.scope_id if actor.role is Role.unit_admin else None
    rows = await select_unit_names(conn, name=name, exclude_id=own, limit=limit)
    return [TransferTargetUnit.model_validate(r) for r in rows]
