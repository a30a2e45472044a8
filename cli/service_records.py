"""CLI commands for service records 服务记录: `services log`, `services list`, `services approve`,
`services reject`.

Runs as the system actor (the city organization department), so `log` names the member it logs
for; the same rules as the API apply (registration in the community, no overlap, at most 12 h).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.context import Runtime, run_job
from domain.service_record import STATUS_LABELS
from schemas.auth import SYSTEM_ACTOR
from schemas.service_record import ServiceRecordCreate, ServiceRecordStatus, ServiceRecordView
from schemas.settings import Settings
from services import service_record

app = typer.Typer(help="服务记录 (members' self-logged services, approved by the community)", no_args_is_help=True)


def _clock(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError as err:
        raise typer.BadParameter(f"时间格式应为 HH:MM, 收到 {text!r}") from err


def _table(title: str, items: list[ServiceRecordView]) -> Table:
    table = Table(title=title)
    for column in ("编号", "党员", "社区", "类别", "开始", "结束", "小时", "状态", "积分", "驳回理由"):
        table.add_column(column)
    for r in items:
        table.add_row(str(r.id), f"{r.member_name or ''}({r.member_id})", str(r.community_id), r.category,
                      r.started_at.isoformat(timespec="minutes"), r.ended_at.isoformat(timespec="minutes"),
                      f"{r.hours:g}", STATUS_LABELS[r.status.value],
                      "" if r.points is None else f"{r.points:g}", r.reject_reason or "")
    return table


@app.command("log")
def log_record(
    member: Annotated[int, typer.Option(min=1, help="党员编号")],
    community: Annotated[int, typer.Option(min=1, help="服务所在社区 (须是其已报到的社区)")],
    day: Annotated[str, typer.Option("--date", help="服务日期 YYYY-MM-DD")],
    start: Annotated[str, typer.Option(help="开始时间 HH:MM")],
    end: Annotated[str, typer.Option(help="结束时间 HH:MM")],
    category: Annotated[str, typer.Option(help="服务类别 (与需求类别目录相同)")],
    grid: Annotated[int | None, typer.Option(min=1, help="网格编号")] = None,
    description: Annotated[str, typer.Option(help="服务内容")] = "",
    co_server: Annotated[int | None, typer.Option(min=1, help="共同服务的党员编号")] = None,
) -> None:
    """登记一条服务记录 (log a service done outside a dispatched task)."""
    try:
        service_date = date.fromisoformat(day)
    except ValueError as err:
        raise typer.BadParameter(f"日期格式应为 YYYY-MM-DD, 收到 {day!r}") from err
    data = ServiceRecordCreate(
        service_date=service_date, start_time=_clock(start), end_time=_clock(end), category=category,
        community_id=community, grid_id=grid, description=description, co_server_member_id=co_server,
        member_id=member)
    settings = Settings()

    async def job(rt: Runtime) -> ServiceRecordView:
        return await service_record.log_record(rt.pool, rt.client, SYSTEM_ACTOR, data,
                                               now=datetime.now(UTC), task_queue=settings.task_queue)

    view = run_job(job)
    typer.echo(f"服务记录 {view.id} 已登记: {view.hours:g} 小时, 待社区核实")


@app.command("list")
def list_records(
    member: Annotated[int | None, typer.Option(min=1, help="只看该党员")] = None,
    community: Annotated[int | None, typer.Option(min=1, help="只看该社区")] = None,
    status: Annotated[ServiceRecordStatus | None, typer.Option(help="pending / approved / rejected")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """列出服务记录 (newest service first)."""

    async def job(rt: Runtime) -> list[ServiceRecordView]:
        async with rt.pool.acquire() as conn:
            return await service_record.list_records(conn, SYSTEM_ACTOR, status=status, member_id=member,
                                                     community_id=community, limit=limit)

    items = run_job(job)
    Console().print(_table(f"服务记录 · 共 {len(items)} 条", items))


@app.command("approve")
def approve(record_ids: Annotated[list[int], typer.Argument(help="服务记录编号 (可多个)")]) -> None:
    """核实服务记录并按规则计分 (approve; a record already approved is not credited again)."""

    async def job(rt: Runtime) -> list[ServiceRecordView]:
        return await service_record.decide(rt.pool, rt.client, SYSTEM_ACTOR, record_ids, approve=True,
                                           now=datetime.now(UTC))

    items = run_job(job)
    Console().print(_table(f"已核实 {len(items)} 条", items))


@app.command("reject")
def reject(
    record_ids: Annotated[list[int], typer.Argument(help="服务记录编号 (可多个)")],
    reason: Annotated[str, typer.Option(help="驳回理由")],
) -> None:
    """驳回服务记录 (reject with a reason)."""

    async def job(rt: Runtime) -> list[ServiceRecordView]:
        return await service_record.decide(rt.pool, rt.client, SYSTEM_ACTOR, record_ids, approve=False,
                                           reason=reason, now=datetime.now(UTC))

    items = run_job(job)
    Console().print(_table(f"已驳回 {len(items)} 条", items))


def register(root: typer.Typer) -> None:
    """Attach this module's commands to the root command."""
    root.add_typer(app, name="services")
