"""Evaluation use cases 述职评议考核, called by the API, the CLI, the demo, the bench and the
activities: start a run, compute its figures, read and export results in the reader's scope,
explain a member's grade line by line, and keep the periodic Temporal Schedules in place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
)

from activities.evaluation import write_aggregates, write_members
from db import evaluation as evaluation_db
from db.pool import Conn, Pool
from domain import campaign_unit_quota
from domain.errors import Forbidden, InvalidInput, NotFound
from domain.evaluation import Period, parse_period, partition_bounds, thresholds
from domain.local_time import LOCAL_ZONE
from domain.privacy import evaluation_phone
from domain.scope import allows, scope_filter
from reports.evaluation_workbooks import (
    AREA_COLUMNS,
    COMMUNITY_COLUMNS,
    MEMBER_COLUMNS,
    UNIT_COLUMNS,
    Column,
    WorkbookStream,
    registration_label,
)
from schemas.auth import Actor, Role, ScopeKind
from schemas.evaluation import (
    AreaResult,
    CommunityResult,
    EvaluationLevel,
    EvaluationRule,
    EvaluationRun,
    EvaluationScope,
    ExplainLine,
    MemberExplanation,
    MemberResult,
    PeriodKind,
    ResultPage,
    UnitResult,
)
from schemas.evaluation_contract import EvaluationInput, EvaluationResult, RunScope
from services.workflow_calls import put_schedule
from workflows.evaluation import EvaluationWorkflow

log = structlog.get_logger(__name__)

# Schedule id → (period kind, when it fires, Beijing time). Each evaluates the period just ended.
SCHEDULES: dict[str, tuple[PeriodKind, ScheduleCalendarSpec]] = {
    "evaluation-monthly": (PeriodKind.month, ScheduleCalendarSpec(
        day_of_month=[ScheduleRange(1)], hour=[ScheduleRange(2)], minute=[ScheduleRange(0)],
        comment="每月1日 02:00 评议上月")),
    "evaluation-quarterly": (PeriodKind.quarter, ScheduleCalendarSpec(
        month=[ScheduleRange(1), ScheduleRange(4), ScheduleRange(7), ScheduleRange(10)],
        day_of_month=[ScheduleRange(1)], hour=[ScheduleRange(3)], minute=[ScheduleRange(0)],
        comment="每季度首日 03:00 评议上季度")),
    "evaluation-yearly": (PeriodKind.year, ScheduleCalendarSpec(
        month=[ScheduleRange(1)], day_of_month=[ScheduleRange(1)], hour=[ScheduleRange(4)],
        minute=[ScheduleRange(0)], comment="每年1月1日 04:00 评议上年度")),
}


def workflow_id_for(run_id: int) -> str:
    return f"evaluation-{run_id}"


# --- starting runs ------------------------------------------------------------------------------


async def create_run(
    conn: Conn,
    *,
    period: Period | None,
    campaign_id: int | None = None,
    scope: EvaluationScope | None = None,
    rule: EvaluationRule | None = None,
) -> int:
    """A new run row for a period, or for a campaign (its window, scope and rule)."""
    if campaign_id is not None:
        campaign = await evaluation_db.select_campaign_window(conn, campaign_id=campaign_id)
        if campaign is None:
            raise NotFound(f"活动 {campaign_id} 不存在")
        period = Period(PeriodKind.campaign, f"campaign:{campaign_id}", campaign.window_start,
                        campaign.window_end)
        scope = scope or EvaluationScope(
            district_ids=list(campaign.scope_district_ids),
            subdistrict_ids=list(campaign.scope_subdistrict_ids),
            community_ids=list(campaign.scope_community_ids),
        )
        rule = rule or campaign_unit_quota.evaluation_rule(campaign.evaluation_rule, campaign.quotas)
    if period is None:
        raise InvalidInput("请指定考核期间 (如 2026-Q4) 或活动编号")
    scope = scope or EvaluationScope()
    rule = rule or EvaluationRule()
    run_id = await evaluation_db.insert_run(
        conn, campaign_id=campaign_id, period_kind=period.kind.value, period_label=period.label,
        period_start=period.start, period_end=period.end, scope=scope.model_dump(),
        rule=rule.model_dump(mode="json"), workflow_id=None,
    )
    await evaluation_db.set_run_workflow(conn, run_id=run_id, workflow_id=workflow_id_for(run_id))
    return run_id


async def start_run(
    pool: Pool,
    client: Client,
    *,
    task_queue: str,
    period: Period | None = None,
    campaign_id: int | None = None,
    scope: EvaluationScope | None = None,
    rule: EvaluationRule | None = None,
    unit_reports: bool = True,
) -> int:
    """Create the run and start `EvaluationWorkflow` (id `evaluation-{run_id}`); the run id."""
    async with pool.acquire() as conn:
        run_id = await create_run(conn, period=period, campaign_id=campaign_id, scope=scope, rule=rule)
    await client.start_workflow(
        EvaluationWorkflow.run, EvaluationInput(run_id=run_id, unit_reports=unit_reports),
        id=workflow_id_for(run_id), task_queue=task_queue,
    )
    log.info("evaluation_run_started", run_id=run_id, campaign_id=campaign_id)
    return run_id


async def start_run_as(
    pool: Pool,
    client: Client,
    actor: Actor,
    *,
    task_queue: str,
    period_text: str | None,
    campaign_id: int | None,
    scope: EvaluationScope | None = None,
    rule: EvaluationRule | None = None,
    unit_reports: bool = True,
) -> int:
    """`start_run` for a person: only an organization department starts an evaluation, and a
    district's department only inside its district."""
    if actor.role != Role.org_department:
        raise Forbidden("只有组织部可以发起述职评议考核")
    if actor.scope_kind == ScopeKind.district:
        assert actor.scope_id is not None
        scope = EvaluationScope(district_ids=[actor.scope_id])
    if (period_text is None) == (campaign_id is None):
        raise InvalidInput("请指定考核期间 (如 2026-Q4) 或活动编号, 二者选一")
    period = None
    if period_text is not None:
        try:
            period = parse_period(period_text)
        except ValueError as exc:
            raise InvalidInput(f"考核期间格式不正确: {period_text} (应为 2026-11、2026-Q4 或 2026)") from exc
    return await start_run(pool, client, task_queue=task_queue, period=period, campaign_id=campaign_id,
                           scope=scope, rule=rule, unit_reports=unit_reports)


async def wait_run(client: Client, run_id: int) -> EvaluationResult:
    """The workflow's result once it finishes."""
    handle = client.get_workflow_handle_for(EvaluationWorkflow.run, workflow_id_for(run_id))
    return await handle.result()


# --- the computation (activities and the bench call these) --------------------------------------


async def member_partitions(pool: Pool, *, partition_size: int) -> list[tuple[int, int]]:
    async with pool.acquire() as conn:
        bounds = await evaluation_db.select_member_id_bounds(conn)
    return [] if bounds is None else partition_bounds(bounds[0], bounds[1], partition_size)


async def compute_run(pool: Pool, *, run_id: int, partition_size: int = 100_000, concurrency: int = 2) -> int:
    """The whole computation without Temporal (the bench, one-off repairs): members written."""
    parts = await member_partitions(pool, partition_size=partition_size)
    members = 0
    for i in range(0, len(parts), concurrency):
        done = await asyncio.gather(*(
            write_members(pool, run_id=run_id, lo=lo, hi=hi) for lo, hi in parts[i:i + concurrency]
        ))
        members += sum(done)
    await write_aggregates(pool, run_id=run_id)
    async with pool.acquire() as conn:
        await evaluation_db.finish_run(conn, run_id=run_id, status="done", report_dir=None)
    return members


# --- schedules ----------------------------------------------------------------------------------


def _schedule(kind: PeriodKind, spec: ScheduleCalendarSpec, schedule_id: str, *, task_queue: str,
              scope: EvaluationScope | None) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            EvaluationWorkflow.run,
            EvaluationInput(period_kind=kind, scope=RunScope.model_validate((scope or EvaluationScope()).model_dump())),
            id=schedule_id, task_queue=task_queue,
        ),
        spec=ScheduleSpec(calendars=[spec], time_zone_name=LOCAL_ZONE.key),
        # A run still going when the next fires (a slow year-end) is not doubled.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_schedules(
    client: Client, *, task_queue: str, scope: EvaluationScope | None = None
) -> list[str]:
    """Create the monthly, quarterly and yearly evaluation schedules, or update them in place
    (so a changed task queue or calendar takes effect); their ids."""
    return [await put_schedule(client, schedule_id,
                               _schedule(kind, spec, schedule_id, task_queue=task_queue, scope=scope))
            for schedule_id, (kind, spec) in SCHEDULES.items()]


# --- reads --------------------------------------------------------------------------------------


async def _run_row(conn: Conn, run_id: int) -> EvaluationRun:
    run = await evaluation_db.select_run(conn, run_id=run_id)
    if run is None:
        raise NotFound(f"考核批次 {run_id} 不存在")
    return run


async def get_run(conn: Conn, *, run_id: int) -> EvaluationRun:
    return await _run_row(conn, run_id)


async def list_runs(conn: Conn, *, limit: int = 50) -> list[EvaluationRun]:
    return await evaluation_db.select_runs(conn, limit=limit)


def _f(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _member(row: Any) -> MemberResult:
    return MemberResult(
        run_id=row["run_id"], member_id=row["member_id"], name=row["name"],
        phone=evaluation_phone(row["phone"]),
        unit_id=row["unit_id"], community_id=row["community_id"], services=row["services"],
        hours=float(row["hours"]), evaluation_points=float(row["evaluation_points"]), ratings=row["ratings"],
        avg_rating=_f(row["avg_rating"]), score=float(row["score"]), quota_met=row["quota_met"],
        registration_status=row["registration_status"], registered=row["registered"], grade=row["grade"],
    )


def _unit(row: Any) -> UnitResult:
    return UnitResult.model_validate({k: row[k] for k in UnitResult.model_fields})


def _community(row: Any) -> CommunityResult:
    return CommunityResult.model_validate({k: row[k] for k in CommunityResult.model_fields})


def _area(row: Any) -> AreaResult:
    return AreaResult.model_validate({k: row[k] for k in AreaResult.model_fields})


_AREA_LEVELS = (EvaluationLevel.subdistrict, EvaluationLevel.district, EvaluationLevel.city)


def _check_level(actor: Actor, level: EvaluationLevel) -> None:
    """Unit admins and members see member (and their unit's) rows only."""
    if actor.scope_kind in (ScopeKind.unit, ScopeKind.member) and level not in (
        EvaluationLevel.member, EvaluationLevel.unit
    ):
        raise Forbidden("无权查看社区及以上的考核结果")


async def _rows(conn: Conn, actor: Actor, *, run_id: int, level: EvaluationLevel, limit: int | None,
                offset: int, unit_id: int | None = None) -> list[Any]:
    await _run_row(conn, run_id)
    _check_level(actor, level)
    if unit_id is not None and level != EvaluationLevel.member:
        raise InvalidInput("unit_id 只能与 level=member 一起使用 (查看某单位的党员结果)")
    scope = scope_filter(actor)
    if level == EvaluationLevel.member:
        return await evaluation_db.select_member_results(
            conn, run_id=run_id, scope=scope, unit_id=unit_id, limit=limit, offset=offset)
    if level == EvaluationLevel.unit:
        return await evaluation_db.select_unit_results(conn, run_id=run_id, scope=scope, limit=limit, offset=offset)
    if level == EvaluationLevel.community:
        return await evaluation_db.select_community_results(
            conn, run_id=run_id, scope=scope, limit=limit, offset=offset)
    rows = await evaluation_db.select_area_results(conn, run_id=run_id, level=level.value, scope=scope)
    return rows[offset:] if limit is None else rows[offset:offset + limit]


async def results(
    conn: Conn, actor: Actor, *, run_id: int, level: EvaluationLevel, limit: int = 100, offset: int = 0,
    unit_id: int | None = None,
) -> ResultPage:
    """One page of a level's rows in the actor's scope; member rows may be narrowed to one unit."""
    rows = await _rows(conn, actor, run_id=run_id, level=level, limit=limit, offset=offset, unit_id=unit_id)
    total = int(rows[0]["total"]) if rows and "total" in rows[0] else len(rows)
    items: Sequence[Any]
    if level == EvaluationLevel.member:
        items = [_member(r) for r in rows]
    elif level == EvaluationLevel.unit:
        items = [_unit(r) for r in rows]
    elif level == EvaluationLevel.community:
        items = [_community(r) for r in rows]
    else:
        items = [_area(r) for r in rows]
    return ResultPage(total=total, items=list(items))


_EXPORT: dict[EvaluationLevel, tuple[str, list[Column]]] = {
    EvaluationLevel.member: ("党员考核结果", MEMBER_COLUMNS),
    EvaluationLevel.unit: ("单位考核结果", UNIT_COLUMNS),
    EvaluationLevel.community: ("社区考核结果", COMMUNITY_COLUMNS),
    EvaluationLevel.subdistrict: ("街道考核结果", AREA_COLUMNS),
    EvaluationLevel.district: ("区考核结果", AREA_COLUMNS),
    EvaluationLevel.city: ("全市考核结果", AREA_COLUMNS),
}


EXPORT_PAGE = 20_000


async def export_workbook(conn: Conn, actor: Actor, *, run_id: int, level: EvaluationLevel) -> bytes:
    """All rows of `level` the actor may see, as an .xlsx (phones masked). Member rows (a city has
    a million) are read page by page and written off the event loop, so memory stays at a page."""
    run = await _run_row(conn, run_id)
    title, columns = _EXPORT[level]
    stream = WorkbookStream(title=title, caption=f"述职评议考核 {run.period_label} · {title}", columns=columns)
    if level == EvaluationLevel.member:
        _check_level(actor, level)
        after = 0
        while True:
            page = await evaluation_db.select_member_page(
                conn, run_id=run_id, scope=scope_filter(actor), after_member_id=after, limit=EXPORT_PAGE)
            if not page:
                break
            await asyncio.to_thread(stream.append, page)
            after = page[-1]["member_id"]
    else:
        stream.append(await _rows(conn, actor, run_id=run_id, level=level, limit=None, offset=0))
    return await asyncio.to_thread(stream.to_bytes)


async def unit_report_path(conn: Conn, actor: Actor, *, run_id: int, unit_id: int) -> str:
    """Where the unit's feedback workbook lies, when the actor may have it."""
    if actor.scope_kind == ScopeKind.member:
        raise Forbidden("党员个人无权下载单位反馈表")
    # Another unit's workbook, or one outside the scope, is answered as one not generated.
    missing = NotFound(f"考核批次 {run_id} 尚未生成单位 {unit_id} 的反馈表")
    if actor.scope_kind == ScopeKind.unit and actor.scope_id != unit_id:
        raise missing
    visible = await evaluation_db.select_unit_results(
        conn, run_id=run_id, scope=scope_filter(actor), limit=None, offset=0)
    if actor.scope_kind != ScopeKind.unit and not any(r["unit_id"] == unit_id for r in visible):
        raise missing
    path = await evaluation_db.select_report_path(conn, run_id=run_id, unit_id=unit_id)
    if path is None:
        raise missing
    return path


async def explain_member(conn: Conn, actor: Actor, *, run_id: int, member_id: int) -> MemberExplanation:
    """The line-by-line basis of a member's grade: each ledger row counted, each threshold."""
    run = await _run_row(conn, run_id)
    row = await evaluation_db.select_member_result(conn, run_id=run_id, member_id=member_id)
    missing = NotFound(f"考核批次 {run_id} 中没有党员 {member_id} 的结果")   # also for one outside the scope
    if row is None:
        raise missing
    if not allows(actor, row.path):
        raise missing
    f = row.figures
    t = thresholds(run.rule, run.period_start, run.period_end)
    lines = [ExplainLine(
        kind="period", label="考核期间",
        value=f"{run.period_label}: {_day(run.period_start)} 至 {_day(run.period_end)} (不含), 计 {t.months} 个月",
    )]
    for ledger in await evaluation_db.select_ledger_rows(conn, ids=list(f.ledger_ids)):
        hours = ledger.parts.get("hours", 0)
        rating = f", 居民评价 {ledger.score} 星" if ledger.score is not None else ""
        if ledger.record_started_at is not None:
            # A member's self-logged record approved by the community: no task, no rating.
            label = (f"自主服务记录 #{ledger.service_record_id}: {_day(ledger.record_started_at)} "
                     f"{ledger.record_description or ''} ({ledger.category}, 社区核实)")
        else:
            label = f"服务记录: {ledger.title} ({ledger.category})"
        lines.append(ExplainLine(
            kind="ledger", label=label,
            value=f"{_day(ledger.awarded_at)} 计 {hours} 小时, 积分 {ledger.points}{rating}",
            ledger_id=ledger.id, task_id=ledger.task_id,
        ))
    lines += [
        ExplainLine(kind="registration", label="报到状态",
                    value=f"{registration_label(f.registration_status)}"
                          + ("" if f.registered else ": 未报到(或未经社区确认)者不能评为合格"),
                    passed=f.registered),
        ExplainLine(kind="threshold", label="服务次数", passed=f.services >= t.quota_services,
                    value=f"{f.services} 次, 达标线 {t.quota_services} 次"),
        ExplainLine(kind="threshold", label="服务时长", passed=f.hours >= t.quota_hours,
                    value=f"{f.hours} 小时, 达标线 {t.quota_hours} 小时"),
        ExplainLine(kind="threshold", label="综合得分", passed=f.score >= t.excellent_score,
                    value=(f"{f.score} = {t.weight_points}×积分 {f.points}"
                           f" + {t.weight_hours}×时长 + {t.weight_services}×次数; 优秀线 {t.excellent_score}")),
        ExplainLine(kind="threshold", label="基本合格线",
                    passed=f.services >= t.basic_services and f.hours >= t.basic_hours,
                    value=f"至少 {t.basic_services} 次且 {t.basic_hours} 小时"),
        ExplainLine(kind="grade", label="等次", value=f.grade.value),
    ]
    return MemberExplanation(run_id=run_id, member_id=member_id, grade=f.grade, lines=lines)


def _day(at: datetime) -> str:
    return at.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d")
