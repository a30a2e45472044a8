"""Member registration (个人报到) use cases, called by both the API and the CLI.

Each use case is ONE transaction that changes `member_registration`, appends the status history
(`registration_event`) and the audit trail (`audit_log`, with before and after). Bulk actions are
all-or-nothing: one refused registration refuses the batch. Workflows are started or signalled
only after the commit, so they never see uncommitted rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

import asyncpg
import structlog
from temporalio.client import Client

from db import hierarchy as hierarchy_db
from db import member_registration as member_db
from db.audit_log import insert_audit_entries
from db.member_registration import PlacedRegistrationRow
from db.notification import insert_member_notifications
from db.pool import Conn
from db.registration_cohort import create_cohort, set_cohort_workflow_id
from db.registration_event import insert_events
from domain import local_time
from domain import notification_texts as texts
from domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from domain.registration_rules import (
    MEMBER_STATUS_LABELS,
    MemberAction,
    member_transition,
    renewal_due,
    renewed_until,
)
from domain.scope import allows, own_member_id
from schemas.auth import STAFF_ROLES, Actor, Role
from schemas.registration import (
    CohortWorkflowInput,
    MemberRegistrationOut,
    MemberRegistrationStatus,
    MyRegistration,
    MyRegistrations,
    RegistrationChanged,
    RegistrationPolicy,
)
from schemas.settings import DEFAULT_TASK_QUEUE
from services.workflow_calls import signal_if_running, start_once
from telemetry import metrics
from workflows.member_registration import MemberRegistrationCohortWorkflow, cohort_workflow_id

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class _State:
    status: MemberRegistrationStatus
    grid_id: int | None
    confirmed_at: datetime | None
    valid_until: datetime | None
    reason: str | None


def _state(row: MemberRegistrationOut) -> _State:
    return _State(row.status, row.grid_id, row.confirmed_at, row.valid_until, row.reason)


def _snapshot(row: MemberRegistrationOut | _State, community_id: int) -> dict[str, Any]:
    state = _state(row) if isinstance(row, MemberRegistrationOut) else row
    return {"status": state.status.value, "community_id": community_id, "grid_id": state.grid_id,
            "confirmed_at": state.confirmed_at, "valid_until": state.valid_until,
            "reason": state.reason}


def _require_deciding(actor: Actor) -> None:
    """A role that may never decide is refused before any lookup: the answer reveals no ids."""
    if actor.role not in STAFF_ROLES:
        raise Forbidden("只有社区党委(或上级组织)可以确认、退回报到或编入网格")


def _missing(ids: Iterable[int]) -> NotFound:
    return NotFound(f"报到记录不存在: {', '.join(str(i) for i in sorted(set(ids)))}")


def _check_scope(actor: Actor, rows: Iterable[PlacedRegistrationRow], *, deciding: bool = False,
                 missing: NotFound | None = None) -> None:
    """Registrations outside the actor's scope are answered exactly as missing ones."""
    if deciding:
        _require_deciding(actor)
    outside = [row.registration.id for row in rows if not allows(actor, row.path)]
    if outside:
        raise missing or _missing(outside)


async def _load(conn: Conn, ids: Sequence[int]) -> list[PlacedRegistrationRow]:
    unique_ids = sorted(set(ids))
    rows = await member_db.select_registrations_for_update(conn, ids=unique_ids)
    missing = set(unique_ids) - {r.registration.id for r in rows}
    if missing:
        raise _missing(missing)
    return rows


async def _write(
    conn: Conn,
    actor: Actor,
    action: MemberAction,
    befores: list[PlacedRegistrationRow],
    afters: list[_State],
    now: datetime,
) -> list[MemberRegistrationOut]:
    """Apply new states, then append history and audit, all set-based."""
    ids = [b.registration.id for b in befores]
    rows = await member_db.update_registrations(
        conn, ids=ids, statuses=[a.status.value for a in afters], grid_ids=[a.grid_id for a in afters],
        confirmed_ats=[a.confirmed_at for a in afters], valid_untils=[a.valid_until for a in afters],
        reasons=[a.reason for a in afters], updated_at=now,
    )
    await insert_events(
        conn, kind="member", registration_ids=ids, from_statuses=[b.registration.status.value for b in befores],
        to_statuses=[a.status.value for a in afters], actor=actor.audit_name,
        reasons=[a.reason for a in afters], at=now,
    )
    await insert_audit_entries(
        conn, actor=actor.audit_name, action=f"member_registration.{action.value}",
        subject_kind="member_registration", subject_ids=ids,
        befores=[_snapshot(b.registration, b.registration.community_id) for b in befores],
        afters=[_snapshot(a, b.registration.community_id) for a, b in zip(afters, befores, strict=True)],
    )
    for after in afters:
        metrics.REGISTRATIONS.labels(status=after.status.value).inc()
    return rows


async def _tell_members(conn: Conn, rows: list[PlacedRegistrationRow], action: MemberAction,
                        messages: list[texts.Text]) -> None:
    """Each member's inbox gets the community's decision on their registration (once per
    registration and decision), in the decision's transaction."""
    await insert_member_notifications(
        conn, member_ids=[r.registration.member_id for r in rows],
        dedupe_keys=[f"member_registration:{r.registration.id}:{action.value}" for r in rows],
        category=messages[0].category if messages else "", titles=[m.title for m in messages],
        bodies=[m.body for m in messages],
    )


async def _grid_in_community(conn: Conn, grid_id: int, community_id: int) -> int:
    grid_community = await member_db.select_grid_community_id(conn, grid_id=grid_id)
    if grid_community is None:
        raise NotFound(f"网格 {grid_id} 不存在")
    if grid_community != community_id:
        raise InvalidInput(f"网格 {grid_id} 不属于报到社区 {community_id}, 不能编入")
    return grid_id


async def signal_cohorts(client: Client | None, cohort_ids: Iterable[int | None], reason: str) -> None:
    """Tell the cohort workflows to look again; a finished or absent workflow needs no telling."""
    for cohort_id in sorted({c for c in cohort_ids if c is not None}):
        await signal_if_running(client, cohort_workflow_id(cohort_id), MemberRegistrationCohortWorkflow.changed,
                                RegistrationChanged(reason=reason))


async def start_cohort(
    client: Client,
    *,
    cohort_id: int,
    policy: RegistrationPolicy | None = None,
    task_queue: str = DEFAULT_TASK_QUEUE,
) -> str:
    """Start the cohort's workflow once; calling again (running or finished) is a no-op."""
    # A cohort whose workflow already ran to its end has nothing left to remind: no-op too.
    return await start_once(
        client, MemberRegistrationCohortWorkflow.run,
        CohortWorkflowInput(cohort_id=cohort_id, policy=policy or RegistrationPolicy()),
        workflow_id=cohort_workflow_id(cohort_id), task_queue=task_queue)


async def _open_new(
    conn: Conn,
    actor: Actor,
    *,
    member_id: int,
    community_id: int,
    grid_id: int | None,
    source: str,
    now: datetime,
    from_status: str | None = None,
) -> MemberRegistrationOut:
    cohort_id = await create_cohort(conn, source=source, size=1)
    await set_cohort_workflow_id(conn, cohort_id=cohort_id, workflow_id=cohort_workflow_id(cohort_id))
    try:
        row = await member_db.insert_member_registration(
            conn, member_id=member_id, community_id=community_id, grid_id=grid_id,
            cohort_id=cohort_id, submitted_at=now,
        )
    except asyncpg.UniqueViolationError as error:
        raise Conflict(f"党员 {member_id} 已有未结束的报到, 不能重复报到") from error
    await insert_events(conn, kind="member", registration_ids=[row.id], from_statuses=[from_status],
                        to_statuses=["submitted"], actor=actor.audit_name, reasons=[None])
    await insert_audit_entries(
        conn, actor=actor.audit_name, action="member_registration.submit",
        subject_kind="member_registration", subject_ids=[row.id], befores=[None],
        afters=[_snapshot(row, community_id)],
    )
    metrics.REGISTRATIONS.labels(status="submitted").inc()
    return row


async def submit_member_registration(
    conn: Conn,
    actor: Actor,
    *,
    member_id: int,
    community_id: int | None = None,
    grid_id: int | None = None,
    client: Client | None,
    policy: RegistrationPolicy | None = None,
    task_queue: str = DEFAULT_TASK_QUEUE,
    now: datetime | None = None,
) -> MemberRegistrationOut:
    """A member registers with the community where they live (defaults: home community and grid).

    Creates a cohort of one and, when a client is given, starts its workflow after the commit.
    """
    at = local_time.now_or(now)
    async with conn.transaction():
        home = await member_db.select_member_home(conn, member_id=member_id)
        member_missing = NotFound(f"党员 {member_id} 不存在或不在您的管辖范围内")
        if home is None:
            raise member_missing
        target = community_id or home.home_community_id
        if target is None:
            raise InvalidInput("该党员没有登记居住社区, 请指定报到社区")
        path_row = await hierarchy_db.select_community_path(conn, community_id=target)
        if path_row is None:
            raise NotFound(f"社区 {target} 不存在")
        path = replace(path_row, unit_id=home.unit_id, member_id=member_id)
        if not allows(actor, path):
            raise member_missing
        grid: int | None
        if grid_id is not None:
            grid = await _grid_in_community(conn, grid_id, target)
        elif home.home_grid_community_id == target:
            grid = home.home_grid_id
        else:
            grid = None
        source = {Role.member: "self", Role.unit_admin: "unit_admin"}.get(actor.role, "community")
        out = await _open_new(conn, actor, member_id=member_id, community_id=target, grid_id=grid,
                              source=source, now=at)
    if client is not None and out.cohort_id is not None:
        await start_cohort(client, cohort_id=out.cohort_id, policy=policy, task_queue=task_queue)
    return out


async def confirm_registrations(
    conn: Conn,
    actor: Actor,
    ids: Sequence[int],
    *,
    grid_override: int | None = None,
    client: Client | None = None,
    validity_months: int = RegistrationPolicy().validity_months,
    now: datetime | None = None,
) -> list[MemberRegistrationOut]:
    """Confirm registrations singly or in bulk and place each in its home grid (or the override).

    A registration with no grid to place it in becomes `confirmed`, awaiting placement; a placed
    one becomes `active`, valid for `validity_months` from now.
    """
    at = local_time.now_or(now)
    async with conn.transaction():
        _require_deciding(actor)
        rows = await _load(conn, ids)
        _check_scope(actor, rows, deciding=True)
        override_community: int | None = None
        if grid_override is not None:
            # One look-up for the whole batch, not one per registration.
            override_community = await member_db.select_grid_community_id(conn, grid_id=grid_override)
            if override_community is None:
                raise NotFound(f"网格 {grid_override} 不存在")
        afters: list[_State] = []
        for row in rows:
            reg = row.registration
            member_transition(MemberAction.confirm, reg.status, registration_id=reg.id)
            grid: int | None
            if grid_override is not None:
                if override_community != reg.community_id:
                    raise InvalidInput(f"网格 {grid_override} 不属于报到记录 {reg.id} 的社区, 不能编入")
                grid = grid_override
            elif reg.grid_id is not None:
                grid = reg.grid_id
            elif row.home_grid_community_id == reg.community_id:
                grid = row.home_grid_id
            else:
                grid = None
            if grid is None:
                afters.append(_State(MemberRegistrationStatus.confirmed, None, at, None, None))
            else:
                afters.append(_State(MemberRegistrationStatus.active, grid, at,
                                     renewed_until(None, at, validity_months), None))
        result = await _write(conn, actor, MemberAction.confirm, rows, afters, at)
        await _tell_members(conn, rows, MemberAction.confirm,
                            [texts.registration_confirmed(placed=a.grid_id is not None) for a in afters])
    await signal_cohorts(client, (r.registration.cohort_id for r in rows), "confirmed")
    return result


async def reject_registrations(
    conn: Conn,
    actor: Actor,
    ids: Sequence[int],
    reason: str,
    *,
    client: Client | None = None,
    now: datetime | None = None,
) -> list[MemberRegistrationOut]:
    """Send registrations back, with a reason the member will read."""
    if not reason or not reason.strip():
        raise InvalidInput("退回报到申请必须填写原因")
    at = local_time.now_or(now)
    async with conn.transaction():
        _require_deciding(actor)
        rows = await _load(conn, ids)
        _check_scope(actor, rows, deciding=True)
        afters = []
        for row in rows:
            target = member_transition(MemberAction.reject, row.registration.status,
                                       registration_id=row.registration.id)
            afters.append(replace(_state(row.registration), status=target, reason=reason.strip()))
        result = await _write(conn, actor, MemberAction.reject, rows, afters, at)
        await _tell_members(conn, rows, MemberAction.reject, [texts.registration_returned(reason.strip())] * len(rows))
    await signal_cohorts(client, (r.registration.cohort_id for r in rows), "rejected")
    return result


async def place_in_grid(
    conn: Conn,
    actor: Actor,
    registration_id: int,
    grid_id: int,
    *,
    client: Client | None = None,
    validity_months: int = RegistrationPolicy().validity_months,
    now: datetime | None = None,
) -> MemberRegistrationOut:
    """Place a confirmed registration in a grid branch (or move an active one to another grid)."""
    at = local_time.now_or(now)
    async with conn.transaction():
        _require_deciding(actor)
        rows = await _load(conn, [registration_id])
        _check_scope(actor, rows, deciding=True)
        row = rows[0].registration
        target = member_transition(MemberAction.place, row.status, registration_id=registration_id)
        grid = await _grid_in_community(conn, grid_id, row.community_id)
        valid_until = row.valid_until or renewed_until(None, at, validity_months)
        after = replace(_state(row), status=target, grid_id=grid, valid_until=valid_until)
        result = await _write(conn, actor, MemberAction.place, rows, [after], at)
    await signal_cohorts(client, [row.cohort_id], "placed")
    return result[0]


async def _simple(
    conn: Conn,
    actor: Actor,
    action: MemberAction,
    registration_id: int,
    *,
    reason: str | None,
    client: Client | None,
    now: datetime | None,
    valid_until: Any = None,
) -> MemberRegistrationOut:
    at = local_time.now_or(now)
    async with conn.transaction():
        rows = await _load(conn, [registration_id])
        _check_scope(actor, rows)
        row = rows[0].registration
        target = member_transition(action, row.status, registration_id=registration_id)
        after = replace(_state(row), status=target, reason=reason)
        if valid_until is not None:
            after = replace(after, valid_until=valid_until(row, at))
        result = await _write(conn, actor, action, rows, [after], at)
    await signal_cohorts(client, [row.cohort_id], action.value)
    return result[0]


async def pause(conn: Conn, actor: Actor, registration_id: int, *, reason: str | None = None,
                client: Client | None = None, now: datetime | None = None) -> MemberRegistrationOut:
    """Pause an active registration (illness, posting away): no tasks, no reminders."""
    return await _simple(conn, actor, MemberAction.pause, registration_id, reason=reason,
                         client=client, now=now)


async def resume(conn: Conn, actor: Actor, registration_id: int, *, reason: str | None = None,
                 client: Client | None = None, now: datetime | None = None) -> MemberRegistrationOut:
    return await _simple(conn, actor, MemberAction.resume, registration_id, reason=reason,
                         client=client, now=now)


async def withdraw(conn: Conn, actor: Actor, registration_id: int, *, reason: str | None = None,
                   client: Client | None = None, now: datetime | None = None) -> MemberRegistrationOut:
    return await _simple(conn, actor, MemberAction.withdraw, registration_id, reason=reason,
                         client=client, now=now)


async def renew(
    conn: Conn,
    actor: Actor,
    registration_id: int,
    *,
    client: Client | None = None,
    validity_months: int = RegistrationPolicy().validity_months,
    now: datetime | None = None,
) -> MemberRegistrationOut:
    """Re-register (重新报到): valid for another term from the later of the old expiry and now."""

    def extended(row: MemberRegistrationOut, at: datetime) -> datetime:
        return renewed_until(row.valid_until, at, validity_months)

    return await _simple(conn, actor, MemberAction.renew, registration_id, reason=None,
                         client=client, now=now, valid_until=extended)


async def transfer_member(
    conn: Conn,
    actor: Actor,
    member_id: int,
    to_community_id: int,
    to_grid_id: int | None = None,
    *,
    client: Client | None = None,
    policy: RegistrationPolicy | None = None,
    task_queue: str = DEFAULT_TASK_QUEUE,
    now: datetime | None = None,
) -> MemberRegistrationOut:
    """A member moves: the open registration closes as `transferred`, a new one is submitted."""
    at = local_time.now_or(now)
    async with conn.transaction():
        old = await member_db.select_open_registration_for_member(conn, member_id=member_id)
        none_open = NotFound(f"党员 {member_id} 没有未结束的报到, 无法转移")
        if old is None:
            raise none_open
        _check_scope(actor, [old], missing=none_open)
        if old.registration.community_id == to_community_id:
            raise Conflict(f"党员 {member_id} 已在社区 {to_community_id} 报到, 无需转移")
        if await hierarchy_db.select_community_path(conn, community_id=to_community_id) is None:
            raise NotFound(f"社区 {to_community_id} 不存在")
        target = member_transition(MemberAction.transfer, old.registration.status,
                                   registration_id=old.registration.id)
        reason = f"转至社区 {to_community_id}"
        await _write(conn, actor, MemberAction.transfer, [old],
                     [replace(_state(old.registration), status=target, reason=reason)], at)
        grid = None if to_grid_id is None else await _grid_in_community(conn, to_grid_id, to_community_id)
        out = await _open_new(conn, actor, member_id=member_id, community_id=to_community_id,
                              grid_id=grid, source="transfer", now=at)
    await signal_cohorts(client, [old.registration.cohort_id], "transferred")
    if client is not None and out.cohort_id is not None:
        await start_cohort(client, cohort_id=out.cohort_id, policy=policy, task_queue=task_queue)
    return out


async def my_registrations(conn: Conn, actor: Actor, *, now: datetime | None = None,
                           policy: RegistrationPolicy = RegistrationPolicy()) -> MyRegistrations:
    """The member's own registrations with names, status words, why one was returned and whether
    it is due for re-registration; where they live, for a new one. The member only."""
    member_id = own_member_id(actor)
    at = local_time.now_or(now)
    home = await member_db.select_member_home_names(conn, member_id=member_id)
    items = []
    for row in await member_db.select_own_registrations(conn, member_id=member_id):
        status = MemberRegistrationStatus(row.status)
        items.append(MyRegistration.model_validate({
            **asdict(row), "status": status, "status_label": MEMBER_STATUS_LABELS[status],
            "renewal_due": renewal_due(status, row.valid_until, at, lead=policy.renewal.remind),
        }))
    return MyRegistrations(**asdict(home or member_db.MemberHomeNamesRow()), items=items)
