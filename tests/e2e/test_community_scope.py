"""A community account sees only its own community on every screen of the console, and a number
typed into the address (another community's task or whistle) shows a refusal and nothing of it."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Page, expect

from db.pool import Conn, Pool
from schemas.auth import Role, ScopeKind
from tests.api_fixtures import ApiCity, build_api_city
from tests.conftest import unique
from tests.e2e.conftest import WebApp, sign_in


async def _side(conn: Conn, city: ApiCity, side: str, tag: str) -> dict[str, int]:
    """One of each thing the community screens show, in community `side`, each named with `tag`."""
    community, grid = city.community[side], city.grids[side][0]
    member = city.members["a1" if side == "A" else "b1"].id
    ids: dict[str, int] = {}
    applicant = await conn.fetchval(
        """INSERT INTO member (name, unit_id, home_community_id, home_grid_id) VALUES ($1, $2, $3, $4) RETURNING id""",
        f"报到人{tag}", city.unit[side], community, grid)
    await conn.execute(
        "INSERT INTO member_registration (member_id, community_id, grid_id, status) VALUES ($1, $2, $3, 'submitted')",
        applicant, community, grid)
    ids["need"] = await conn.fetchval(
        """INSERT INTO need (category, community_id, grid_id, urgency, deadline_at, description, status, created_by)
           VALUES ('助老助残', $1, $2, 'blue', now() + interval '3 days', $3, 'submitted', 'test') RETURNING id""",
        community, grid, f"需求{tag}")
    await conn.execute(
        """INSERT INTO need (category, community_id, grid_id, urgency, deadline_at, description, status, created_by)
           VALUES ('助老助残', $1, $2, 'blue', now() + interval '3 days', $3, 'verified', 'test')""",
        community, grid, f"待派单{tag}")
    end = datetime.now(UTC) - timedelta(hours=1)
    for status, title in (("done", f"已完成任务{tag}"), ("offering", f"派单任务{tag}")):
        ids[status] = await conn.fetchval(
            """INSERT INTO task (community_id, grid_id, title, category, mode, headcount, window_start, window_end,
                                 status, qr_token_hash, created_by)
               VALUES ($1, $2, $3, '助老助残', 'dispatch', 1, $4, $5, $6, 'x', 'test') RETURNING id""",
            community, grid, title, end - timedelta(hours=2), end, status)
    start = datetime(2026, 3, 2, 1, tzinfo=UTC)
    await conn.execute(
        """INSERT INTO service_record (member_id, community_id, category, started_at, ended_at, hours, description,
                                       status, created_by, created_at)
           VALUES ($1, $2, '助老助残', $3, $4, 2, $5, 'pending', 'test', now())""",
        member, community, start, start + timedelta(hours=2), f"服务{tag}")
    ids["whistle"] = await conn.fetchval(
        """INSERT INTO whistle (community_id, title, matter, urgency, people_needed, respond_by, status,
                                created_by, created_at, updated_at)
           VALUES ($1, $2, '积水', 'red', 3, now() + interval '2 hours', 'summoning', 'test', now(), now())
           RETURNING id""",
        community, f"吹哨{tag}")
    await conn.execute(
        """INSERT INTO notification (recipient_kind, recipient_id, category, title, body, dedupe_key)
           VALUES ('community', $1, 'dispatch', $2, '正文', $3)""",
        community, f"消息{tag}", f"scope-test:{tag}")
    return ids


SCREENS = {  # path -> what community A must see there (its own rows), by the tag's prefix
    "/admin/workbench": None,
    "/admin/registrations": "报到人",
    "/admin/needs": "需求",
    "/admin/tasks": "待派单",
    "/admin/completions": "已完成任务",
    "/admin/ledger": "派单任务",
    "/admin/service-records": "服务",
    "/admin/whistles": "吹哨",
    "/admin/inbox": "消息",
}


async def test_community_sees_only_its_own_community(
    page: Page, web_app: WebApp, pool: Pool, shoot: Callable[[Page], Awaitable[Path]]
) -> None:
    tag_a, tag_b = f"甲{unique()}", f"乙{unique()}"
    async with pool.acquire() as conn, conn.transaction():
        city = await build_api_city(conn)
        await _side(conn, city, "A", tag_a)
        b = await _side(conn, city, "B", tag_b)
        names = {r["id"]: r["name"] for r in await conn.fetch(
            "SELECT id, name FROM member WHERE id = ANY($1)", [m.id for m in city.members.values()])}
    # Everything of B's that a screen could show: the tagged rows and B's members' names.
    foreign = [tag_b, names[city.members["b1"].id], names[city.members["b2"].id]]
    await sign_in(page, web_app, pool, role=Role.community_staff, scope_kind=ScopeKind.community,
                  scope_id=city.community["A"], label="甲社区")

    for path, own in SCREENS.items():
        await page.goto(web_app.url(path))
        if own:
            await expect(page.get_by_text(f"{own}{tag_a}").first).to_be_visible()
        else:  # the workbench: A's counts (one need to verify), never B's
            await expect(page.locator("[data-queue=needs_to_verify] .count")).to_have_text("1")
        content = await page.content()
        assert not [f for f in foreign if f in content], path

    # Tampered addresses: B's task and whistle numbers show a refusal and nothing of them.
    for path in (f"/admin/ledger/{b['done']}", f"/admin/completions/{b['done']}", f"/admin/whistles/{b['whistle']}"):
        await page.goto(web_app.url(path))
        await expect(page.locator(".el-result").get_by_text("无法查看")).to_be_visible()
        content = await page.content()
        assert not [f for f in foreign if f in content], path
    await expect(page.get_by_text(tag_a).first).to_be_visible()  # the list behind is still A's own
    await shoot(page)


async def test_subdistrict_follows_its_communities_read_only(page: Page, web_app: WebApp, pool: Pool) -> None:
    """The subdistrict over A sees A's queues, needs, ledger and whistles, with no action buttons,
    and nothing of B (another district)."""
    tag_a, tag_b = f"甲{unique()}", f"乙{unique()}"
    async with pool.acquire() as conn, conn.transaction():
        city = await build_api_city(conn)
        await _side(conn, city, "A", tag_a)
        await _side(conn, city, "B", tag_b)
    await sign_in(page, web_app, pool, role=Role.subdistrict, scope_kind=ScopeKind.subdistrict,
                  scope_id=city.subdistrict["A"], label="街道")
    await page.goto(web_app.url("/admin/workbench"))
    await expect(page.locator("[data-queue=needs_to_verify] .count")).to_have_text("1")
    # Cards open only the screens a subdistrict has: needs yes, the registration queue no.
    await expect(page.locator("[data-queue=needs_to_verify]")).to_have_class(re.compile(r"\blink\b"))
    await expect(page.locator("[data-queue=registrations_to_confirm]")).not_to_have_class(re.compile(r"\blink\b"))
    for path, own in (("/admin/needs", "需求"), ("/admin/ledger", "派单任务"), ("/admin/whistles", "吹哨")):
        await page.goto(web_app.url(path))
        await expect(page.get_by_text(f"{own}{tag_a}").first).to_be_visible()
        assert tag_b not in await page.content(), path
    await page.goto(web_app.url("/admin/needs"))
    await expect(page.get_by_text(f"需求{tag_a}")).to_be_visible()
    await expect(page.get_by_test_id("publish")).to_have_count(0)
