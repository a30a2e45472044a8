"""CLI commands for campaigns: `campaign create|launch|list|show|progress|pause|resume|extend|
cancel|close|mobilise`.

Runs as the system actor (the city organization department). `campaign progress ID --watch`
shows a live progress bar of the running reminder wave (partitions done / total), polling the
database, then the per-level table.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.context import Runtime, run_job
from domain import local_time
from domain.campaign_rules import STATUS_LABELS
from domain.campaign_unit_quota import percent_label
from domain.reminder_ladder import STEP_LABELS
from schemas.auth import SYSTEM_ACTOR
from schemas.campaign import (
    CampaignCreate,
    CampaignProgress,
    CampaignScope,
    CampaignStatusResult,
    ProgressLevel,
    QuotaPeriod,
    Quotas,
    ReminderPolicy,
    UnitQuotaProgress,
    WaveProgress,
)
from schemas.campaign_contract import MobiliseInput
from schemas.registration import ReminderStep
from schemas.settings import Settings
from services import campaign as campaign_service

campaign_app = typer.Typer(help="活动 (campaigns: launch, reminders, progress)", no_args_is_help=True)
IdArg = Annotated[int, typer.Argument(min=1, help="活动编号")]
_DEADLINE_LABELS = {"registration": "报到截止", "quota": "服务指标"}



def _ids(text: str | None) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()] if text else []


@campaign_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="活动名称")],
    kind: Annotated[str, typer.Option(help="活动类型, 如 在职党员进社区")] = "在职党员进社区",
    days: Annotated[int, typer.Option(min=1, help="活动天数 (从现在起)")] = 90,
    registration_days: Annotated[int | None, typer.Option(min=0, help="报到截止 (距今天数)")] = 30,
    districts: Annotated[str | None, typer.Option(help="区编号, 逗号分隔")] = None,
    subdistricts: Annotated[str | None, typer.Option(help="街道编号, 逗号分隔")] = None,
    communities: Annotated[str | None, typer.Option(help="社区编号, 逗号分隔")] = None,
    min_services: Annotated[int | None, typer.Option(min=1, help="每期最少服务次数")] = None,
    min_hours: Annotated[float | None, typer.Option(min=0.5, help="每期最少服务时长")] = None,
    period: Annotated[QuotaPeriod, typer.Option(help="考核期 month/quarter")] = QuotaPeriod.quarter,
    min_unit_rate: Annotated[float | None, typer.Option(
        min=0.01, max=1.0, help="单位党员报到率下限, 如 0.95 (报到截止起督促未达标单位)")] = None,
    policy: Annotated[Path | None, typer.Option(help="督促阶梯 JSON 文件 (ReminderPolicy)")] = None,
    emergency: Annotated[bool, typer.Option(help="应急动员活动")] = False,
) -> None:
    """创建活动草稿 (create a draft campaign)."""
    now = local_time.now()
    data = CampaignCreate(
        name=name, kind=kind,
        scope=CampaignScope(district_ids=_ids(districts), subdistrict_ids=_ids(subdistricts),
                            community_ids=_ids(communities)),
        window_start=now, window_end=now + timedelta(days=days),
        registration_deadline=now + timedelta(days=registration_days) if registration_days is not None else None,
        quotas=Quotas(period=period, min_services=min_services, min_hours=min_hours,
                      min_unit_registration_rate=min_unit_rate),
        reminder_policy=ReminderPolicy.model_validate(json.loads(policy.read_text("utf-8"))) if policy
        else ReminderPolicy(),
        emergency=emergency,
    )

    async def job(rt: Runtime) -> str:
        async with rt.pool.acquire() as conn:
            view = await campaign_service.create_campaign(conn, SYSTEM_ACTOR, data, now=now)
        return f"活动 {view.id} 已创建 (草稿): {view.name}"

    typer.echo(run_job(job))


@campaign_app.command("launch")
def launch(campaign_id: IdArg) -> None:
    """发布活动并启动其流程 (launch)."""

    async def job(rt: Runtime) -> str:
        view = await campaign_service.launch_campaign(rt.pool, rt.client, SYSTEM_ACTOR, campaign_id,
                                                      now=local_time.now(), task_queue=Settings().task_queue)
        return f"活动 {view.id} 已发布, 状态: {STATUS_LABELS[view.status]}"

    typer.echo(run_job(job))


@campaign_app.command("list")
def list_campaigns(limit: Annotated[int, typer.Option(min=1, max=500)] = 50) -> None:
    """活动列表."""

    async def job(rt: Runtime) -> Table:
        async with rt.pool.acquire() as conn:
            rows = await campaign_service.list_campaigns(conn, SYSTEM_ACTOR, limit=limit)
        table = Table("编号", "名称", "类型", "状态", "开始", "结束", "报到截止", title="活动")
        for c in rows:
            table.add_row(str(c.id), c.name, c.kind, STATUS_LABELS[c.status], f"{c.window_start:%Y-%m-%d}",
                          f"{c.window_end:%Y-%m-%d}",
                          f"{c.registration_deadline:%Y-%m-%d}" if c.registration_deadline else "")
        return table

    Console().print(run_job(job))


def _wave_label(w: WaveProgress) -> str:
    return f"{_DEADLINE_LABELS[w.deadline_kind.value]} 第{w.period + 1}期 {STEP_LABELS[w.step]}"


def progress_table(report: CampaignProgress) -> Table:
    steps = sorted({s for r in report.rows for s in r.reminded})
    table = Table("编号", "名称", "党员", "已报到", "已服务", "未达标", *[f"{STEP_LABELS.get(s, s)}" for s in steps],  # type: ignore[call-overload]
                  "任务进行中", "任务完成", "挂账", title=f"活动 {report.campaign_id} 进度 ({STATUS_LABELS[report.status]})")
    for r in report.rows:
        table.add_row(str(r.level_id), r.name, str(r.members), str(r.registered), str(r.served), str(r.behind_quota),
                      *[str(r.reminded.get(s, 0)) for s in steps], str(r.tasks_open), str(r.tasks_done),
                      str(r.tasks_parked))
    return table


@campaign_app.command("progress")
def progress(
    campaign_id: IdArg,
    level: Annotated[ProgressLevel, typer.Option(help="district / subdistrict / community")] = ProgressLevel.district,
    watch: Annotated[bool, typer.Option(help="跟踪正在进行的提醒批次直到完成")] = False,
    interval: Annotated[float, typer.Option(min=0.2, help="刷新间隔 (秒)")] = 1.0,
) -> None:
    """活动进度: 报到、服务、未达标、各级提醒、任务 (with --watch: a live bar per running wave)."""
    console = Console()

    async def job(rt: Runtime) -> CampaignProgress:
        if watch:
            await _watch(rt, campaign_id, interval)
        async with rt.pool.acquire() as conn:
            return await campaign_service.progress(conn, SYSTEM_ACTOR, campaign_id, level, now=local_time.now())

    report = run_job(job)
    console.print(progress_table(report))
    waves = Table("批次", "期限", "分区", "未完成", "已提醒", "单位/社区通知", "完成时间", title="提醒批次")
    for w in report.waves:
        waves.add_row(str(w.wave_id), _wave_label(w), f"{w.partitions_done}/{w.partitions_total}", str(w.behind),
                      str(w.reminded), str(w.groups_reminded),
                      f"{w.finished_at:%Y-%m-%d %H:%M:%S}" if w.finished_at else "进行中")
    console.print(waves)
    if report.unit_quota is not None:
        console.print(unit_quota_table(report.unit_quota))


def unit_quota_table(units: UnitQuotaProgress) -> Table:
    """The units below the unit quota, largest shortfall first, and the unit reminders per step."""
    sent = ", ".join(f"{STEP_LABELS[ReminderStep(step)]} {n}" for step, n in sorted(units.reminded.items())) or "无"
    table = Table("单位编号", "单位", "党员", "已报到", "报到率", "还差", title=(
        f"单位报到率未达 {percent_label(units.min_rate)} 的单位: {units.units_behind}/{units.units} (已督促: {sent})"))
    for u in units.behind:
        table.add_row(str(u.unit_id), u.name, str(u.members), str(u.registered),
                      f"{u.registration_rate:.1%}", str(u.shortfall))
    return table


async def _watch(rt: Runtime, campaign_id: int, interval: float) -> None:
    """Poll the campaign's waves and draw partitions done/total until none is running."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("已提醒 {task.fields[reminded]}"), TimeElapsedColumn()) as bar:
        shown: dict[int, TaskID] = {}
        while True:
            async with rt.pool.acquire() as conn:
                waves = await campaign_service.waves(conn, campaign_id)
            for w in waves:
                if w.wave_id not in shown:
                    shown[w.wave_id] = bar.add_task(_wave_label(w), total=w.partitions_total, reminded=0)
                bar.update(shown[w.wave_id], completed=w.partitions_done, reminded=w.reminded)
            if all(w.finished_at is not None for w in waves):
                return
            await asyncio.sleep(interval)


def _steer(job: Callable[[Runtime], Awaitable[CampaignStatusResult]]) -> None:
    result = run_job(job)
    typer.echo(f"活动 {result.campaign_id}: {STATUS_LABELS[result.status]}, 结束时间 {result.window_end:%Y-%m-%d %H:%M}")


@campaign_app.command("pause")
def pause(campaign_id: IdArg, reason: Annotated[str, typer.Option(help="暂停原因")] = "") -> None:
    """暂停活动 (提醒停止, 恢复后补发)."""

    async def job(rt: Runtime) -> CampaignStatusResult:
        return await campaign_service.pause(rt.pool, rt.client, SYSTEM_ACTOR, campaign_id, reason)

    _steer(job)


@campaign_app.command("resume")
def resume(campaign_id: IdArg) -> None:
    """恢复活动."""

    async def job(rt: Runtime) -> CampaignStatusResult:
        return await campaign_service.resume(rt.pool, rt.client, SYSTEM_ACTOR, campaign_id)

    _steer(job)


@campaign_app.command("extend")
def extend(campaign_id: IdArg,
           days: Annotated[int | None, typer.Option(min=1, help="结束时间延后天数")] = None,
           registration_days: Annotated[int | None, typer.Option(min=1, help="报到截止延后天数")] = None) -> None:
    """活动延期 (结束时间或报到截止)."""

    async def job(rt: Runtime) -> CampaignStatusResult:
        async with rt.pool.acquire() as conn:
            view = await campaign_service.get_campaign(conn, SYSTEM_ACTOR, campaign_id)
        deadline = view.registration_deadline
        return await campaign_service.extend(
            rt.pool, rt.client, SYSTEM_ACTOR, campaign_id,
            window_end=view.window_end + timedelta(days=days) if days else None,
            registration_deadline=deadline + timedelta(days=registration_days)
            if registration_days and deadline else None)

    _steer(job)


@campaign_app.command("cancel")
def cancel(campaign_id: IdArg, reason: Annotated[str, typer.Option(help="撤销原因")]) -> None:
    """撤销活动."""

    async def job(rt: Runtime) -> CampaignStatusResult:
        return await campaign_service.cancel(rt.pool, rt.client, SYSTEM_ACTOR, campaign_id, reason, now=local_time.now())

    _steer(job)


@campaign_app.command("close")
def close(campaign_id: IdArg) -> None:
    """立即结束活动并转入考核."""

    async def job(rt: Runtime) -> CampaignStatusResult:
        return await campaign_service.close(rt.pool, rt.client, SYSTEM_ACTOR, campaign_id)

    _steer(job)


@campaign_app.command("mobilise")
def mobilise(campaign_id: IdArg,
             title: Annotated[str, typer.Option(help="任务名称")] = "应急动员",
             category: Annotated[str, typer.Option(help="类别")] = "疫情防控",
             headcount: Annotated[int, typer.Option(min=1, max=50, help="每个网格人数")] = 2,
             hours: Annotated[int, typer.Option(min=1, help="任务时长 (小时)")] = 24) -> None:
    """平急转换: 向活动范围内每个网格派发一项任务并批量匹配党员."""

    async def job(rt: Runtime) -> str:
        result = await campaign_service.mobilise(
            rt.pool, rt.client, SYSTEM_ACTOR, campaign_id,
            MobiliseInput(actor=SYSTEM_ACTOR.audit_name, title=title, category=category,
                          headcount=headcount, hours=hours))
        return f"已派发 {result.tasks_created} 项任务, 发出 {result.offers} 个邀请, {result.unfilled_slots} 个岗位暂无人选"

    typer.echo(run_job(job))


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root command."""
    app.add_typer(campaign_app, name="campaign")
