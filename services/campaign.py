"""Campaign use cases, called by the API and the CLI.

Only an organization department (city, or a district within its own district) creates, launches
and steers campaigns; everyone else reads the campaigns that cover their part of the hierarchy.
Launching commits the campaign (status, resolved scope, history) and then starts its workflow;
every later change (pause, resume, extend, cancel, close, mobilise) is an update of that
workflow, validated there against the lifecycle rules.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import asdict
from datetime import datetime
from typing import Any, TypedDict, TypeVar

import structlog
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.workflow import UpdateMethodMultiParam

from db import campaign as campaign_db
from db import campaign_progress as progress_db
from db import campaign_unit_quota as unit_quota_db
from db import campaign_wave as wave_db
from db.campaign import CampaignRow
from db.pool import Conn, Pool
from domain import campaign_rules as rules
from domain import campaign_unit_quota as unit_quota
from domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from domain.quota import periods
from schemas.api import GroupPageRequest
from schemas.auth import Actor, Role, ScopeKind
from schemas.campaign import (
    CampaignCreate,
    CampaignEventView,
    CampaignProgress,
    CampaignScope,
    CampaignStatus,
    CampaignStatusResult,
    CampaignView,
    MobilisePreview,
    MobiliseResult,
    ProgressLevel,
    Quotas,
    UnitQuotaProgress,
    UnitQuotaRow,
    WaveProgress,
)
from schemas.campaign_contract import (
    CampaignStatusChanged,
    CampaignWorkflowInput,
    CancelInput,
    CloseInput,
    ExtendInput,
    MobiliseInput,
    PauseInput,
    ResumeInput,
)
from schemas.dispatch import TaskMode
from schemas.evaluation import EvaluationRule
from schemas.settings import DEFAULT_TASK_QUEUE
from services import dispatch as dispatch_service
from services.workflow_calls import execute_update, start_once
from workflows.campaign import CampaignWorkflow, campaign_workflow_id

log = structlog.get_logger(__name__)

# Units behind the unit quota listed in a progress report (the count covers all of them).
BEHIND_LIST_LIMIT = 100
P = TypeVar("P")
R = TypeVar("R")


def _view(row: CampaignRow) -> CampaignView:
    return CampaignView.model_validate({
        **asdict(row),
        "scope": CampaignScope(district_ids=row.scope_district_ids,
                               subdistrict_ids=row.scope_subdistrict_ids,
                               community_ids=row.scope_community_ids),
    })


def _require_org(actor: Actor) -> None:
    if actor.role is not Role.org_department or actor.scope_kind not in (ScopeKind.city, ScopeKind.district):
        raise Forbidden("只有市、区组织部可以发起和管理活动")


def _require_launcher(actor: Actor, row: CampaignRow) -> None:
    """Another district's campaign is answered as a missing one (its id confirms nothing)."""
    _require_org(actor)
    if actor.scope_kind is ScopeKind.district and row.launched_by_id != actor.scope_id:
        raise NotFound(f"活动 {row.id} 不存在")


async def _campaign(conn: Conn, campaign_id: int) -> CampaignRow:
    row = await campaign_db.select_campaign(conn, campaign_id=campaign_id)
    if row is None:
        raise NotFound(f"活动 {campaign_id} 不存在")
    return row


async def _readable(conn: Conn, actor: Actor, campaign_id: int) -> CampaignRow:
    row = await _campaign(conn, campaign_id)
    if actor.scope_kind is ScopeKind.city:
        return row
    if actor.role is Role.org_department and row.launched_by_id == actor.scope_id:
        return row
    if not await campaign_db.campaign_covers(conn, campaign_id=campaign_id, scope_kind=actor.scope_kind.value,
                                             scope_id=actor.scope_id):
        raise NotFound(f"活动 {campaign_id} 不存在")   # outside the scope looks like absent
    return row


async def create_campaign(conn: Conn, actor: Actor, data: CampaignCreate, *, now: datetime) -> CampaignView:
    """A draft campaign; nothing runs until it is launched."""
    async with conn.transaction():
        _require_org(actor)
        rules.validate_create(data, now=now)
        try:
            # Kept opaque in the campaign row; the evaluation engineers' model says what is valid.
            EvaluationRule.model_validate(data.evaluation_rule)
        except ValidationError as err:
            raise InvalidInput(f"考核规则无效: {err.errors()[0]['msg']}") from err
        unit_quota.validate(quotas=data.quotas, registration_deadline=data.registration_deadline,
                            policy=data.reminder_policy, evaluation_rule=data.evaluation_rule)
        scope = data.scope
        if actor.scope_kind is ScopeKind.district:
            assert actor.scope_id is not None
            if any(d != actor.scope_id for d in scope.district_ids) or await campaign_db.scope_outside_district(
                    conn, district_id=actor.scope_id, subdistrict_ids=scope.subdistrict_ids,
                    community_ids=scope.community_ids):
                raise Forbidden("区组织部只能在本区范围内发起活动")
        row = await campaign_db.insert_campaign(
            conn, name=data.name, kind=data.kind,
            launched_by_kind=actor.scope_kind.value,
            launched_by_id=actor.scope_id if actor.scope_kind is ScopeKind.district else None,
            district_ids=scope.district_ids, subdistrict_ids=scope.subdistrict_ids,
            community_ids=scope.community_ids, window_start=data.window_start, window_end=data.window_end,
            registration_deadline=data.registration_deadline, quotas=data.quotas.model_dump(mode="json"),
            reminder_policy=data.reminder_policy.model_dump(mode="json"),
            evaluation_rule=data.evaluation_rule, redeemable=data.redeemable, emergency=data.emergency,
            created_by=actor.audit_name, at=now,
        )
        await campaign_db.insert_campaign_event(conn, campaign_id=row.id, kind="create", from_status=None,
                                                to_status="draft", actor=actor.audit_name, detail={}, at=now)
        log.info("campaign_created", campaign_id=row.id)
        return _view(row)


async def launch_campaign(
    pool: Pool, client: Client, actor: Actor, campaign_id: int, *, now: datetime,
    task_queue: str = DEFAULT_TASK_QUEUE,
) -> CampaignView:
    """Draft → launched: resolve the scope, record it, then start the campaign's workflow."""
    _require_org(actor)   # other roles are refused before any lookup
    async with pool.acquire() as conn, conn.transaction():
        row = await _campaign(conn, campaign_id)
        _require_launcher(actor, row)
        rules.check("launch", CampaignStatus(row.status))
        communities = await campaign_db.resolve_scope(conn, campaign_id=campaign_id)
        await campaign_db.update_campaign_status(
            conn, campaign_id=campaign_id, from_statuses=["draft"], to_status="launched",
            window_end=None, registration_deadline=None, at=now)
        await campaign_db.set_workflow_id(conn, campaign_id=campaign_id,
                                          workflow_id=campaign_workflow_id(campaign_id))
        await campaign_db.insert_campaign_event(
            conn, campaign_id=campaign_id, kind="launch", from_status="draft", to_status="launched",
            actor=actor.audit_name, detail={"communities": communities}, at=now)
    await start_campaign_workflow(client, campaign_id=campaign_id, task_queue=task_queue)
    log.info("campaign_launched", campaign_id=campaign_id, communities=communities)
    async with pool.acquire() as conn:
        return _view(await _campaign(conn, campaign_id))


async def start_campaign_workflow(client: Client, *, campaign_id: int, task_queue: str = DEFAULT_TASK_QUEUE) -> str:
    """Start the campaign's workflow once; calling again (a retried launch) is a no-op."""
    return await start_once(client, CampaignWorkflow.run, CampaignWorkflowInput(campaign_id=campaign_id),
                            workflow_id=campaign_workflow_id(campaign_id), task_queue=task_queue)


async def _update(client: Client, campaign_id: int, update: UpdateMethodMultiParam[[Any, P], Awaitable[R]],
                  arg: P) -> R:
    """Send a validated update to the campaign's workflow; a refusal becomes a Conflict."""
    return await execute_update(
        client, campaign_workflow_id(campaign_id), update, arg,
        not_running=Conflict("该活动的流程已结束或尚未发布", code="campaign_not_running"))


async def _launched(pool: Pool, actor: Actor, campaign_id: int) -> CampaignRow:
    """The campaign, checked to be the actor's to steer, read on a connection given back before
    the caller waits on the workflow."""
    _require_org(actor)   # other roles are refused before any lookup
    async with pool.acquire() as conn:
        row = await _campaign(conn, campaign_id)
    _require_launcher(actor, row)
    return row


async def _steer(pool: Pool, client: Client, actor: Actor, campaign_id: int, action: str,
                 update: UpdateMethodMultiParam[[Any, P], Awaitable[CampaignStatusChanged]],
                 arg: P) -> CampaignStatusResult:
    """Check `action` (domain.campaign_rules) against the stored status, then send `update`."""
    row = await _launched(pool, actor, campaign_id)
    rules.check(action, CampaignStatus(row.status))
    changed = await _update(client, campaign_id, update, arg)
    return CampaignStatusResult(campaign_id=changed.campaign_id, status=changed.status,
                                window_end=changed.window_end, registration_deadline=changed.registration_deadline)


async def pause(pool: Pool, client: Client, actor: Actor, campaign_id: int, reason: str) -> CampaignStatusResult:
    return await _steer(pool, client, actor, campaign_id, "pause", CampaignWorkflow.pause,
                        PauseInput(actor=actor.audit_name, reason=reason))


async def resume(pool: Pool, client: Client, actor: Actor, campaign_id: int) -> CampaignStatusResult:
    return await _steer(pool, client, actor, campaign_id, "resume", CampaignWorkflow.resume,
                        ResumeInput(actor=actor.audit_name))


async def extend(pool: Pool, client: Client, actor: Actor, campaign_id: int, *, window_end: datetime | None,
                 registration_deadline: datetime | None) -> CampaignStatusResult:
    return await _steer(pool, client, actor, campaign_id, "extend", CampaignWorkflow.extend,
                        ExtendInput(actor=actor.audit_name, window_end=window_end,
                                    registration_deadline=registration_deadline))


async def cancel(pool: Pool, client: Client, actor: Actor, campaign_id: int, reason: str,
                 *, now: datetime) -> CampaignStatusResult:
    _require_org(actor)   # other roles are refused before any lookup
    async with pool.acquire() as conn, conn.transaction():
        row = await _campaign(conn, campaign_id)
        _require_launcher(actor, row)
        if row.status == "draft":
            # A draft has no workflow yet: cancel it in place.
            changed = await campaign_db.update_campaign_status(
                conn, campaign_id=campaign_id, from_statuses=["draft"], to_status="cancelled",
                window_end=None, registration_deadline=None, at=now)
            if changed is None:
                raise Conflict("活动状态已变化, 请刷新后重试")
            await campaign_db.insert_campaign_event(conn, campaign_id=campaign_id, kind="cancel",
                                                    from_status="draft", to_status="cancelled",
                                                    actor=actor.audit_name, detail={"reason": reason}, at=now)
            return CampaignStatusResult(campaign_id=campaign_id, status=CampaignStatus.cancelled,
                                        window_end=row.window_end,
                                        registration_deadline=row.registration_deadline)
    return await _steer(pool, client, actor, campaign_id, "cancel", CampaignWorkflow.cancel,
                        CancelInput(actor=actor.audit_name, reason=reason))


async def close(pool: Pool, client: Client, actor: Actor, campaign_id: int) -> CampaignStatusResult:
    return await _steer(pool, client, actor, campaign_id, "close", CampaignWorkflow.close,
                        CloseInput(actor=actor.audit_name))


async def mobilise(pool: Pool, client: Client, actor: Actor, campaign_id: int, data: MobiliseInput, *,
                   task_queue: str = DEFAULT_TASK_QUEUE) -> MobiliseResult:
    """平急转换: one task per grid in the campaign's scope, staffed by batch matching.

    The campaign workflow records the tasks and their batch-matched offers (as wave 1 at grid
    level) in one transaction; then each task's TaskWorkflow is started here, and its first wave
    adopts those offers instead of ranking again, so members can answer, offers expire and
    unanswered tasks climb the ladder like any other task. Starting is idempotent, so calling
    `start_mobilised_tasks` again after a crash between the two steps loses nothing.
    """
    row = await _launched(pool, actor, campaign_id)
    rules.check("mobilise", CampaignStatus(row.status))
    done = await _update(client, campaign_id, CampaignWorkflow.mobilise,
                         data.model_copy(update={"actor": actor.audit_name}))
    await start_mobilised_tasks(pool, client, campaign_id, task_queue=task_queue)
    return MobiliseResult(tasks_created=done.tasks_created, offers=done.offers, unfilled_slots=done.unfilled_slots)


async def mobilise_preview(conn: Conn, actor: Actor, campaign_id: int, *, headcount: int) -> MobilisePreview:
    """How many grids and tasks a mobilisation would touch, for its confirmation; the same checks
    as `mobilise` (the launcher, a status that allows it), and nothing changes."""
    _require_org(actor)   # other roles are refused before any lookup
    row = await _campaign(conn, campaign_id)
    _require_launcher(actor, row)
    status = CampaignStatus(row.status)
    rules.check("mobilise", status)
    counts = await campaign_db.count_mobilise_scope(conn, campaign_id=campaign_id)
    return MobilisePreview(
        campaign_id=campaign_id, status=status, communities=counts.communities, grids=counts.grids,
        tasks=counts.grids, slots=counts.grids * headcount, candidates=counts.candidates,
        open_mobilised_tasks=counts.open_tasks)


async def start_mobilised_tasks(pool: Pool, client: Client, campaign_id: int, *,
                                task_queue: str = DEFAULT_TASK_QUEUE) -> int:
    """Start the TaskWorkflow of every mobilised task still open (idempotent); returns how many.

    One start after another: the server's workflow start rate (about 20/s on the embedded dev
    server) is the limit of a city-wide burst either way.
    """
    async with pool.acquire() as conn:
        tasks = await campaign_db.select_open_campaign_tasks(conn, campaign_id=campaign_id)
    for task in tasks:
        await dispatch_service.start_task_workflow(
            client, task_id=task.id, mode=TaskMode(task.mode), headcount=task.headcount,
            window_start=task.window_start, window_end=task.window_end, task_queue=task_queue)
    return len(tasks)


async def get_campaign(conn: Conn, actor: Actor, campaign_id: int) -> CampaignView:
    return _view(await _readable(conn, actor, campaign_id))


async def list_campaigns(conn: Conn, actor: Actor, *, limit: int) -> list[CampaignView]:
    district = actor.scope_id if actor.scope_kind is ScopeKind.district else None
    rows = await campaign_db.select_campaigns(conn, district_id=district, limit=limit)
    if actor.scope_kind in (ScopeKind.city, ScopeKind.district):
        return [_view(r) for r in rows]
    found = []
    for row in rows:
        if await campaign_db.campaign_covers(conn, campaign_id=row.id, scope_kind=actor.scope_kind.value,
                                             scope_id=actor.scope_id):
            found.append(_view(row))
    return found


async def campaign_events(conn: Conn, actor: Actor, campaign_id: int) -> list[CampaignEventView]:
    await _readable(conn, actor, campaign_id)
    return await campaign_db.select_campaign_events(conn, campaign_id=campaign_id)


async def waves(conn: Conn, campaign_id: int) -> list[WaveProgress]:
    """The campaign's waves with partitions done/total (what a progress display polls)."""
    return await wave_db.select_waves(conn, campaign_id=campaign_id)


class _Area(TypedDict):
    """The part of the hierarchy a progress reader sees (at most one id set; none: the city)."""

    district_id: int | None
    subdistrict_id: int | None
    community_id: int | None


async def progress(conn: Conn, actor: Actor, campaign_id: int, level: ProgressLevel, *,
                   now: datetime, page: GroupPageRequest | None = None) -> CampaignProgress:
    """Registered, served, behind quota (current period), reminded per step, tasks — per
    district/subdistrict/community, limited to the actor's part of the hierarchy (every group,
    or `page` of them sorted as it asks)."""
    if actor.scope_kind in (ScopeKind.unit, ScopeKind.member):
        raise Forbidden("活动进度仅向组织部、街道和社区开放")
    row = await _readable(conn, actor, campaign_id)
    quotas = Quotas.model_validate(row.quotas)
    period_start: datetime | None = None
    if quotas.has_service_quota:
        found = [p for p in periods(row.window_start, row.window_end, quotas.period) if p.start <= now]
        period_start = found[-1].start if found else None
    area: _Area = {
        "district_id": actor.scope_id if actor.scope_kind is ScopeKind.district else None,
        "subdistrict_id": actor.scope_id if actor.scope_kind is ScopeKind.subdistrict else None,
        "community_id": actor.scope_id if actor.scope_kind is ScopeKind.community else None,
    }
    total, rows = await progress_db.select_progress(
        conn, campaign_id=campaign_id, level=level.value, **area,
        period_start=period_start, as_of=now,
        min_services=quotas.min_services or 0, min_hours=quotas.min_hours or 0.0, page=page,
    )
    units = None
    if quotas.min_unit_registration_rate is not None:
        units = await unit_quota_progress(conn, campaign_id, quotas.min_unit_registration_rate, **area)
    return CampaignProgress(campaign_id=campaign_id, status=CampaignStatus(row.status), level=level,
                            total=total, rows=rows,
                            waves=await waves(conn, campaign_id), unit_quota=units)


async def unit_quota_progress(
    conn: Conn, campaign_id: int, rate: float, *, district_id: int | None = None,
    subdistrict_id: int | None = None, community_id: int | None = None,
) -> UnitQuotaProgress:
    """Units with members living in the area, those below the unit quota now (largest shortfall
    first) and the unit reminders sent per step."""
    counts = await unit_quota_db.select_unit_counts(
        conn, campaign_id=campaign_id, district_id=district_id, subdistrict_id=subdistrict_id,
        community_id=community_id)
    behind = sorted(
        (UnitQuotaRow(unit_id=u.unit_id, name=u.name, members=u.members, registered=u.registered,
                      registration_rate=round(u.registered / u.members, 4),
                      shortfall=unit_quota.shortfall(members=u.members, registered=u.registered, rate=rate))
         for u in counts if unit_quota.is_behind(members=u.members, registered=u.registered, rate=rate)),
        key=lambda r: (-r.shortfall, r.unit_id))
    reminded = await unit_quota_db.count_unit_reminders_by_step(
        conn, ladder=unit_quota.ladder_name(campaign_id), unit_ids=[u.unit_id for u in counts])
    return UnitQuotaProgress(min_rate=rate, units=len(counts), units_behind=len(behind), reminded=reminded,
                             behind=behind[:BEHIND_LIST_LIMIT])
