"""账号与令牌 in the console: the organization department opens an account (a bad phone number is
refused with the API's message beside the field, nothing created; a good one shows its setup code
once), and issues a token whose plaintext shows once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Page

from db.pool import Pool
from schemas.auth import Role, ScopeKind
from tests.conftest import unique
from tests.e2e.conftest import WebApp, sign_in
from tests.places import add_community, add_district, add_subdistrict
from tests.sign_in_fixtures import new_phone


async def test_org_department_opens_an_account_and_issues_a_token(
    web_app: WebApp, page: Page, pool: Pool, shoot: Callable[[Page], Awaitable[Path]]
) -> None:
    label = unique("凤凰社区王书记")
    async with pool.acquire() as conn:
        community = await add_community(conn, await add_subdistrict(conn, await add_district(conn)))
    await sign_in(page, web_app, pool, role=Role.org_department, scope_kind=ScopeKind.city, scope_id=None,
                  label="市委组织部", path="/admin/accounts")
    await page.get_by_role("button", name="开通账号").click()
    dialog = page.get_by_role("dialog", name="开通账号")
    items = dialog.locator(".el-form-item")
    await items.filter(has_text="手机号").locator("input").fill("12345")
    await items.filter(has_text="名称").locator("input").fill(label)
    await dialog.get_by_role("button", name="开通").click()
    await items.filter(has_text="手机号").locator(".el-form-item__error").wait_for()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM account WHERE label = $1", label) == 0

    phone = new_phone()
    await items.filter(has_text="手机号").locator("input").fill(phone)
    await items.filter(has_text="范围编号").locator("input").fill(str(community))
    await dialog.get_by_role("button", name="开通").click()
    await dialog.get_by_text("初始设置码只显示这一次").wait_for()
    code = (await dialog.locator("code").inner_text()).strip()
    assert code and code not in page.url
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM account WHERE label = $1", label) == 1
    await dialog.get_by_role("button", name="关闭", exact=True).click()
    await page.locator(".el-table__row").filter(has_text=label).filter(has_text="待设置密码").wait_for()

    await page.get_by_role("tab", name="访问令牌").click()
    await page.get_by_role("button", name="签发令牌").click()
    issue = page.get_by_role("dialog", name="签发令牌")
    await issue.locator(".el-form-item").filter(has_text="名称").locator("input").fill(unique("网格系统对接"))
    await issue.locator(".el-form-item").filter(has_text="范围编号").locator("input").fill(str(community))
    await issue.get_by_role("button", name="签发").click()
    await issue.get_by_text("令牌已签发").wait_for()
    assert (await issue.locator("code").inner_text()).startswith("sbd_")
    await shoot(page)
