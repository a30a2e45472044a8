"""A unit admin prints its members' registration certificates 报到证: the whole unit at once from
报到证, and one member's from 本单位党员; only registrations in force are printed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Frame, Page

from db.pool import Pool
from schemas.auth import Role, ScopeKind
from tests.conftest import unique
from tests.e2e.conftest import WebApp, sign_in
from tests.places import (
    add_community,
    add_district,
    add_grid,
    add_member,
    add_subdistrict,
    add_unit,
    register_member,
)


async def _unit_with_members(pool: Pool) -> tuple[int, list[str], str]:
    """A unit with two members whose registrations are in force and one still waiting; returns the
    unit, the names of the two printable members and the waiting one's name."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        district = await add_district(conn, "东城区")
        subdistrict = await add_subdistrict(conn, district, "和平里街道")
        community = await add_community(conn, subdistrict, "和平里社区")
        grid = await add_grid(conn, community, "第一网格", branch_name="第一网格党支部")
        unit = await add_unit(conn, unique("市财政局"), community_id=community)
        members = [await add_member(conn, community_id=community, grid_id=grid, unit_id=unit, name=name,
                                    phone=f"1381234{i:04d}")
                   for i, name in enumerate(("张三丰", "李四光", "王五岳"))]
        for member in members[:2]:
            reg = await register_member(conn, member, community_id=community, grid_id=grid, confirmed_at=now)
            await conn.execute("UPDATE member_registration SET valid_until = $2 WHERE id = $1",
                               reg, now + timedelta(days=365))
        await register_member(conn, members[2], community_id=community, grid_id=grid, status="submitted")
        names = [r["name"] for r in await conn.fetch(
            "SELECT name FROM member WHERE id = ANY($1::bigint[]) ORDER BY id", members)]
    return unit, names[:2], names[2]


def _certificate_frame(page: Page) -> Frame:
    frames = [f for f in page.frames if f.url == "about:srcdoc"]
    assert len(frames) == 1, [f.url for f in page.frames]
    return frames[0]


async def test_a_unit_admin_prints_certificates(
    web_app: WebApp, page: Page, pool: Pool, shoot: Callable[[Page], Awaitable[Path]]
) -> None:
    unit, printable, waiting = await _unit_with_members(pool)
    await sign_in(page, web_app, pool, role=Role.unit_admin, scope_kind=ScopeKind.unit, scope_id=unit,
                  label="市财政局管理员", path="/admin/unit-members")
    assert urlsplit(page.url).path == "/admin/unit-members"

    # 本单位党员: the rate (2 of 3 in force) and one member's certificate.
    await page.get_by_text("本单位报到情况").wait_for()
    await page.locator(".el-progress").filter(has_text="66.7%").wait_for()
    row = page.locator(".el-table__row").filter(has_text=printable[0])
    await row.get_by_role("button", name="报到证").click()
    dialog = page.get_by_role("dialog")
    await dialog.locator("iframe").wait_for()
    single = _certificate_frame(page)
    await single.locator("section.certificate").first.wait_for()
    assert await single.locator("section.certificate").count() == 1
    text = await single.locator("body").inner_text()
    assert printable[0] in text and "138****" in text and "第一网格党支部" in text
    assert "13812340000" not in text
    waiting_row = page.locator(".el-table__row").filter(has_text=waiting)
    assert await waiting_row.get_by_role("button", name="报到证").is_disabled()
    await page.keyboard.press("Escape")
    await dialog.wait_for(state="hidden")

    # 报到证: the whole unit at once, one page per registration in force, then printed.
    await page.get_by_role("menubar").get_by_text("报到证").click()
    await page.wait_for_url("**/admin/certificates")
    await page.get_by_role("button", name="生成本单位全部报到证").click()
    await page.get_by_text("共 2 份报到证").wait_for()
    batch = _certificate_frame(page)
    await batch.locator("section.certificate").nth(1).wait_for()
    assert await batch.locator("section.certificate").count() == 2
    body = await batch.locator("body").inner_text()
    assert all(name in body for name in printable) and waiting not in body
    # Printing prints the certificates' own frame (the console around it is not printed).
    await batch.evaluate("() => { window.print = () => { document.body.dataset.printed = 'yes' } }")
    await page.get_by_role("button", name="打印").click()
    assert await batch.locator("body").get_attribute("data-printed") == "yes"

    # No personal data in the address or the title.
    for name in printable:
        assert name not in page.url and name not in await page.title()
    await shoot(page)
