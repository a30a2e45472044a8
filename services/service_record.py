"""Use cases of members' self-logged service records 服务记录, called by both the API and the CLI.

A member logs a service done outside a dispatched task; the community approves 核实 it (points by
the tasks' rule, credited once under 'record:{id}') or rejects it with a reason, singly or in bulk.
Each record's `ServiceRecordWorkflow` is started after the log commits and owns the reminders of
an unanswered record; a decision commits here first and then signals it (a lost signal only
means the workflow finds the record decided at its next step and ends).
"""

from __future__ import annotations

from datetime import datetime

import structlog
from temporalio.client import Client

from db import hierarchy as hierarchy_db
from db import service_record as record_db
from db.audit_log import insert_audit_entries
from db.pool import Conn, Pool
from domain import service_record as rules
from domain.errors import Forbidden, InvalidInput, NotFound
from domain.scope import allows, scope_filter
from schemas.auth import STAFF_ROLES, Actor, Role, ScopeKind
from schemas.service_record import (
    RecordDecided,
    ServiceRecordCreate,
    ServiceRecordPolicy,
    ServiceRecordStatus,
    ServiceRecordView,
    ServiceRecordWorkflowInput,
)
from schemas.settings import DEFAULT_TASK_QUEUE
from services.workflow_calls import signal_if_running, start_once
from workflows.service_record import ServiceRecordWorkflow

log = structlog.get_logger(__name__)


def record_workflow_id(record_id: int) -> str:
    return f"service-record-{record_id}"


CO_SERVER_REFUSAL = "共同服务人须是已在该社区报到并经社区确认的党员 (请核对编号)"
# The code of a refused co-server (the phone's form shows the message beside that field).
CO_SERVER_REFUSED = "co_server_refused"

async def log_record(
    pool: Pool, client: Client | None, actor: Actor, data: ServiceRecordCreate, *, now: datetime,
    task_queue: str = DEFAULT_TASK_QUEUE, policy: ServiceRecordPolicy | None = None,
) -> ServiceRecordView:
    """Validate and store a record (pending), then start its reminder workflow."""
    async with pool.acquire() as conn, conn.transaction():
        view = await log_record_in(conn, actor, data, now=now)
    if client is not None:
        await start_record_workflow(client, view.id, task_queue=task_queue, policy=policy)
    log.info("service_record_logged", record_id=view.id, member_id=view.member_id, hours=view.hours)
    return view


async def log_record_in(conn: Conn, actor: Actor, data: ServiceRecordCreate, *, now: datetime) -> ServiceRecordView:
    """The database half of logging, inside the caller's transaction (no workflow started)."""
    if actor.role is not Role.member and actor.role not in STAFF_ROLES:
        raise Forbidden("无权代为登记: 仅该社区、街道或组织部的工作人员可以代党员登记")
    member_id = _member_of(actor, data)
    community = await hierarchy_db.select_community_path(conn, community_id=data.community_id)
    # Staff logging elsewhere are answered as for a community that does not exist.
    if community is None or (actor.role is not Role.member and not allows(actor, community)):
        raise NotFound(f"社区 {data.community_id} 不存在")
    window = rules.record_window(data.service_date, data.start_time, data.end_time, now=now)
    if await record_db.select_category_bonus(conn, name=data.category) is None:
        raise InvalidInput(f"类别「{data.category}」不在服务类别目录中")
    # Serialise this member's logging, so two overlapping records sent at once cannot both pass.
    if not await record_db.lock_member(conn, member_id=member_id):
        raise NotFound(f"党员 {member_id} 不存在")
    if not await record_db.has_confirmed_registration(conn, member_id=member_id, community_id=data.community_id):
        raise InvalidInput("您未在该社区报到 (或报到尚未经社区确认), 不能登记在该社区的服务")
    if (data.grid_id is not None
            and await record_db.select_grid_community_id(conn, grid_id=data.grid_id) != data.community_id):
        raise InvalidInput(f"网格 {data.grid_id} 不属于社区 {data.community_id}")
    if data.co_server_member_id is not None:
        if data.co_server_member_id == member_id:
            raise InvalidInput("共同服务人不能是本人", code=CO_SERVER_REFUSED)
        # Only someone the community knows served there: a member with a confirmed registration
        # in the record's community. One answer for every other id, existing or not, so the
        # field cannot be used to learn which member ids exist.
        if not await record_db.has_confirmed_registration(
                conn, member_id=data.co_server_member_id, community_id=data.community_id):
            raise InvalidInput(CO_SERVER_REFUSAL, code=CO_SERVER_REFUSED)
    overlaps = await record_db.select_overlaps(
        conn, member_id=member_id, started_at=window.started_at, ended_at=window.ended_at)
    if overlaps:
        first = overlaps[0]
        raise InvalidInput(rules.overlap_message(first.kind, first.ref, first.started_at, first.ended_at))
    record_id = await record_db.insert_record(
        conn, member_id=member_id, community_id=data.community_id, grid_id=data.grid_id,
        category=data.category, started_at=window.started_at, ended_at=window.ended_at,
        hours=window.hours, description=data.description, co_server_member_id=data.co_server_member_id,
        created_by=actor.audit_name, at=now)
    await insert_audit_entries(conn, actor=actor.audit_name, action="service_record_logged",
                               subject_kind="service_record", subject_ids=[record_id], befores=[None],
                               afters=[{"member_id": member_id, "hours": window.hours,
                                        "category": data.category}])
    row = await record_db.select_record(conn, record_id=record_id)
    assert row is not None
    return row.view


def _member_of(actor: Actor, data: ServiceRecordCreate) -> int:
    if actor.role is Role.member:
        if actor.scope_kind is not ScopeKind.member or actor.scope_id is None:
            raise Forbidden("党员令牌缺少本人编号")
        if data.member_id is not None and data.member_id != actor.scope_id:
            raise Forbidden("党员只能登记本人的服务记录")
        return actor.scope_id
    if data.member_id is None:
        raise InvalidInput("代为登记时请指定党员 (member_id)")
    return data.member_id


async def start_record_workflow(client: Client, record_id: int, *, task_queue: str = DEFAULT_TASK_QUEUE,
                                policy: ServiceRecordPolicy | None = None) -> str:
    """Start the record's reminder workflow once; calling again is a no-op."""
    return await start_once(
        client, ServiceRecordWorkflow.run,
        ServiceRecordWorkflowInput(record_id=record_id, policy=policy or ServiceRecordPolicy()),
        workflow_id=record_workflow_id(record_id), task_queue=task_queue)


async def list_records(
    conn: Conn, actor: Actor, *, status: ServiceRecordStatus | None = None, member_id: int | None = None,
    community_id: int | None = None, limit: int = 100, offset: int = 0,
) -> list[ServiceRecordView]:
    """Records in the actor's scope: a member sees their own history, staff their area's."""
    return await record_db.select_records(
        conn, scope=scope_filter(actor), member_id=member_id, community_id=community_id,
        status=status.value if status else None, limit=limit, offset=offset)


async def get_record(conn: Conn, actor: Actor, record_id: int) -> ServiceRecordView:
    row = await record_db.select_record(conn, record_id=record_id)
    if row is None or not allows(actor, row.path):
        # Out of scope reads as absent: ids of other communities are not confirmed to exist.
        raise NotFound(f"服务记录 {record_id} 不存在")
    return row.view


async def _locked_in_scope(conn: Conn, actor: Actor, record_ids: list[int]) -> list[record_db.LockedRecordRow]:
    if actor.role not in STAFF_ROLES:
        raise Forbidden("无权核实: 仅所在社区、街道或组织部的工作人员可以核实或驳回服务记录")
    ids = sorted(set(record_ids))
    rows = await record_db.lock_records(conn, record_ids=ids)
    # Records outside the scope are answered exactly as missing ones.
    missing = sorted((set(ids) - {r.id for r in rows}) | {r.id for r in rows if not allows(actor, r.path)})
    if missing:
        raise NotFound(f"服务记录 {', '.join(map(str, missing))} 不存在")
    return rows


async def approve_records(conn: Conn, actor: Actor, record_ids: list[int], *, now: datetime) -> list[ServiceRecordView]:
    """Approve 核实 the records (all or nothing for scope); pending ones are credited by rule once,
    already-approved ones are returned unchanged (a retried approval), rejected ones are refused."""
    rows = await _locked_in_scope(conn, actor, record_ids)
    rejected = [r.id for r in rows if r.status == ServiceRecordStatus.rejected.value]
    if rejected:
        raise InvalidInput(f"服务记录 {', '.join(map(str, rejected))} 已驳回, 不能再核实")
    pending = [r for r in rows if r.status == ServiceRecordStatus.pending.value]
    if pending:
        parts = [rules.record_points(r.category_bonus, hours=r.hours) for r in pending]
        approved, credited = await record_db.approve_and_credit(
            conn, record_ids=[r.id for r in pending], member_ids=[r.member_id for r in pending],
            service_keys=[rules.service_key(r.id) for r in pending], points=[p.total for p in parts],
            parts=[{**p.model_dump(), "service_record_id": r.id} for p, r in zip(parts, pending, strict=True)],
            redeemable=[r.redeemable for r in pending], decided_by=actor.audit_name, at=now)
        await insert_audit_entries(
            conn, actor=actor.audit_name, action="service_record_approved", subject_kind="service_record",
            subject_ids=[r.id for r in pending], befores=[{"status": "pending"} for _ in pending],
            afters=[{"status": "approved", "points": p.total} for p in parts])
        log.info("service_records_approved", approved=approved, credited=credited)
    return await _reread(conn, [r.id for r in rows])


async def reject_records(conn: Conn, actor: Actor, record_ids: list[int], *, reason: str,
                         now: datetime) -> list[ServiceRecordView]:
    """Reject the records with a reason; an approved one (already credited) cannot be rejected."""
    rows = await _locked_in_scope(conn, actor, record_ids)
    approved = [r.id for r in rows if r.status == ServiceRecordStatus.approved.value]
    if approved:
        raise InvalidInput(f"服务记录 {', '.join(map(str, approved))} 已核实并计分, 不能驳回")
    if not reason.strip():
        raise InvalidInput("驳回须填写理由")
    done = await record_db.reject_records(conn, record_ids=[r.id for r in rows], reason=reason.strip(),
                                          decided_by=actor.audit_name, at=now)
    if done:
        await insert_audit_entries(
            conn, actor=actor.audit_name, action="service_record_rejected", subject_kind="service_record",
            subject_ids=done, befores=[{"status": "pending"} for _ in done],
            afters=[{"status": "rejected", "reason": reason.strip()} for _ in done])
    return await _reread(conn, [r.id for r in rows])


async def _reread(conn: Conn, ids: list[int]) -> list[ServiceRecordView]:
    rows = [await record_db.select_record(conn, record_id=i) for i in ids]
    return [r.view for r in rows if r is not None]


async def decide(
    pool: Pool, client: Client | None, actor: Actor, record_ids: list[int], *, approve: bool,
    reason: str | None = None, now: datetime,
) -> list[ServiceRecordView]:
    """Approve or reject in one transaction, then tell each record's workflow (after the commit)."""
    async with pool.acquire() as conn, conn.transaction():
        if approve:
            views = await approve_records(conn, actor, record_ids, now=now)
        else:
            views = await reject_records(conn, actor, record_ids, reason=reason or "", now=now)
    await signal_decided(client, views)
    return views


async def signal_decided(client: Client | None, views: list[ServiceRecordView]) -> None:
    """Tell the records' workflows they were answered; a finished or absent one needs no telling."""
    for view in views:
        await signal_if_running(client, record_workflow_id(view.id), ServiceRecordWorkflow.decided,
                                RecordDecided(status=view.status))
