"""Dispatch use cases 居民点单、社区派单、党员接单, called by both the API and the CLI.

Needs are placed, verified or rejected here; tasks are created here and their `TaskWorkflow`
started after the commit. Everything that happens to a running task (answers, claims, scans,
rating, verification, requeue) is a validated update on its workflow, so the workflow is the one
place that decides; this module checks who may ask and turns refusals into DomainErrors.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from db import need as need_db
from db import offer as offer_db
from db import resident_rating as rating_db
from db import task as task_db
from db.audit_log import insert_audit_entries
from db.need import GridPlaceRow
from db.pool import Conn, Pool
from db.task import TaskPlaceRow
from domain import task_rules
from domain.dispatch_policy import DEFAULT_POLICY
from domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from domain.matching import hard_constraint_violations, score
from domain.need_rules import duplicate_window_start, tier_deadline
from domain.pii import mask_phone
from domain.scope import allows, own_member_id
from domain.task_rules import TaskRefusal
from schemas.auth import STAFF_ROLES, Actor, Role, ScopeKind
from schemas.dispatch import (
    AnswerOfferInput,
    AnswerOfferResult,
    ClaimInput,
    ClaimResult,
    LedgerFilter,
    LedgerRow,
    MemberFit,
    MyTask,
    NeedCategory,
    NeedCreate,
    NeedDecision,
    NeedStatus,
    NeedView,
    OfferView,
    RateInput,
    RateResult,
    RejectVerifyResult,
    ScanInput,
    ScanResult,
    TaskCreate,
    TaskCreated,
    TaskEventView,
    TaskMode,
    TaskSnapshot,
    TaskView,
    VerifyResult,
)
from schemas.matching import MatchWeights
from schemas.settings import DEFAULT_TASK_QUEUE
from schemas.task_contract import (
    AnswerOfferUpdate,
    CancelInput,
    ClaimUpdate,
    DispatchPolicy,
    RateUpdate,
    RejectVerifyInput,
    RequeueInput,
    ScanRecorded,
    ScanUpdate,
    TaskState,
    TaskWorkflowInput,
    VerifyInput,
)
from services.tokens import hash_token
from services.workflow_calls import execute_update, start_once
from workflows.task import TaskWorkflow

log = structlog.get_logger(__name__)

ANONYMOUS_DONOR = "匿名爱心人士"
RECENT_WINDOW = task_rules.FAIRNESS_WINDOW

P = TypeVar("P")
R = TypeVar("R")


def _require_staff_role(actor: Actor) -> None:
    """Refuse a role that may never do this, whatever the object (the same answer whether or not
    the object exists, so it reveals nothing)."""
    if actor.role not in STAFF_ROLES:
        raise Forbidden("无权操作: 仅所在社区、街道或组织部的工作人员可以办理")


def _require_staff(actor: Actor, place: GridPlaceRow, missing: NotFound) -> None:
    """Staff of the place's community, subdistrict or district. Staff elsewhere are answered as if
    the object did not exist (`missing`): a foreign object and an absent one look the same."""
    _require_staff_role(actor)
    if not allows(actor, place.path):
        raise missing


async def _staff_need(conn: Conn, actor: Actor, need_id: int) -> NeedView:
    """The need, for staff of its grid's community, subdistrict or district; else as if absent."""
    need = await need_db.select_need(conn, need_id=need_id)
    missing = NotFound(f"需求 {need_id} 不存在")
    if need is None:
        raise missing
    place = await need_db.select_grid_place(conn, grid_id=need.grid_id)
    assert place is not None  # a need's grid exists (foreign key)
    _require_staff(actor, place, missing)
    return need


def _task_missing(task_id: int) -> NotFound:
    return NotFound(f"任务 {task_id} 不存在")


async def _task_place(conn: Conn, task_id: int) -> TaskPlaceRow:
    place = await task_db.select_task_place(conn, task_id=task_id)
    if place is None:
        raise _task_missing(task_id)
    return place


async def _visible_task_place(conn: Conn, actor: Actor, task_id: int, *, staff_only: bool = False) -> TaskPlaceRow:
    """The task's place when the actor may see the task: staff within scope; a member only a task
    offered to them, theirs, or claimable by them (unless `staff_only`). Unit admins never see
    tasks (403). Anything else is answered exactly as a missing task (404)."""
    if actor.role is Role.member and not staff_only:
        if actor.scope_kind is not ScopeKind.member or actor.scope_id is None:
            raise _task_missing(task_id)
        place = await task_db.select_task_place(conn, task_id=task_id)
        if place is None or not await task_db.member_sees_task(conn, task_id=task_id, member_id=actor.scope_id):
            raise _task_missing(task_id)
        return place
    _require_staff_role(actor)
    place = await _task_place(conn, task_id)
    _require_staff(actor, place, _task_missing(task_id))
    return place


async def _place_of(pool: Pool, actor: Actor, task_id: int, *, staff_only: bool = False) -> TaskPlaceRow:
    """The task's place if the actor may see it, read on a connection given back before the caller
    waits on the workflow."""
    async with pool.acquire() as conn:
        return await _visible_task_place(conn, actor, task_id, staff_only=staff_only)


async def _for_member_or_staff(pool: Pool, actor: Actor, task_id: int, member_id: int) -> None:
    """A member acts for themselves on a task that concerns them; staff in scope may act on a
    member's behalf (e.g. by phone)."""
    await _place_of(pool, actor, task_id)
    if actor.role is Role.member and actor.scope_id != member_id:
        raise Forbidden("党员只能为本人接单、认领或签到")


def _need_view(view: NeedView, actor: Actor) -> NeedView:
    # Community staff work with the resident; everyone else sees the phone masked.
    if actor.role is not Role.community_staff:
        view = view.model_copy(update={"resident_phone": mask_phone(view.resident_phone)})
    if view.donor_anonymous:
        view = view.model_copy(update={"donor_name": ANONYMOUS_DONOR})
    return view


# ---------------------------------------------------------------- needs


async def place_need(conn: Conn, actor: Actor, data: NeedCreate, *, now: datetime) -> NeedView:
    """A grid worker (community staff) places a resident's need; likely duplicates are flagged."""
    _require_staff_role(actor)
    async with conn.transaction():
        place = await need_db.select_grid_place(conn, grid_id=data.grid_id)
        missing = NotFound(f"网格 {data.grid_id} 不存在")
        if place is None:
            raise missing
        _require_staff(actor, place, missing)
        row = await record_need(conn, place=place, data=data, created_by=actor.audit_name, now=now)
        return _need_view(row, actor)


async def record_need(
    conn: Conn, *, place: GridPlaceRow, data: NeedCreate, created_by: str, now: datetime
) -> NeedView:
    """Insert a need in `place` (a row of need_db.select_grid_place) after the caller's own access
    check: the category must be in the catalogue, likely duplicates are flagged."""
    category = await need_db.select_category(conn, name=data.category)
    if category is None:
        raise InvalidInput(f"需求类别「{data.category}」不在目录中")
    duplicate_of = None
    if data.resident_phone:
        duplicate_of = await need_db.select_recent_same_need(
            conn, grid_id=data.grid_id, category=data.category, resident_phone=data.resident_phone,
            since=duplicate_window_start(now),
        )
    row = await need_db.insert_need(
        conn, category=data.category, community_id=place.community_id, grid_id=data.grid_id,
        urgency=data.urgency.value,
        deadline_at=tier_deadline(data.urgency, placed_at=now, red_hours=category.red_hours,
                                  yellow_hours=category.yellow_hours, blue_hours=category.blue_hours),
        description=data.description, resident_name=data.resident_name,
        resident_phone=data.resident_phone, donor_name=data.donor_name,
        donor_anonymous=data.donor_anonymous, duplicate_of=duplicate_of, created_by=created_by,
        at=now,
    )
    log.info("need_placed", need_id=row.id, grid_id=data.grid_id, likely_duplicate=duplicate_of is not None)
    return row


async def decide_need(conn: Conn, actor: Actor, need_id: int, data: NeedDecision, *, now: datetime) -> NeedView:
    """The community verifies 核查 a need before it is published, or rejects it with a reason."""
    _require_staff_role(actor)
    async with conn.transaction():
        row = await _staff_need(conn, actor, need_id)
        if not data.approve and not (data.reason or "").strip():
            raise InvalidInput("驳回需求须填写理由")
        target = "verified" if data.approve else "rejected"
        moved = await need_db.update_need_status(conn, need_id=need_id, from_statuses=["submitted"],
                                                 status=target, reason=data.reason, at=now)
        if not moved:
            raise Conflict(f"需求当前状态为 {row.status.value}, 只有待核查的需求可以核查或驳回")
        await insert_audit_entries(conn, actor=actor.audit_name, action=f"need_{target}", subject_kind="need",
                                   subject_ids=[need_id], befores=[{"status": row.status.value}],
                                   afters=[{"status": target, "reason": data.reason}])
        after = await need_db.select_need(conn, need_id=need_id)
        assert after is not None
        return _need_view(after, actor)


async def list_needs(conn: Conn, actor: Actor, *, status: str | None, limit: int) -> list[NeedView]:
    """The need list 需求清单 within the staff member's scope."""
    if actor.role not in STAFF_ROLES:
        raise Forbidden("无权查看需求清单")
    kind, scope_id = actor.scope_kind, actor.scope_id
    rows = await need_db.select_needs(
        conn,
        community_id=scope_id if kind is ScopeKind.community else None,
        subdistrict_id=scope_id if kind is ScopeKind.subdistrict else None,
        district_id=scope_id if kind is ScopeKind.district else None,
        status=status, limit=limit,
    )
    return [_need_view(row, actor) for row in rows]


async def need_categories(conn: Conn, actor: Actor) -> list[NeedCategory]:
    """The active need categories (what a need, a task or a service record may be about), for
    staff forms and a member logging a service record (a catalogue: nothing personal)."""
    if actor.role not in STAFF_ROLES and actor.role is not Role.member:
        raise Forbidden("无权查看需求类别")
    return await need_db.select_categories(conn)


# ---------------------------------------------------------------- tasks


async def create_task(
    pool: Pool,
    client: Client,
    actor: Actor,
    data: TaskCreate,
    *,
    now: datetime,
    task_queue: str = DEFAULT_TASK_QUEUE,
    policy: DispatchPolicy | None = None,
) -> TaskCreated:
    """Create a task (from a verified need, or directly) and start its workflow after the commit.

    The workflow starts after the commit, so Temporal being unreachable then leaves the task
    without its workflow and the need converted. Asked again for the same need (the grid worker
    retrying), the task is taken up where it was left: new check-in and rating codes (the first
    answer, with the old ones, never arrived) and its workflow started."""
    if data.window_end <= data.window_start:
        raise InvalidInput("结束时间须晚于开始时间")
    if data.need_id is not None:
        resumed = await _resume_unstarted_task(pool, client, actor, data.need_id, now=now,
                                               task_queue=task_queue, policy=policy)
        if resumed is not None:
            return resumed
    token = secrets.token_urlsafe(16)
    rating_code: tuple[str, datetime] | None = None
    _require_staff_role(actor)
    async with pool.acquire() as conn, conn.transaction():
        grid_id, category = data.grid_id, data.category
        if data.need_id is not None:
            need = await _staff_need(conn, actor, data.need_id)
            if need.status is not NeedStatus.verified:
                raise Conflict("只有已核查的需求可以转为任务")
            grid_id = grid_id or need.grid_id
            category = category or need.category
        if grid_id is None or category is None:
            raise InvalidInput("请指定网格和类别 (或从已核查的需求创建)")
        place = await need_db.select_grid_place(conn, grid_id=grid_id)
        grid_missing = NotFound(f"网格 {grid_id} 不存在")
        if place is None:
            raise grid_missing
        _require_staff(actor, place, grid_missing)
        cat = await need_db.select_category(conn, name=category)
        if cat is None:
            raise InvalidInput(f"类别「{category}」不在目录中")
        task_id = await task_db.insert_task(
            conn, need_id=data.need_id, community_id=place.community_id, grid_id=grid_id,
            title=data.title, category=category, mode=data.mode.value, headcount=data.headcount,
            required_skills=data.required_skills, window_start=data.window_start,
            window_end=data.window_end, place=data.place, points_per_hour=data.points_per_hour,
            category_bonus=cat.category_bonus, rating_bonus=data.rating_bonus,
            points_cap=data.points_cap, redeemable=data.redeemable,
            qr_token_hash=task_rules.hash_qr_token(token), created_by=actor.audit_name, at=now,
        )
        if data.need_id is not None:
            await need_db.update_need_status(conn, need_id=data.need_id, from_statuses=["verified"],
                                             status="converted", reason=None, at=now)
            # The resident who placed the need rates the service with their own code 评价码.
            rating_code = await issue_rating_code(
                conn, task_id=task_id, window_end=data.window_end, issued_by=actor.audit_name, now=now,
                rating_window=(policy or DEFAULT_POLICY).rating_window)
        await insert_audit_entries(conn, actor=actor.audit_name, action="task_created", subject_kind="task",
                                   subject_ids=[task_id], befores=[None],
                                   afters=[{"need_id": data.need_id, "mode": data.mode.value,
                                            "headcount": data.headcount, "grid_id": grid_id}])
        row = await task_db.select_task(conn, task_id=task_id)
        assert row is not None
    await start_task_workflow(client, task_id=task_id, mode=data.mode, headcount=data.headcount,
                              window_start=data.window_start, window_end=data.window_end,
                              task_queue=task_queue, policy=policy)
    log.info("task_created", task_id=task_id, mode=data.mode.value, headcount=data.headcount)
    return TaskCreated(task=row.view, qr_token=token,
                       resident_rating_code=rating_code[0] if rating_code else None,
                       resident_rating_expires_at=rating_code[1] if rating_code else None)


async def _workflow_started(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def _resume_unstarted_task(
    pool: Pool, client: Client, actor: Actor, need_id: int, *, now: datetime, task_queue: str,
    policy: DispatchPolicy | None,
) -> TaskCreated | None:
    """The need's task with fresh codes and its workflow started, when the need was converted but
    the workflow never started; None otherwise (a need not converted yet, or a task under way)."""
    async with pool.acquire() as conn:
        need = await need_db.select_need(conn, need_id=need_id)
        task_id = await task_db.select_task_id_of_need(conn, need_id=need_id) if (
            need is not None and need.status is NeedStatus.converted) else None
        task = await task_db.select_task(conn, task_id=task_id) if task_id is not None else None
    if task is None:
        return None
    row = task.view
    assert row.workflow_id is not None  # insert_task writes it with the row
    if await _workflow_started(client, row.workflow_id):
        return None
    token = secrets.token_urlsafe(16)
    async with pool.acquire() as conn, conn.transaction():
        place = await need_db.select_grid_place(conn, grid_id=row.grid_id)
        grid_missing = NotFound(f"网格 {row.grid_id} 不存在")
        if place is None:
            raise grid_missing
        _require_staff(actor, place, grid_missing)
        await task_db.update_qr_token_hash(conn, task_id=row.id, qr_token_hash=task_rules.hash_qr_token(token),
                                           at=now)
        code, expires_at = await issue_rating_code(
            conn, task_id=row.id, window_end=row.window_end, issued_by=actor.audit_name, now=now,
            rating_window=(policy or DEFAULT_POLICY).rating_window)
        await insert_audit_entries(conn, actor=actor.audit_name, action="task_workflow_resumed", subject_kind="task",
                                   subject_ids=[row.id], befores=[None], afters=[{"need_id": need_id}])
    await start_task_workflow(client, task_id=row.id, mode=row.mode, headcount=row.headcount,
                              window_start=row.window_start, window_end=row.window_end,
                              task_queue=task_queue, policy=policy)
    log.warning("task_workflow_resumed", task_id=row.id)
    return TaskCreated(task=row, qr_token=token, resident_rating_code=code,
                       resident_rating_expires_at=expires_at)


async def issue_rating_code(
    conn: Conn, *, task_id: int, window_end: datetime, issued_by: str, now: datetime, rating_window: timedelta
) -> tuple[str, datetime]:
    """(Re)issue a task's resident rating code 评价码; the plaintext and its expiry. Only the hash
    is stored; a code issued before stops working. It lasts the rating window after the service
    (or after now, for a code re-issued late)."""
    code = secrets.token_urlsafe(16)
    expires_at = max(window_end, now) + rating_window
    await rating_db.upsert_rating_token(conn, task_id=task_id, token_hash=hash_token(code), expires_at=expires_at,
                                        issued_by=issued_by, at=now)
    return code, expires_at


async def start_task_workflow(
    client: Client, *, task_id: int, mode: TaskMode, headcount: int, window_start: datetime,
    window_end: datetime, task_queue: str = DEFAULT_TASK_QUEUE, policy: DispatchPolicy | None = None,
) -> str:
    """Start the task's workflow once; calling again is a no-op."""
    return await start_once(
        client, TaskWorkflow.run,
        TaskWorkflowInput(task_id=task_id, mode=mode, headcount=headcount, window_start=window_start,
                          window_end=window_end, policy=policy or DEFAULT_POLICY),
        workflow_id=task_rules.task_workflow_id(task_id), task_queue=task_queue, eager=True)


async def _update(client: Client, task_id: int, update: UpdateMethodMultiParam[[Any, P], Awaitable[R]],
                  arg: P) -> R:
    """Send a validated update to the task's workflow; a refusal becomes a Conflict."""
    return await execute_update(
        client, task_rules.task_workflow_id(task_id), update, arg,
        not_running=Conflict("该任务的流程已结束或不存在", code="task_not_running"))


# An offer is committed (and the member told) by the wave's activity a moment before the workflow
# has its result: an answer in that moment finds no offer in the workflow. Retried while the
# database shows the member's offer open, for at most this long.
_HANDOVER_WAIT = timedelta(seconds=5)
_HANDOVER_PAUSE = 0.1


# ---------------------------------------------------------------- API models <-> the workflow's contract


def _scan(data: ScanInput) -> ScanUpdate:
    return ScanUpdate(member_id=data.member_id, token=data.token, report=data.report)


def _scan_result(recorded: ScanRecorded) -> ScanResult:
    return ScanResult(member_id=recorded.member_id, status=recorded.status, hours=recorded.hours)


def _snapshot(state: TaskState) -> TaskSnapshot:
    return TaskSnapshot(status=state.status, level=state.level, wave=state.wave, filled=state.filled,
                        open_offers=state.open_offers, parked_reason=state.parked_reason, shortfall=state.shortfall)


async def _has_open_offer(pool: Pool, task_id: int, member_id: int) -> bool:
    async with pool.acquire() as conn:
        return await offer_db.member_has_open_offer(conn, task_id=task_id, member_id=member_id)


async def answer_offer(pool: Pool, client: Client, actor: Actor, task_id: int,
                       data: AnswerOfferInput) -> AnswerOfferResult:
    await _for_member_or_staff(pool, actor, task_id, data.member_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _HANDOVER_WAIT.total_seconds()
    while True:
        try:
            answered = await _update(client, task_id, TaskWorkflow.answer_offer,
                                     AnswerOfferUpdate(member_id=data.member_id, accept=data.accept, reason=data.reason))
            return AnswerOfferResult(offer_id=answered.offer_id, status=answered.status)
        except Conflict as err:
            if err.code != TaskRefusal.no_offer or loop.time() > deadline or not await _has_open_offer(
                    pool, task_id, data.member_id):
                raise
        await asyncio.sleep(_HANDOVER_PAUSE)


async def claim(pool: Pool, client: Client, actor: Actor, task_id: int, data: ClaimInput) -> ClaimResult:
    await _for_member_or_staff(pool, actor, task_id, data.member_id)
    claimed = await _update(client, task_id, TaskWorkflow.claim, ClaimUpdate(member_id=data.member_id))
    return ClaimResult(assignment_id=claimed.assignment_id, filled=claimed.filled, headcount=claimed.headcount)


async def check_in(pool: Pool, client: Client, actor: Actor, task_id: int, data: ScanInput) -> ScanResult:
    await _for_member_or_staff(pool, actor, task_id, data.member_id)
    return _scan_result(await _update(client, task_id, TaskWorkflow.check_in, _scan(data)))


async def check_out(pool: Pool, client: Client, actor: Actor, task_id: int, data: ScanInput) -> ScanResult:
    await _for_member_or_staff(pool, actor, task_id, data.member_id)
    return _scan_result(await _update(client, task_id, TaskWorkflow.check_out, _scan(data)))


async def rate(pool: Pool, client: Client, actor: Actor, task_id: int, data: RateInput) -> RateResult:
    """The resident's rating, entered by the grid worker or community staff who visited."""
    await _place_of(pool, actor, task_id, staff_only=True)
    rated = await _update(client, task_id, TaskWorkflow.rate, RateUpdate(score=data.score, comment=data.comment))
    return RateResult(score=rated.score, follow_up=rated.follow_up)


async def send_rating(client: Client, task_id: int, data: RateInput) -> RateResult:
    """Pass a rating to the task's workflow; the caller has checked who may rate (staff in scope,
    or a resident's rating code)."""
    rated = await _update(client, task_id, TaskWorkflow.rate, RateUpdate(score=data.score, comment=data.comment))
    return RateResult(score=rated.score, follow_up=rated.follow_up)


async def verify(pool: Pool, client: Client, actor: Actor, task_id: int, note: str | None) -> VerifyResult:
    await _place_of(pool, actor, task_id, staff_only=True)
    verified = await _update(client, task_id, TaskWorkflow.verify, VerifyInput(actor=actor.audit_name, note=note))
    return VerifyResult(points_credited=verified.points_credited)


async def reject_verification(pool: Pool, client: Client, actor: Actor, task_id: int,
                              reason: str) -> RejectVerifyResult:
    """核查未通过: no points; the task goes to follow-up 整改 and the members who served are told.
    A later `verify` passes it and credits the points then."""
    await _place_of(pool, actor, task_id, staff_only=True)
    if not reason.strip():
        raise InvalidInput(task_rules.REFUSAL_REJECT_NEEDS_REASON)
    rejected = await _update(client, task_id, TaskWorkflow.reject_verification,
                             RejectVerifyInput(actor=actor.audit_name, reason=reason.strip()))
    return RejectVerifyResult(status=rejected.status, rejections=rejected.rejections)


async def requeue(pool: Pool, client: Client, actor: Actor, task_id: int) -> TaskSnapshot:
    await _place_of(pool, actor, task_id, staff_only=True)
    return _snapshot(await _update(client, task_id, TaskWorkflow.requeue, RequeueInput(actor=actor.audit_name)))


async def cancel(pool: Pool, client: Client, actor: Actor, task_id: int, reason: str) -> TaskSnapshot:
    """Cancel a task before anyone has checked in; members who accepted are released and told."""
    await _place_of(pool, actor, task_id, staff_only=True)
    return _snapshot(await _update(client, task_id, TaskWorkflow.cancel,
                                   CancelInput(actor=actor.audit_name, reason=reason)))


# ---------------------------------------------------------------- reads


async def get_task(conn: Conn, actor: Actor, task_id: int) -> TaskView:
    """A task, for staff in scope and for a member it concerns (offered, theirs or claimable)."""
    await _visible_task_place(conn, actor, task_id)
    row = await task_db.select_task(conn, task_id=task_id)
    assert row is not None
    return row.view


async def list_offers(conn: Conn, actor: Actor, task_id: int) -> list[OfferView]:
    """Every offer with the parts of its score: why was I (not) chosen. Members see their own."""
    await _visible_task_place(conn, actor, task_id)
    rows = await offer_db.select_task_offers(conn, task_id=task_id)
    if actor.role is Role.member:
        rows = [r for r in rows if r.member_id == actor.scope_id]
    return rows


async def claimable_tasks(conn: Conn, actor: Actor, *, limit: int) -> list[TaskView]:
    """Open claim 认领 and post 认岗 tasks a member can sign up for: those of the community where
    they are registered (staff: those in their scope)."""
    kind, scope_id = actor.scope_kind, actor.scope_id
    if kind is ScopeKind.unit:
        raise Forbidden("报到单位无权认领任务")
    return await task_db.select_claimable(
        conn,
        member_id=scope_id if kind is ScopeKind.member else None,
        community_id=scope_id if kind is ScopeKind.community else None,
        subdistrict_id=scope_id if kind is ScopeKind.subdistrict else None,
        district_id=scope_id if kind is ScopeKind.district else None,
        limit=limit,
    )


_NOT_A_MEMBER = "仅党员本人可以查看自己的任务"


async def my_tasks(conn: Conn, actor: Actor, *, limit: int) -> list[MyTask]:
    """我的任务: what was offered to the member and what they hold, open offers first."""
    return await task_db.select_member_tasks(conn, member_id=own_member_id(actor, _NOT_A_MEMBER), task_id=None,
                                             limit=limit)


async def my_task(conn: Conn, actor: Actor, task_id: int) -> MyTask:
    """One task as the member sees it; a task never offered to them nor theirs reads as missing."""
    rows = await task_db.select_member_tasks(conn, member_id=own_member_id(actor, _NOT_A_MEMBER), task_id=task_id, limit=1)
    if not rows:
        raise _task_missing(task_id)
    return rows[0]


async def explain_member(conn: Conn, actor: Actor, task_id: int, member_id: int, *, now: datetime) -> MemberFit:
    """Why was I (not) chosen: the hard rules the member fails at the task's current level, the
    score they would get, and the offers they had. Members may ask only about themselves."""
    await _visible_task_place(conn, actor, task_id)
    if actor.role is Role.member and actor.scope_id != member_id:
        raise Forbidden("党员只能查询本人的派单情况")
    row = await task_db.select_task(conn, task_id=task_id)
    assert row is not None
    task = row.view
    level = task.escalation_level
    member = await task_db.select_member_candidate(conn, task_id=task_id, member_id=member_id,
                                                   recent_since=now - RECENT_WINDOW)
    if member is None:
        raise NotFound(f"党员 {member_id} 不存在")
    spec, city = await task_db.select_matching_task(conn, task=task, level=level)
    reasons = hard_constraint_violations(spec, member, level, city)
    offers = [r for r in await offer_db.select_task_offers(conn, task_id=task_id) if r.member_id == member_id]
    return MemberFit(task_id=task_id, member_id=member_id, level=level, eligible=not reasons, reasons=reasons,
                     score=score(spec, member, city, MatchWeights()), offers=offers)


async def task_history(conn: Conn, actor: Actor, task_id: int) -> list[TaskEventView]:
    await _visible_task_place(conn, actor, task_id, staff_only=True)
    return await task_db.select_task_events(conn, task_id=task_id)


async def ledger(conn: Conn, actor: Actor, filters: LedgerFilter, *, now: datetime) -> list[LedgerRow]:
    """The ledger 挂账销号 within the actor's scope, with the requested filters."""
    kind, scope_id = actor.scope_kind, actor.scope_id
    if kind is ScopeKind.unit:
        raise Forbidden("报到单位无权查看任务台账")
    return await task_db.select_ledger(
        conn, as_of=now,
        community_ids=[scope_id] if kind is ScopeKind.community and scope_id is not None else None,
        subdistrict_id=scope_id if kind is ScopeKind.subdistrict else None,
        district_id=scope_id if kind is ScopeKind.district else None,
        member_id=scope_id if kind is ScopeKind.member else None,
        grid_id=filters.grid_id, community_id=filters.community_id,
        status=filters.status.value if filters.status else None,
        overdue=filters.overdue, parked=filters.parked, limit=filters.limit,
        understaffed=filters.understaffed,
    )
