"""CLI commands: `members list`, `units list`, `stats registration` (read-only, city-wide).

The CLI runs as the system actor (the city organization department), so it sees everything but,
like that role in the API, personal data only masked.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.context import open_runtime
from domain.scope import PlaceFilter
from schemas.api import MAX_PAGE_SIZE, Page
from schemas.auth import SYSTEM_ACTOR
from schemas.directory import Member, Unit
from schemas.registration import MemberRegistrationStatus, UnitRegistrationStatus
from schemas.settings import Settings
from schemas.statistics import RegistrationStatistics, StatisticsLevel
from services import directory, statistics

members_app = typer.Typer(help="党员名录 (members)", no_args_is_help=True)
units_app = typer.Typer(help="报到单位名录 (reporting units)", no_args_is_help=True)
stats_app = typer.Typer(help="统计 (statistics)", no_args_is_help=True)

IdOption = Annotated[int | None, typer.Option(min=1)]
Limit = Annotated[int, typer.Option(min=1, max=MAX_PAGE_SIZE, help="每页条数")]
Offset = Annotated[int, typer.Option(min=0, help="跳过的条数")]

_STATUS_LABELS = {
    "submitted": "待确认", "confirmed": "已确认", "active": "已报到", "paused": "暂停",
    "rejected": "已退回", "withdrawn": "已撤回", "transferred": "已转出", "lapsed": "已过期",
}


def _status(value: str | None) -> str:
    return _STATUS_LABELS.get(value, value) if value else "未报到"


@members_app.command("list")
def list_members(
    name: Annotated[str | None, typer.Option(help="姓名包含")] = None,
    name_prefix: Annotated[str | None, typer.Option(help="姓名开头")] = None,
    district: IdOption = None,
    subdistrict: IdOption = None,
    community: IdOption = None,
    grid: IdOption = None,
    unit: IdOption = None,
    status: Annotated[MemberRegistrationStatus | None, typer.Option(help="最近一次报到的状态")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> None:
    """列出 / 检索党员 (list and search members; phone and ID masked)."""

    async def run() -> Page[Member]:
        async with open_runtime(Settings()) as runtime, runtime.pool.acquire() as conn:
            return await directory.list_members(
                conn, SYSTEM_ACTOR, name=name, name_prefix=name_prefix, status=status, limit=limit,
                offset=offset, place=PlaceFilter(district_id=district, subdistrict_id=subdistrict,
                                                 community_id=community, grid_id=grid, unit_id=unit),
            )

    page = asyncio.run(run())
    table = Table("编号", "姓名", "手机号码", "身份证号", "工作单位", "居住社区", "网格", "报到状态",
                  title=f"党员 {offset + 1 if page.items else 0}-{offset + len(page.items)} / 共 {page.total}")
    for m in page.items:
        table.add_row(
            str(m.id), m.name, m.phone or "", m.id_number or "", m.unit_name or m.employer_name or "",
            str(m.home_community_id or ""), str(m.home_grid_id or ""), _status(m.registration_status),
        )
    Console().print(table)


@units_app.command("list")
def list_units(
    name: Annotated[str | None, typer.Option(help="名称包含")] = None,
    district: IdOption = None,
    subdistrict: IdOption = None,
    community: IdOption = None,
    status: Annotated[UnitRegistrationStatus | None, typer.Option(help="最近一次报到的状态")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> None:
    """列出 / 检索报到单位 (list and search reporting units)."""

    async def run() -> Page[Unit]:
        async with open_runtime(Settings()) as runtime, runtime.pool.acquire() as conn:
            return await directory.list_units(
                conn, SYSTEM_ACTOR, name=name, status=status, limit=limit, offset=offset,
                place=PlaceFilter(district_id=district, subdistrict_id=subdistrict, community_id=community),
            )

    page = asyncio.run(run())
    table = Table("编号", "名称", "党组织", "所在社区", "党员数", "报到状态",
                  title=f"报到单位 {offset + 1 if page.items else 0}-{offset + len(page.items)} / 共 {page.total}")
    for u in page.items:
        table.add_row(str(u.id), u.name, u.unit_party_org, str(u.community_id or ""),
                      str(u.member_count), _status(u.registration_status))
    Console().print(table)


@stats_app.command("registration")
def registration_statistics(
    level: Annotated[StatisticsLevel, typer.Option(help="统计层级")] = StatisticsLevel.community,
) -> None:
    """报到率统计 (registration rate per unit / community / subdistrict / district / city)."""

    async def run() -> RegistrationStatistics:
        async with open_runtime(Settings()) as runtime, runtime.pool.acquire() as conn:
            return await statistics.registration_statistics(conn, SYSTEM_ACTOR, level=level)

    result = asyncio.run(run())
    table = Table("编号", "名称", "党员数", "待确认", "已确认", "已报到", "暂停", "已退回", "已过期",
                  "报到率", title=f"报到率 ({level.value})")
    for r in result.items:
        table.add_row(
            "" if r.id is None else str(r.id), r.name, str(r.members), str(r.submitted),
            str(r.confirmed), str(r.active), str(r.paused), str(r.rejected), str(r.lapsed),
            f"{r.rate:.1%}",
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root command."""
    app.add_typer(members_app, name="members")
    app.add_typer(units_app, name="units")
    app.add_typer(stats_app, name="stats")
