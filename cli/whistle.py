"""CLI commands for 吹哨报到: `whistle blow|list|show|answer|arrive|close`.

The CLI runs as the system actor (the city organization department): it may blow a whistle for a
community and answer for a unit (e.g. a unit that phoned in its answer), like staff in the API.
Refusals print the workflow's Chinese message and exit with status 1.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.context import Runtime, run_job
from domain import local_time
from domain.whistle import BASIS_LABELS, LEVEL_LABELS, STATUS_LABELS, SUMMON_LABELS
from schemas.auth import SYSTEM_ACTOR
from schemas.dispatch import Urgency
from schemas.settings import Settings
from schemas.whistle import (
    ResourceCategory,
    ResourceItem,
    WhistleAnswer,
    WhistleArrival,
    WhistleBlow,
    WhistleClose,
    WhistleFilter,
    WhistleStatus,
)
from services import whistle as whistle_service

whistle_app = typer.Typer(help="吹哨报到 (a community summons its reporting units)", no_args_is_help=True)

UnitOpt = Annotated[int, typer.Option("--unit", min=1, help="报到单位编号")]
ResourceOpt = Annotated[list[str] | None, typer.Option(
    "--resource", help="资源, 形如 类别:数量[:说明], 可重复; 类别: " + "、".join(c.value for c in ResourceCategory))]



def _resources(specs: list[str] | None) -> list[ResourceItem]:
    """`抽排设备:2:大功率` → one resource item; a bad line is a usage error."""
    items = []
    for spec in specs or []:
        parts = spec.split(":", 2)
        try:
            items.append(ResourceItem(category=ResourceCategory(parts[0]),
                                      quantity=int(parts[1]) if len(parts) > 1 else 1,
                                      note=parts[2] if len(parts) > 2 else ""))
        except ValueError as err:
            raise typer.BadParameter(f"资源「{spec}」无效: 应为 类别:数量[:说明]") from err
    return items


def _aware(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


@whistle_app.command("blow")
def blow(
    community: Annotated[int, typer.Option(min=1, help="吹哨社区编号")],
    title: Annotated[str, typer.Option(help="事项名称")],
    matter: Annotated[str, typer.Option(help="事项说明")],
    people: Annotated[int, typer.Option(min=1, help="所需人数")],
    grid: Annotated[int | None, typer.Option(min=1, help="网格编号")] = None,
    place: Annotated[str, typer.Option(help="地点")] = "",
    urgency: Annotated[Urgency, typer.Option(help="紧急程度 red/yellow/blue (决定默认响应时限)")] = Urgency.red,
    respond_within: Annotated[float | None, typer.Option(min=0.2, help="响应时限 (小时); 默认按紧急程度")] = None,
    resource: ResourceOpt = None,
) -> None:
    """社区吹哨 (blow the whistle: the community's reporting units are summoned)."""
    now = local_time.now()
    data = WhistleBlow(community_id=community, grid_id=grid, place=place, title=title, matter=matter, urgency=urgency,
                       people_needed=people, resources_needed=_resources(resource),
                       respond_by=now + timedelta(hours=respond_within) if respond_within else None)

    async def job(rt: Runtime) -> str:
        view = await whistle_service.blow(rt.pool, rt.client, SYSTEM_ACTOR, data, now=now,
                                          task_queue=Settings().task_queue)
        return (f"吹哨事项 {view.id} 已发出, 流程 {view.workflow_id}; "
                f"请报到单位于 {view.respond_by:%Y-%m-%d %H:%M} 前响应")

    typer.echo(run_job(job))


@whistle_app.command("list")
def list_whistles(
    community: Annotated[int | None, typer.Option(min=1, help="社区编号")] = None,
    status: Annotated[WhistleStatus | None, typer.Option(help="状态")] = None,
    unit: Annotated[int | None, typer.Option("--unit", min=1, help="只看召集该单位的事项")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """吹哨事项列表 (whistles, newest first)."""
    filters = WhistleFilter(community_id=community, status=status, unit_id=unit, limit=limit)

    async def job(rt: Runtime) -> Table:
        async with rt.pool.acquire() as conn:
            page = await whistle_service.list_whistles(conn, SYSTEM_ACTOR, filters)
        table = Table("编号", "事项", "社区", "状态", "层级", "需人数", "已响应人数", "召集单位", "已响应单位", "挂账原因",
                      title=f"吹哨报到 (共 {page.total} 项)")
        for w in page.items:
            table.add_row(str(w.id), w.title, w.community_name, STATUS_LABELS[w.status], LEVEL_LABELS[w.level],
                          str(w.people_needed), str(w.people_committed), str(w.units_summoned),
                          str(w.units_answered), w.parked_reason or "")
        return table

    Console().print(run_job(job))


@whistle_app.command("show")
def show(whistle_id: int) -> None:
    """吹哨事项详情: 召集了谁、何时、谁响应了什么, 以及流转记录."""

    async def job(rt: Runtime) -> list[Table]:
        async with rt.pool.acquire() as conn:
            detail = await whistle_service.get_whistle(conn, SYSTEM_ACTOR, whistle_id)
        w = detail.whistle
        head = Table("项目", "内容", title=f"吹哨事项 {w.id}: {w.title}")
        for label, value in [
            ("社区", w.community_name), ("地点", w.place), ("事项", w.matter), ("状态", STATUS_LABELS[w.status]),
            ("层级", LEVEL_LABELS[w.level]), ("需人数", str(w.people_needed)),
            ("所需资源", "、".join(f"{r.category.value}×{r.quantity}" for r in w.resources_needed)),
            ("响应时限", f"{w.respond_by:%Y-%m-%d %H:%M}"), ("已响应人数", str(w.people_committed)),
            ("人手缺口", str(w.shortfall) if w.shortfall else ""), ("挂账原因", w.parked_reason or ""),
            ("处置小结", w.summary or ""),
        ]:
            head.add_row(label, value)
        units = Table("单位", "召集层级", "召集依据", "状态", "召集时间", "催办", "人数", "资源", "预计到达", "联系人",
                      "电话", "婉拒理由", title="召集与响应")
        for s in detail.responses:
            units.add_row(
                f"{s.unit_name} ({s.unit_id})", LEVEL_LABELS[s.level], BASIS_LABELS.get(s.basis, s.basis),
                SUMMON_LABELS[s.status], f"{s.summoned_at:%m-%d %H:%M}",
                f"{s.urged_at:%m-%d %H:%M}" if s.urged_at else "", "" if s.people is None else str(s.people),
                "、".join(f"{r.category.value}×{r.quantity}" for r in s.resources),
                f"{s.eta:%m-%d %H:%M}" if s.eta else "", s.contact_name or "", s.contact_phone or "",
                s.decline_reason or "")
        history = Table("时间", "事件", "单位", "操作人", "详情", title="流转记录")
        for e in detail.history:
            history.add_row(f"{e.at:%m-%d %H:%M:%S}", e.kind, "" if e.unit_id is None else str(e.unit_id), e.actor,
                            ", ".join(f"{k}={v}" for k, v in e.detail.items() if v not in (None, [], "")))
        return [head, units, history]

    console = Console()
    for table in run_job(job):
        console.print(table)


@whistle_app.command("answer")
def answer(
    whistle_id: int,
    unit: UnitOpt,
    accept: Annotated[bool, typer.Option("--accept/--decline", help="报到响应或婉拒")],
    people: Annotated[int, typer.Option(min=0, help="派出人数")] = 0,
    eta: Annotated[datetime | None, typer.Option(help="预计到达时间 (ISO 格式, 如 2026-12-01T09:00:00+08:00)")] = None,
    contact: Annotated[str | None, typer.Option(help="现场联系人")] = None,
    phone: Annotated[str | None, typer.Option(help="联系人电话")] = None,
    reason: Annotated[str | None, typer.Option(help="婉拒理由")] = None,
    resource: ResourceOpt = None,
) -> None:
    """报到单位响应或婉拒 (answer for a unit)."""
    data = WhistleAnswer(unit_id=unit, accept=accept, people=people, resources=_resources(resource), eta=_aware(eta),
                         contact_name=contact, contact_phone=phone, decline_reason=reason)

    async def job(rt: Runtime) -> str:
        res = await whistle_service.answer(rt.pool, rt.client, SYSTEM_ACTOR, whistle_id, data)
        return (f"单位 {res.unit_id}: {SUMMON_LABELS[res.status]}; "
                f"已响应 {res.people_committed} 人 / 需 {res.people_needed} 人")

    typer.echo(run_job(job))


@whistle_app.command("arrive")
def arrive(whistle_id: int, unit: UnitOpt,
           people: Annotated[int | None, typer.Option(min=0, help="到岗人数 (默认为响应人数)")] = None) -> None:
    """登记单位到岗 (mark a unit's people on site)."""

    async def job(rt: Runtime) -> str:
        res = await whistle_service.arrive(rt.pool, rt.client, SYSTEM_ACTOR, whistle_id,
                                           WhistleArrival(unit_id=unit, people=people))
        return f"单位 {res.unit_id} 到岗 {res.people} 人; 事项{STATUS_LABELS[res.status]}"

    typer.echo(run_job(job))


@whistle_app.command("close")
def close(whistle_id: int, summary: Annotated[str, typer.Option(help="处置情况小结")]) -> None:
    """办结吹哨事项 (close with a summary)."""

    async def job(rt: Runtime) -> str:
        snap = await whistle_service.close(rt.pool, rt.client, SYSTEM_ACTOR, whistle_id, WhistleClose(summary=summary))
        return f"吹哨事项 {whistle_id} {STATUS_LABELS[snap.status]}: 共响应 {snap.people_committed} 人"

    typer.echo(run_job(job))


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root command."""
    app.add_typer(whistle_app, name="whistle")
