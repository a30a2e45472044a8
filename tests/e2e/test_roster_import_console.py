"""Roster import 名册导入 in the console: a file with a bad row is checked first, the error table
names each bad row and column, and nothing is imported."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Page

from db.pool import Pool
from schemas.auth import Role, ScopeKind
from tests.conftest import unique
from tests.e2e.conftest import WebApp, sign_in
from tests.places import add_community, add_district, add_subdistrict


async def _counts(pool: Pool) -> tuple[int, int]:
    async with pool.acquire() as conn:
        units = await conn.fetchval("SELECT count(*) FROM reporting_unit")
        batches = await conn.fetchval("SELECT count(*) FROM import_batch")
    return int(units), int(batches)


async def test_an_import_with_a_bad_row_shows_the_row_table_and_imports_nothing(
    web_app: WebApp, page: Page, pool: Pool, tmp_path: Path, shoot: Callable[[Page], Awaitable[Path]]
) -> None:
    async with pool.acquire() as conn:
        district_name = unique("临江区")
        district = await add_district(conn, district_name)
        district_name = await conn.fetchval("SELECT name FROM district WHERE id = $1", district)
        subdistrict = await add_subdistrict(conn, district, "永安街道")
        await add_community(conn, subdistrict, "凤凰社区")
    good, bad_place, bad_phone = unique("海岱医药"), unique("临江机械"), unique("清河物流")
    roster = tmp_path / "units.csv"
    roster.write_text(
        "单位名称,单位党组织,所在社区,街道,区,联系人,联系电话\n"
        f"{good},{good}党支部,凤凰社区,永安街道,{district_name},王芳,13800001111\n"
        f"{bad_place},{bad_place}党委,不存在的社区,永安街道,{district_name},李强,13800002222\n"
        f"{bad_phone},{bad_phone}党支部,凤凰社区,永安街道,{district_name},赵敏,12345\n",
        encoding="utf-8",
    )
    before = await _counts(pool)

    await sign_in(page, web_app, pool, role=Role.org_department, scope_kind=ScopeKind.city, scope_id=None,
                  label="市委组织部", path="/admin/roster")
    await page.get_by_text("名册文件", exact=True).wait_for()
    await page.locator("input[type=file]").set_input_files(str(roster))
    await page.get_by_role("button", name="检查").click()

    await page.get_by_text("文件有误, 未导入任何数据").first.wait_for()
    await page.get_by_text("错误明细 (共 2 处)").wait_for()
    rows = page.locator(".row-errors .el-table__body tr")
    assert await rows.count() == 2
    first, second = await rows.nth(0).inner_text(), await rows.nth(1).inner_text()
    assert first.split()[0] == "3" and "所在社区" in first
    assert second.split()[0] == "4" and "联系电话" in second
    assert await page.get_by_role("button", name="导入").is_disabled()
    assert await _counts(pool) == before
    await shoot(page)

