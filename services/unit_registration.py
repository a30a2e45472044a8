"""Unit registration (单位报到) use cases: submit, confirm (with a co-building agreement), reject,
renew. Each is one transaction with status history and audit; the workflow is started or
signalled after the commit and re-reads Postgres, the system of record.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import asyncpg
import structlog
from temporalio.client import Client

from db import unit_registration as unit_db
from db.audit_log import insert_audit_entries
from db.co_building_agreement import insert_agreement, update_agreement_validity
from db.hierarchy import select_community_path
from db.pool import Conn
from db.registration_event import insert_events
from db.reporting_unit import select_unit
from db.unit_registration import UnitRegistrationRow
from domain import local_time
from domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from domain.registration_rules import UnitAction, add_months, renewed_until, unit_transition
from domain.scope import HierarchyPath, allows
from schemas.auth import STAFF_ROLES, Actor, Role
from schemas.registration import (
    RegistrationChanged,
    UnitPhase,
    UnitRegistrationOut,
    UnitRegistrationPolicy,
    UnitRegistrationStatus,
    UnitRegistrationWorkflowInput,
)
from schemas.settings import DEFAULT_TASK_QUEUE
from services.workflow_calls import signal_if_running, start_once
from workflows.unit_registration import UnitRegistrationWorkflow, unit_workflow_id

log = structlog.get_logger(__name__)


def _snapshot(row: UnitRegistrationOut) -> dict[str, Any]:
    return row.model_dump(include={"status", "reason", "agreement_id", "decided_at", "valid_until"})


def _refuse_members(actor: Actor) -> None:
    """A unit's registration is the unit's, its community's or above: never a single member's."""
    if actor.role is Role.member:
        raise Forbidden("党员个人不能办理单位报到: 请联系所在单位")


def _require_deciding(actor: Actor) -> None:
    if actor.role not in STAFF_ROLES:
        raise Forbidden("只有社区党委(或上级组织)可以确认或退回单位报到")


def _check_scope(actor: Actor, row: UnitRegistrationRow, *, deciding: bool) -> None:
    """A registration outside the actor's scope is answered exactly as a missing one."""
    if deciding:
        _require_deciding(actor)
    path = HierarchyPath(district_id=row.district_id, subdistrict_id=row.subdistrict_id,
                         community_id=row.community_id, unit_id=row.unit_id)
    if not allows(actor, path):
        raise _missing(row.id)


def _missing(registration_id: int) -> NotFound:
    return NotFound(f"单位报到记录 {registration_id} 不存在")


async def _load(conn: Conn, registration_id: int) -> UnitRegistrationRow:
    row = await unit_db.select_unit_registration(conn, registration_id=registration_id, for_update=True)
    if row is None:
        raise _missing(registration_id)
    return row


async def _record(conn: Conn, actor: Actor, action: str, before: UnitRegistrationOut | None,
                  after: UnitRegistrationOut, reason: str | None) -> None:
    await insert_events(
        conn, kind="unit", registration_ids=[after.id],
        from_statuses=[None if before is None else before.status], to_statuses=[after.status],
        actor=actor.audit_name, reasons=[reason],
    )
    await insert_audit_entries(
        conn, actor=actor.audit_name, action=f"unit_registration.{action}",
        subject_kind="unit_registration", subject_ids=[after.id],
        befores=[None if before is None else _snapshot(before)], afters=[_snapshot(after)],
    )


async def start_unit_workflow(
    client: Client,
    *,
    unit_registration_id: int,
    phase: UnitPhase = UnitPhase.confirmation,
    policy: UnitRegistrationPolicy | None = None,
    task_queue: str = DEFAULT_TASK_QUEUE,
) -> str:
    """Start the registration's workflow unless one is running (idempotent)."""
    workflow_id = unit_workflow_id(unit_registration_id)
    return await start_once(
        client, UnitRegistrationWorkflow.run,
        UnitRegistrationWorkflowInput(unit_registration_id=unit_registration_id,
                                      policy=policy or UnitRegistrationPolicy(), phase=phase,
                                      cycle=0 if phase is UnitPhase.confirmation else 1),
        workflow_id=workflow_id, task_queue=task_queue,
        closed_may_rerun=True,   # a lapsed registration renewed later gets a fresh run for its new year
    )


async def _signal(client: Client | None, registration_id: int, reason: str) -> None:
    await signal_if_running(client, unit_workflow_id(registration_id), UnitRegistrationWorkflow.changed,
                            RegistrationChanged(reason=reason))


async def submit_unit_registration(
    conn: Conn,
    actor: Actor,
    *,
    unit_id: int,
    community_id: int | None = None,
    client: Client | None,
    policy: UnitRegistrationPolicy | None = None,
    task_queue: str = DEFAULT_TASK_QUEUE,
    now: datetime | None = None,
) -> UnitRegistrationOut:
    """A unit registers with the community where it is located (default: its recorded community)."""
    _refuse_members(actor)
    at = local_time.now_or(now)
    async with conn.transaction():
        unit = await select_unit(conn, unit_id=unit_id)
        unit_missing = NotFound(f"报到单位 {unit_id} 不存在或不在您的管辖范围内")
        if unit is None:
            raise unit_missing
        target = community_id or unit.community_id
        if target is None:
            raise InvalidInput("该单位没有登记所在社区, 请指定报到社区")
        path = await select_community_path(conn, community_id=target)
        if path is None:
            raise NotFound(f"社区 {target} 不存在")
        if not allows(actor, replace(path, unit_id=unit_id)):
            raise unit_missing
        try:
            row = await unit_db.insert_unit_registration(conn, unit_id=unit_id, community_id=target,
                                                         submitted_at=at)
        except asyncpg.UniqueViolationError as error:
            raise Conflict(f"单位 {unit.name} 已向该社区报到, 不能重复报到") from error
        await unit_db.set_unit_workflow_id(conn, registration_id=row.id, workflow_id=unit_workflow_id(row.id))
        row = row.model_copy(update={"workflow_id": unit_workflow_id(row.id)})
        await _record(conn, actor, "submit", None, row, None)
    if client is not None:
        await start_unit_workflow(client, unit_registration_id=row.id, policy=policy,
                                  task_queue=task_queue)
    return row


async def confirm_unit_registration(
    conn: Conn,
    actor: Actor,
    registration_id: int,
    *,
    projects: list[str] | None = None,
    client: Client | None = None,
    agreement_months: int = UnitRegistrationPolicy().agreement_months,
    now: datetime | None = None,
) -> UnitRegistrationOut:
    """Confirm the unit and sign a co-building agreement valid for `agreement_months`."""
    at = local_time.now_or(now)
    async with conn.transaction():
        _require_deciding(actor)
        before = await _load(conn, registration_id)
        _check_scope(actor, before, deciding=True)
        target = unit_transition(UnitAction.confirm, before.status,
                                 registration_id=registration_id)
        valid_until = add_months(at, agreement_months)
        agreement = await insert_agreement(conn, unit_id=before.unit_id,
                                           community_id=before.community_id,
                                           projects=projects or [], valid_from=at, valid_until=valid_until)
        after = await unit_db.update_unit_registration(
            conn, registration_id=registration_id, status=target.value, reason=None,
            agreement_id=agreement.id, decided_at=at, valid_until=valid_until,
        )
        await _record(conn, actor, "confirm", before, after, None)
    await _signal(client, registration_id, "confirmed")
    return after


async def reject_unit_registration(
    conn: Conn,
    actor: Actor,
    registration_id: int,
    reason: str,
    *,
    client: Client | None = None,
    now: datetime | None = None,
) -> UnitRegistrationOut:
    if not reason or not reason.strip():
        raise InvalidInput("退回单位报到必须填写原因")
    at = local_time.now_or(now)
    async with conn.transaction():
        _require_deciding(actor)
        before = await _load(conn, registration_id)
        _check_scope(actor, before, deciding=True)
        target = unit_transition(UnitAction.reject, before.status,
                                 registration_id=registration_id)
        after = await unit_db.update_unit_registration(
            conn, registration_id=registration_id, status=target.value, reason=reason.strip(),
            agreement_id=None, decided_at=at, valid_until=None,
        )
        await _record(conn, actor, "reject", before, after, reason.strip())
    await _signal(client, registration_id, "rejected")
    return after


async def renew_unit_registration(
    conn: Conn,
    actor: Actor,
    registration_id: int,
    *,
    client: Client | None = None,
    agreement_months: int = UnitRegistrationPolicy().agreement_months,
    policy: UnitRegistrationPolicy | None = None,
    task_queue: str = DEFAULT_TASK_QUEUE,
    now: datetime | None = None,
) -> UnitRegistrationOut:
    """Renew the co-building agreement for another term (续签), also after it lapsed."""
    _refuse_members(actor)
    at = local_time.now_or(now)
    async with conn.transaction():
        before = await _load(conn, registration_id)
        _check_scope(actor, before, deciding=False)
        was = before.status
        target = unit_transition(UnitAction.renew, was, registration_id=registration_id)
        if before.agreement_id is None:
            raise Conflict(f"单位报到记录 {registration_id} 没有共建协议, 不能续签")
        valid_until = renewed_until(before.agreement_valid_until, at, agreement_months)
        await update_agreement_validity(conn, agreement_id=before.agreement_id, status="active",
                                        valid_until=valid_until)
        after = await unit_db.update_unit_registration(
            conn, registration_id=registration_id, status=target.value, reason=None,
            agreement_id=before.agreement_id, decided_at=before.decided_at, valid_until=valid_until,
        )
        await _record(conn, actor, "renew", before, after, None)
    if client is not None and was is UnitRegistrationStatus.lapsed:
        # The lapsed registration's workflow has ended; a new year needs a new run.
        await start_unit_workflow(client, unit_registration_id=registration_id, phase=UnitPhase.agreement,
                                  policy=policy, task_queue=task_queue)
    else:
        await _signal(client, registration_id, "renewed")
    return after
