"""`up --demo`: write the demo city as a clerk's roster files, import them, drive registrations.

The city goes in through the same front door as real data (the roster importer), then the
communities decide on registrations through the registration use cases, so the statistics show
varied registration rates and the Temporal UI shows the cohort and unit workflows.

Every step may run again (after Ctrl-C mid-demo, or on every `up --demo`) without duplicating
anything: an imported file is recognised by its hash and not imported again; which registrations
are confirmed, rejected or left pending is a fixed function of the member, so a second pass makes
the same decisions and finds nothing left to decide; tokens are kept in the data directory and
reissued only if the database no longer knows them.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import structlog
from temporalio.client import Client

from db.import_batch import select_batch_id_by_sha
from db.pool import Pool
from demo.accounts import demo_accounts, sign_in_table
from demo.campaign import run_demo_campaign
from demo.city import SIZES, City, generate_city
from demo.dispatch import StreamPlan, run_task_stream, stream_summary
from demo.evaluation import run_demo_evaluation
from demo.exchange import DEMO_MERCHANT, ensure_demo_merchant, seed_demo_exchange
from demo.history import seed_past
from demo.service_records import seed_service_records
from demo.whistle import run_demo_whistle
from domain.errors import DomainError
from reports.cells import row_values
from schemas.api import Page
from schemas.auth import SYSTEM_ACTOR, Actor, Role, ScopeKind
from schemas.directory import Community, Unit, UnitRegistration
from schemas.roster import RosterKind
from schemas.settings import Settings
from schemas.statistics import StatisticsLevel
from services import directory, statistics, tokens, unit_registration
from services.roster_import import import_roster
from stack.embedded import DemoSeeded, DemoStep

log = structlog.get_logger(__name__)

DEMO_SEED = 2024
DEMO_ACTOR = Actor(role=Role.org_department, scope_kind=ScopeKind.city, label="演示数据")
_DAYS = "一二三四五六日"
_PARTS = ("上午", "下午", "晚上")
_KIND_TITLES = {"agency": "机关", "institution": "事业单位", "enterprise": "企业"}
PAGE = 1000
# Of the units: this share registers, this share is confirmed, up to this share rejected.
UNIT_SUBMIT_SHARE = 0.85
UNIT_CONFIRM_SHARE = 0.72
UNIT_REJECT_SHARE = 0.76
UNIT_PROJECTS = (
    ("政策宣讲进社区", "困难党员结对帮扶"),
    ("义诊进社区", "健康知识讲座"),
    ("法律咨询服务", "矛盾纠纷调解"),
    ("助老助残志愿服务", "社区环境整治"),
    ("青少年课业辅导", "文化活动共建"),
)
T = TypeVar("T")


def _fraction(text: str) -> float:
    """A stable number in [0, 1) for a string: the same decision on every run and machine."""
    return zlib.crc32(text.encode("utf-8")) / 2**32


def free_time_text(slots: tuple[int, ...]) -> str:
    """Free-time slots as a clerk writes them: 「周一晚上、周六上午」."""
    return "、".join(f"周{_DAYS[s // 3]}{_PARTS[s % 3]}" for s in slots)


# ---------------------------------------------------------------------------------------------
# Roster files
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterFiles:
    hierarchy: Path
    units: Path
    members: Path


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    # utf-8 with BOM: what Excel on a clerk's desk writes and opens without garbling Chinese.
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(row_values(list(header)))
        writer.writerows(row_values(list(row)) for row in rows)


def write_roster_files(city: City, directory_: Path) -> RosterFiles:
    """The city as three roster files (区划, 报到单位, 在职党员) with Chinese headers."""
    directory_.mkdir(parents=True, exist_ok=True)
    neighbours: dict[int, list[int]] = {}
    for a, b in sorted(city.adjacency):
        neighbours.setdefault(a, []).append(b)
    hierarchy_rows = []
    for g, grid in enumerate(city.grids):
        district, subdistrict, community = city.community_path(grid.community)
        hierarchy_rows.append([
            district, subdistrict, community, grid.name, grid.branch_name,
            "、".join(city.grids[n].name for n in neighbours.get(g, [])),
        ])
    files = RosterFiles(
        hierarchy=directory_ / "hierarchy.csv", units=directory_ / "units.csv",
        members=directory_ / "members.csv",
    )
    _write_csv(files.hierarchy, ["区", "街道", "社区", "网格", "网格党支部", "相邻网格"], hierarchy_rows)
    unit_rows = []
    for unit in city.units:
        district, subdistrict, community = city.community_path(unit.community)
        unit_rows.append([
            unit.name, unit.unit_party_org, _KIND_TITLES[unit.kind], district, subdistrict, community,
            unit.contact_name, unit.contact_phone,
        ])
    _write_csv(
        files.units,
        ["单位名称", "单位党组织", "单位类型", "区", "街道", "所在社区", "联系人", "联系电话"],
        unit_rows,
    )
    member_rows = []
    for m in city.members:
        district, subdistrict, community = city.community_path(m.home_community)
        member_rows.append([
            m.name, m.gender, m.phone, m.id_number, city.units[m.unit].name, district, subdistrict,
            community, city.grids[m.home_grid].name, "、".join(m.skills), free_time_text(m.free_slots),
        ])
    _write_csv(
        files.members,
        ["姓名", "性别", "手机号码", "身份证号", "工作单位", "区", "街道", "居住社区", "所在网格", "特长",
         "可服务时间"],
        member_rows,
    )
    return files


async def _import_once(pool: Pool, client: Client, path: Path, kind: RosterKind) -> str:
    """Import a roster file unless this exact file was imported before; returns a summary."""
    sha = hashlib.sha256(await asyncio.to_thread(path.read_bytes)).hexdigest()
    async with pool.acquire() as conn:
        earlier = await select_batch_id_by_sha(conn, kind=kind.value, file_sha256=sha)
    if earlier is not None:
        # A members file imported again would re-submit the members the demo rejected.
        return f"{path.name}: 已导入过 (already imported)"
    result = await import_roster(pool, path, kind=kind, actor=DEMO_ACTOR, client=client)
    summary = f"{path.name}: {result.rows} 行, 新增 {result.inserted}"
    if kind is RosterKind.members:
        summary += f", 提交个人报到 {result.registrations} (cohort {result.cohort_id})"
    return summary


# ---------------------------------------------------------------------------------------------
# Registrations
# ---------------------------------------------------------------------------------------------


def _community_actor(community_id: int, name: str) -> Actor:
    return Actor(role=Role.community_staff, scope_kind=ScopeKind.community, scope_id=community_id,
                 label=f"{name}工作人员")


async def _all_pages(fetch: Callable[[int], Awaitable[Page[T]]]) -> list[T]:
    items: list[T] = []
    offset = 0
    while True:
        page = await fetch(offset)
        items.extend(page.items)
        offset += PAGE
        if offset >= page.total:
            return items


async def register_units(pool: Pool, client: Client) -> tuple[int, int, int]:
    """Most units register with their community; the communities confirm most of them (signing
    a co-building agreement), reject a few and leave some pending. Returns (submitted, confirmed,
    rejected) done now: all 0 on a second run."""
    submitted = confirmed = rejected = 0
    async with pool.acquire() as conn:
        units: list[Unit] = await _all_pages(lambda offset: directory.list_units(
            conn, SYSTEM_ACTOR, limit=PAGE, offset=offset))
        existing: list[UnitRegistration] = await _all_pages(lambda offset: directory.list_unit_registrations(
            conn, SYSTEM_ACTOR, limit=PAGE, offset=offset))
        # A unit with any registration, even a rejected one, was handled by an earlier run.
        handled = {r.unit_id for r in existing}
        for unit in units:
            if unit.id in handled or unit.community_id is None:
                continue
            if _fraction(f"unit:{unit.name}") >= UNIT_SUBMIT_SHARE:
                continue
            await unit_registration.submit_unit_registration(
                conn, DEMO_ACTOR, unit_id=unit.id, community_id=unit.community_id, client=client
            )
            submitted += 1
        pending: list[UnitRegistration] = await _all_pages(lambda offset: directory.list_unit_registrations(
            conn, SYSTEM_ACTOR, status="submitted", limit=PAGE, offset=offset))
        places: list[Community] = await _all_pages(lambda offset: directory.list_communities(
            conn, SYSTEM_ACTOR, limit=PAGE, offset=offset))
        communities = {c.id: c.name for c in places}
        for reg in pending:
            # A stop between a submission's commit and its workflow start leaves no workflow;
            # starting is idempotent, so make sure every pending registration has one.
            await unit_registration.start_unit_workflow(client, unit_registration_id=reg.id)
            share = _fraction(f"unit:{reg.unit_name}")
            actor = _community_actor(reg.community_id, communities.get(reg.community_id, "社区"))
            if share < UNIT_CONFIRM_SHARE:
                await unit_registration.confirm_unit_registration(
                    conn, actor, reg.id, projects=list(UNIT_PROJECTS[reg.unit_id % len(UNIT_PROJECTS)]),
                    client=client,
                )
                confirmed += 1
            elif share < UNIT_REJECT_SHARE:
                await unit_registration.reject_unit_registration(
                    conn, actor, reg.id, "单位所在地不属于本社区: 请向单位实际所在社区报到", client=client
                )
                rejected += 1
    return submitted, confirmed, rejected


# ---------------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------------


async def demo_tokens(pool: Pool, token_file: Path) -> list[tuple[str, str, str]]:
    """One token per role as (role, label, token); kept in `token_file`, reissued if unknown."""
    kept = await asyncio.to_thread(_read_kept, token_file)
    out: list[tuple[str, str, str]] = []
    async with pool.acquire() as conn:
        scopes = await _token_scopes(conn)
        for role, scope_kind, scope_id, label in scopes:
            token = kept.get(role.value, {}).get("token")
            if token is not None:
                try:
                    await tokens.authenticate(conn, token)
                except DomainError:
                    token = None
            if token is None:
                _, token = await tokens.issue_token(
                    conn, role=role, scope_kind=scope_kind, scope_id=scope_id, label=f"演示-{label}"
                )
            kept[role.value] = {"token": token, "label": label}
            out.append((role.value, label, token))
    await asyncio.to_thread(token_file.write_text, json.dumps(kept, ensure_ascii=False, indent=2), "utf-8")
    return out


def _read_kept(token_file: Path) -> dict[str, dict[str, str]]:
    if not token_file.exists():
        return {}
    kept: dict[str, dict[str, str]] = json.loads(token_file.read_text("utf-8"))
    return kept


async def _token_scopes(conn: Any) -> list[tuple[Role, ScopeKind, int | None, str]]:
    subdistrict = (await directory.list_subdistricts(conn, SYSTEM_ACTOR, limit=1, offset=0)).items[0]
    community = (await directory.list_communities(conn, SYSTEM_ACTOR, limit=1, offset=0)).items[0]
    unit = (await directory.list_units(conn, SYSTEM_ACTOR, limit=1, offset=0)).items[0]
    member = (await directory.list_members(conn, SYSTEM_ACTOR, limit=1, offset=0)).items[0]
    return [
        (Role.org_department, ScopeKind.city, None, "全市组织部"),
        (Role.subdistrict, ScopeKind.subdistrict, subdistrict.id, subdistrict.name),
        (Role.community_staff, ScopeKind.community, community.id, community.name),
        (Role.unit_admin, ScopeKind.unit, unit.id, unit.name),
        (Role.member, ScopeKind.member, member.id, member.name),
        # The merchant serves the demo member's community, so the member sees its items.
        (Role.provider, ScopeKind.provider, await ensure_demo_merchant(
            conn, community_id=member.home_community_id or community.id, now=datetime.now(UTC)), DEMO_MERCHANT),
    ]


# ---------------------------------------------------------------------------------------------
# The whole demo
# ---------------------------------------------------------------------------------------------


async def seed_demo(
    pool: Pool, client: Client, *, data_dir: Path, size: str = "full", api_url: str | None = None
) -> list[str]:
    """Seed (or find already seeded) the demo city; returns the lines to show the newcomer."""
    city = generate_city(DEMO_SEED, SIZES[size])
    files = await asyncio.to_thread(write_roster_files, city, data_dir / "demo")
    lines = ["", "演示城市 demo city:"]
    for path, kind in (
        (files.hierarchy, RosterKind.hierarchy), (files.units, RosterKind.units),
        (files.members, RosterKind.members),
    ):
        lines.append("  " + await _import_once(pool, client, path, kind))
    units, units_confirmed, units_rejected = await register_units(pool, client)
    lines.append(
        f"  单位报到: 本次提交 {units}, 确认 {units_confirmed}, 退回 {units_rejected} "
        "(unit registrations submitted / confirmed / rejected now)"
    )
    past = await seed_past(pool, client)
    if past is not None:
        lines.append(
            f"  个人报到 (过去几个月): 确认 {past.confirmed}, 退回 {past.rejected}, 待确认 {past.pending} "
            "(member registrations confirmed / rejected / pending over the past months)"
        )
        lines.append(
            f"  历史服务 past services: {past.tasks} 个已办结任务, {past.services} 人次积分, "
            f"{past.records} 条已核实的自主服务记录 "
            f"({past.quarter} 全季度及本季度至今 the last quarter and this one so far)"
        )
    else:
        lines.append("  历史数据: 已生成过 (the past was written before)")
    async with pool.acquire() as conn:
        stats = await statistics.registration_statistics(conn, SYSTEM_ACTOR, level=StatisticsLevel.district)
    lines.append("  报到率 registration rate:")
    for item in stats.items:
        lines.append(f"    {item.name}: {item.rate:.0%} ({item.active}/{item.members})")
    lines.append("")
    async with pool.acquire() as conn:
        scopes = await _token_scopes(conn)
    if api_url is not None:
        lines.extend(sign_in_table(f"{api_url}/admin", await demo_accounts(pool, scopes)))
        lines.append("")
    lines.append("演示令牌 demo tokens (Authorization: Bearer ...):")
    issued = await demo_tokens(pool, data_dir / "demo" / "tokens.json")
    for role, label, token in issued:
        lines.append(f"  {role:<16} {label:<14} {token}")
    if api_url is not None:
        lines.append("")
        lines.append("试一试 try it:")
        lines.append(
            f'  curl -H "Authorization: Bearer {issued[0][2]}" '
            f'"{api_url}/statistics/registration?level=district"'
        )
    lines.append("")
    return lines


def demo_step_for(size: str) -> DemoStep:
    """The `up --demo` step: seeds into the stack's data directory."""

    async def step(pool: Pool, client: Client, settings: Settings) -> DemoSeeded:
        api_url = f"http://{settings.api_host}:{settings.api_port}"
        lines = await seed_demo(pool, client, data_dir=settings.data_dir.resolve(), size=size, api_url=api_url)
        records = await seed_service_records(pool, client, task_queue=settings.task_queue)
        if records is not None:
            lines[-1:-1] = [f"服务记录 service records: {records.logged} 条自主服务 (核实 {records.approved}, "
                            f"退回 {records.rejected}, 待核实 {records.pending}); GET {api_url}/service-records"]
        campaign_id = await run_demo_campaign(pool, client, task_queue=settings.task_queue)
        lines[-1:-1] = [f"活动 campaign {campaign_id} (已提醒一轮 one reminder wave run): "
                        f"shuangbaodao campaign progress {campaign_id}; GET {api_url}/campaigns/{campaign_id}/progress"]
        run_id = await run_demo_evaluation(pool, client, task_queue=settings.task_queue)
        whistle_id = await run_demo_whistle(pool, client, task_queue=settings.task_queue)
        if whistle_id is not None:
            lines[-1:-1] = [f"吹哨报到 whistle {whistle_id} (单位已响应 units answered): "
                            f"shuangbaodao whistle show {whistle_id}; GET {api_url}/whistles/{whistle_id}"]
        async with pool.acquire() as conn:
            scopes = {role: scope_id for role, _, scope_id, _ in await _token_scopes(conn)}
        member_id, provider_id = scopes[Role.member], scopes[Role.provider]
        assert member_id is not None and provider_id is not None
        exchange = await seed_demo_exchange(pool, client, member_id=member_id, provider_id=provider_id,
                                            task_queue=settings.task_queue)
        if exchange is not None:
            lines[-1:-1] = [f"积分兑换 points exchange: 活动 campaign {exchange.campaign_id} 使服务积分可兑换; "
                            f"演示党员可兑换积分 {exchange.balance:g} 分 (redeemable balance); "
                            f"手机端 {api_url}/m/exchange"]
        lines[-1:-1] = [f"述职评议考核 evaluation run {run_id}: shuangbaodao evaluation show {run_id}; "
                        f"GET {api_url}/evaluations/{run_id}/export.xlsx?level=unit"]
        # Then residents' needs keep flowing through dispatch until the stack stops.
        plan = StreamPlan()
        lines[-1:-1] = stream_summary(plan, api_url)
        return DemoSeeded(lines=lines, then=lambda: run_task_stream(
            pool, client, task_queue=settings.task_queue, plan=plan,
            state_file=settings.data_dir.resolve() / "demo" / "dispatch.json"))

    return step
