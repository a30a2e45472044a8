"""Transfers between units 转单位 in the console: one unit admin asks to move a member, the target
unit's admin refuses without a reason (the API's message stands beside the reason field, nothing
changes), then with one; the request shows as refused with its reason."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Page

from db.pool import Pool
from schemas.auth import Role, ScopeKind
from tests.conftest import unique
from tests.e2e.conftest import WebApp, sign_in
from tests.places import add_community, add_district, add_grid, add_member, add_subdistrict, add_unit


async def test_target_unit_refuses_a_transfer_with_a_reason(
    web_app: WebApp, page: Page, pool: Pool, shoot: Callable[[Page], Awaitable[Path]]
) -> None:
    async with pool.acquire() as conn:
        district = await add_district(conn)
        community = await add_community(conn, await add_subdistrict(conn, district))
        grid = await add_grid(conn, community)
        source, target = unique("转出单位"), unique("转入单位")
        source_id = await add_unit(conn, source, community_id=community)
        target_id = await add_unit(conn, target, community_id=community)
        member = await add_member(conn, community_id=community, grid_id=grid, unit_id=source_id, name="调动党员")
        member_name = await conn.fetchval("SELECT name FROM member WHERE id = $1", member)

    # The source unit asks, picking the member and the target unit by name.
    await sign_in(page, web_app, pool, role=Role.unit_admin, scope_kind=ScopeKind.unit, scope_id=source_id,
                  label="转出单位管理员", path="/admin/unit-transfers")
    await page.get_by_role("button", name="申请转出").click()
    dialog = page.get_by_role("dialog", name="申请转出")
    await dialog.get_by_role("button", name="提交申请").click()
    await dialog.get_by_text("请选择要转出的党员").wait_for()
    await dialog.locator(".el-select").nth(0).click()
    await page.get_by_role("option", name=member_name).click()
    await dialog.locator(".el-select").nth(1).click()
    await page.keyboard.type(target[:6])
    await page.get_by_role("option", name=target).click()
    await dialog.get_by_role("button", name="提交申请").click()
    row = page.locator(".el-table__row").filter(has_text=member_name)
    await row.filter(has_text="待确认").wait_for()
    await row.get_by_role("button", name="撤回").wait_for()
    await page.get_by_role("button", name="退出").click()
    await page.wait_for_url("**/admin/login**")

    # The target unit refuses: first without a reason, then with one.
    await sign_in(page, web_app, pool, role=Role.unit_admin, scope_kind=ScopeKind.unit, scope_id=target_id,
                  label="转入单位管理员", path="/admin/unit-transfers")
    row = page.locator(".el-table__row").filter(has_text=member_name)
    await row.get_by_role("button", name="拒绝").click()
    refuse = page.get_by_role("dialog", name="拒绝接收")
    await refuse.get_by_role("button", name="确定").click()
    await refuse.locator(".el-form-item__error").filter(has_text="拒绝转入必须填写原因").wait_for()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT status FROM unit_transfer WHERE member_id = $1", member) == "pending"
    await refuse.locator("textarea").fill("本单位无此岗位编制")
    await refuse.get_by_role("button", name="确定").click()
    await refuse.wait_for(state="hidden")
    async with pool.acquire() as conn:
        decided = await conn.fetchrow(
            "SELECT status, decision_reason FROM unit_transfer WHERE member_id = $1", member)
    assert decided is not None and tuple(decided) == ("refused", "本单位无此岗位编制")
    await page.locator(".el-select").first.click()
    await page.get_by_role("option", name="已拒绝").click()
    await page.locator(".el-table__row").filter(has_text="本单位无此岗位编制").wait_for()
    await shoot(page)
