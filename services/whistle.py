"""吹哨报到 use cases, called by both the API and the CLI: blow a whistle, list and show whistles
with their responses and history, answer for a unit, mark arrivals, close.

A whistle is written here and its `WhistleWorkflow` started after the commit; everything that
happens to a running whistle (answers, arrivals, closing) is a validated update on that workflow,
so the workflow is the one place that decides. This module checks who may ask: staff of the
whistle's community (and the subdistrict, district or city above it) blow, coordinate and close;
a unit's admin sees the whistles summoning their unit and answers them.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog
from temporalio.client import Client
from temporalio.workflow import UpdateMethodMultiParam

from db import hierarchy as hierarchy_db
from db import need as need_db
from db import whistle as whistle_db
from db.audit_log import insert_audit_entries
from db.pool import Conn, Pool
from domain import whistle as rules
from domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from domain.pii import mask_phone
from domain.scope import HierarchyPath, allows, scope_filter
from schemas.api import Page
from schemas.auth import STAFF_ROLES, Actor, Role, ScopeKind
from schemas.settings import DEFAULT_TASK_QUEUE
from schemas.whistle import (
    AnswerResult,
    ArriveResult,
    SummonView,
    WhistleAnswer,
    WhistleArrival,
    WhistleBlow,
    WhistleClose,
    WhistleDetail,
    WhistleFilter,
    WhistleSnapshot,
    WhistleView,
)
from schemas.whistle_contract import (
    AnswerInput,
    ArriveInput,
    CloseInput,
    UnitAnswer,
    UnitArrival,
    UnitResource,
    WhistlePolicy,
    WhistleState,
    WhistleWorkflowInput,
)
from services.workflow_calls import execute_update, start_once
from workflows.whistle import WhistleWorkflow, whistle_workflow_id

log = structlog.get_logger(__name__)

# A respond-by closer than this leaves units no time to read the summons.
MIN_RESPOND_WINDOW = timedelta(minutes=10)

P = TypeVar("P")
R = TypeVar("R")


def _path(whistle: WhistleView) -> HierarchyPath:
    return HierarchyPath(district_id=whistle.district_id, subdistrict_id=whistle.subdistrict_id,
                         community_id=whistle.community_id)


def _is_staff(actor: Actor, place: HierarchyPath) -> bool:
    return actor.role in STAFF_ROLES and allows(actor, place)


def _require_staff_role(actor: Actor) -> None:
    """Refused before any lookup, so the answer is the same for every id."""
    if actor.role not in STAFF_ROLES:
        raise Forbidden("无权操作: 仅吹哨社区及其所属街道、区、市的工作人员可以办理")


def _require_staff(actor: Actor, whistle: WhistleView) -> None:
    if not _is_staff(actor, _path(whistle)):
        raise Forbidden("无权操作: 仅吹哨社区及其所属街道、区、市的工作人员可以办理")


async def _whistle(conn: Conn, whistle_id: int) -> WhistleView:
    row = await whistle_db.select_whistle(conn, whistle_id=whistle_id)
    if row is None:
        raise NotFound(f"吹哨事项 {whistle_id} 不存在")
    return row


async def _visible_whistle(conn: Conn, actor: Actor, whistle_id: int) -> WhistleView:
    """The whistle when the actor may see it: staff in scope, or the admin of a summoned unit.
    Outside that it reads as missing, like every item outside a scope; members never see them."""
    if actor.role is Role.member:
        raise Forbidden("党员无权查看吹哨报到事项")
    row = await _whistle(conn, whistle_id)
    if _is_staff(actor, _path(row)):
        return row
    if actor.role is Role.unit_admin and actor.scope_kind is ScopeKind.unit and actor.scope_id in (
        await whistle_db.select_summoned_unit_ids(conn, whistle_id=whistle_id)
    ):
        return row
    raise NotFound(f"吹哨事项 {whistle_id} 不存在")


def _summon_view(view: SummonView, actor: Actor, whistle: WhistleView) -> SummonView:
    # The community coordinating on site calls the contact; a unit sees its own. Others: masked.
    coordinates = actor.role is Role.community_staff and actor.scope_id == whistle.community_id
    own = actor.role is Role.unit_admin and actor.scope_id == view.unit_id
    if not (coordinates or own):
        view = view.model_copy(update={"contact_phone": mask_phone(view.contact_phone)})
    return view


# ---------------------------------------------------------------- blow


async def blow(
    pool: Pool,
    client: Client,
    actor: Actor,
    data: WhistleBlow,
    *,
    now: datetime,
    task_queue: str = DEFAULT_TASK_QUEUE,
    policy: WhistlePolicy | None = None,
) -> WhistleView:
    """Community staff blow the whistle; the workflow summons the units after the commit."""
    respond_by = data.respond_by or rules.default_respond_by(data.urgency, now)
    if respond_by - now < MIN_RESPOND_WINDOW:
        raise InvalidInput("响应时限须至少在 10 分钟之后")
    _require_staff_role(actor)
    async with pool.acquire() as conn, conn.transaction():
        place = await hierarchy_db.select_community_path(conn, community_id=data.community_id)
        if place is None or not _is_staff(actor, place):   # another area's community reads as missing
            raise NotFound(f"社区 {data.community_id} 不存在")
        if data.grid_id is not None:
            grid_community = await need_db.select_grid_community(conn, grid_id=data.grid_id)
            if grid_community != data.community_id:
                raise InvalidInput(f"网格 {data.grid_id} 不在社区 {data.community_id}")
        whistle_id = await whistle_db.insert_whistle(
            conn, community_id=data.community_id, grid_id=data.grid_id, place=data.place, title=data.title,
            matter=data.matter, urgency=data.urgency.value, people_needed=data.people_needed,
            resources_needed=[r.model_dump(mode="json") for r in data.resources_needed], respond_by=respond_by,
            created_by=actor.audit_name, at=now,
        )
        await whistle_db.set_workflow_id(conn, whistle_id=whistle_id, workflow_id=whistle_workflow_id(whistle_id))
        await whistle_db.insert_event(
            conn, whistle_id=whistle_id, kind="blown", unit_id=None, actor=actor.audit_name,
            detail={"people_needed": data.people_needed, "respond_by": respond_by.isoformat(),
                    "urgency": data.urgency.value}, at=now, dedupe="blown")
        await insert_audit_entries(conn, actor=actor.audit_name, action="whistle_blown", subject_kind="whistle",
                                   subject_ids=[whistle_id], befores=[None],
                                   afters=[{"community_id": data.community_id, "title": data.title,
                                            "people_needed": data.people_needed}])
        row = await _whistle(conn, whistle_id)
    await start_whistle_workflow(client, whistle_id=whistle_id, people_needed=data.people_needed,
                                 respond_by=respond_by, task_queue=task_queue, policy=policy)
    log.info("whistle_blown", whistle_id=whistle_id, community_id=data.community_id,
             people_needed=data.people_needed)
    return row


async def start_whistle_workflow(
    client: Client, *, whistle_id: int, people_needed: int, respond_by: datetime,
    task_queue: str = DEFAULT_TASK_QUEUE, policy: WhistlePolicy | None = None,
) -> str:
    """Start the whistle's workflow once; calling again is a no-op."""
    return await start_once(
        client, WhistleWorkflow.run,
        WhistleWorkflowInput(whistle_id=whistle_id, people_needed=people_needed, respond_by=respond_by,
                             policy=policy or WhistlePolicy()),
        workflow_id=whistle_workflow_id(whistle_id), task_queue=task_queue)


# ---------------------------------------------------------------- reads


async def list_whistles(conn: Conn, actor: Actor, filters: WhistleFilter) -> Page[WhistleView]:
    """Whistles in the actor's scope, newest first; a unit admin sees those summoning their unit."""
    if actor.role is Role.member:
        raise Forbidden("党员无权查看吹哨报到事项")
    rows, total = await whistle_db.select_whistles(
        conn, scope=scope_filter(actor), community_id=filters.community_id,
        status=filters.status.value if filters.status else None, unit_id=filters.unit_id,
        limit=filters.limit, offset=filters.offset)
    return Page[WhistleView](items=rows, total=total, limit=filters.limit,
                             offset=filters.offset)


async def get_whistle(conn: Conn, actor: Actor, whistle_id: int) -> WhistleDetail:
    """One whistle with every unit summoned (why, when, what it answered) and its history."""
    row = await _visible_whistle(conn, actor, whistle_id)
    summons = await whistle_db.select_summons(conn, whistle_id=whistle_id)
    events = await whistle_db.select_events(conn, whistle_id=whistle_id)
    return WhistleDetail(whistle=row, responses=[_summon_view(s, actor, row) for s in summons],
                         history=events)


# ---------------------------------------------------------------- updates


async def _update(client: Client, whistle_id: int, update: UpdateMethodMultiParam[[Any, P], Awaitable[R]],
                  arg: P) -> R:
    return await execute_update(
        client, whistle_workflow_id(whistle_id), update, arg,
        not_running=Conflict("该吹哨事项的流程已结束或不存在", code="whistle_not_running"))


async def _whistle_of(pool: Pool, actor: Actor, whistle_id: int) -> WhistleView:
    """The whistle, read on a connection given back before the caller waits on the workflow."""
    async with pool.acquire() as conn:
        return await _visible_whistle(conn, actor, whistle_id)


def _unit_answer(data: WhistleAnswer) -> UnitAnswer:
    return UnitAnswer(
        unit_id=data.unit_id, accept=data.accept, people=data.people,
        resources=[UnitResource(category=r.category, quantity=r.quantity, note=r.note) for r in data.resources],
        eta=data.eta, contact_name=data.contact_name, contact_phone=data.contact_phone,
        decline_reason=data.decline_reason)


def _snapshot(state: WhistleState) -> WhistleSnapshot:
    return WhistleSnapshot(status=state.status, level=state.level, people_needed=state.people_needed,
                           people_committed=state.people_committed, units=state.units, urged=state.urged,
                           parked_reason=state.parked_reason, shortfall=state.shortfall)


async def answer(pool: Pool, client: Client, actor: Actor, whistle_id: int, data: WhistleAnswer) -> AnswerResult:
    """A unit's answer 报到响应 (or decline): its own admin, or staff in scope taking it by phone."""
    row = await _whistle_of(pool, actor, whistle_id)
    if actor.role is Role.unit_admin:
        if actor.scope_id != data.unit_id:
            raise Forbidden("单位管理员只能为本单位报到响应")
    else:
        _require_staff(actor, row)
    answered = await _update(client, whistle_id, WhistleWorkflow.answer,
                             AnswerInput(answer=_unit_answer(data), actor=actor.audit_name))
    return AnswerResult(unit_id=answered.unit_id, status=answered.status,
                        people_committed=answered.people_committed, people_needed=answered.people_needed)


async def arrive(pool: Pool, client: Client, actor: Actor, whistle_id: int, data: WhistleArrival) -> ArriveResult:
    """The community marks a unit's people on site 到岗."""
    _require_staff_role(actor)
    _require_staff(actor, await _whistle_of(pool, actor, whistle_id))
    arrived = await _update(client, whistle_id, WhistleWorkflow.arrive,
                            ArriveInput(arrival=UnitArrival(unit_id=data.unit_id, people=data.people),
                                        actor=actor.audit_name))
    return ArriveResult(unit_id=arrived.unit_id, people=arrived.people, status=arrived.status)


async def close(pool: Pool, client: Client, actor: Actor, whistle_id: int, data: WhistleClose) -> WhistleSnapshot:
    """办结 with a summary (parked whistles too)."""
    _require_staff_role(actor)
    _require_staff(actor, await _whistle_of(pool, actor, whistle_id))
    return _snapshot(await _update(client, whistle_id, WhistleWorkflow.close,
                                   CloseInput(summary=data.summary, actor=actor.audit_name)))
