"""名录 and 审计日志 in the console show personal data exactly as the API masks it for the reader:
the organization department sees a member's phone and ID number masked in the members directory
and inside an audit snapshot; the member's own community staff see them whole."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Page

from db.pool import Pool
from schemas.auth import Role, ScopeKind
from tests.api_fixtures import ApiCity, api_city_fixture  # noqa: F401
from tests.e2e.conftest import WebApp, sign_in


async def _member_row(page: Page, name: str) -> str:
    await page.get_by_placeholder("姓名包含").fill(name)
    await page.get_by_role("button", name="查询").click()
    await page.locator(".el-pagination").get_by_text("共 1 条").wait_for()
    row = page.locator(".el-table__row").filter(has_text=name)
    assert await page.locator(".el-table__row").count() == 1
    return await row.inner_text()


async def test_directory_and_audit_show_personal_data_as_masked_for_the_reader(
    web_app: WebApp, page: Page, pool: Pool, api_city: ApiCity, shoot: Callable[[Page], Awaitable[Path]]
) -> None:
    a1 = api_city.members["a1"]
    action = f"test.{uuid.uuid4().hex[:8]}"
    async with pool.acquire() as conn:
        name = await conn.fetchval("SELECT name FROM member WHERE id = $1", a1.id)
        await conn.execute(
            "INSERT INTO audit_log (actor, action, subject_kind, subject_id, before, after)"
            " VALUES ('测试', $1, 'member', $2, $3, $4)",
            action, a1.id, {"phone": a1.phone}, {"phone": a1.phone, "id_number": a1.id_number})
    masked_phone = f"{a1.phone[:3]}****{a1.phone[-4:]}"

    await sign_in(page, web_app, pool, role=Role.community_staff, scope_kind=ScopeKind.community,
                  scope_id=api_city.community["A"], label="社区甲工作人员", path="/admin/directory/members")
    text = await _member_row(page, name)
    assert a1.phone in text and a1.id_number in text
    await page.get_by_role("button", name="退出").click()
    await page.wait_for_url("**/admin/login**")

    await sign_in(page, web_app, pool, role=Role.org_department, scope_kind=ScopeKind.city, scope_id=None,
                  label="市委组织部", path="/admin/directory/members")
    text = await _member_row(page, name)
    assert masked_phone in text and a1.phone not in text and a1.id_number not in text

    await page.get_by_role("menubar").get_by_text("审计日志").click()
    await page.wait_for_url("**/admin/audit")
    await page.get_by_placeholder("如 confirm").fill(action)
    await page.get_by_role("button", name="查询").click()
    await page.locator(".el-pagination").get_by_text("共 1 条").wait_for()
    entry = page.locator(".el-table__row").filter(has_text=action)
    assert await page.locator(".el-table__row").count() == 1
    await entry.locator(".el-table__expand-icon").click()
    snapshot = page.locator("pre").filter(has_text="id_number")
    await snapshot.wait_for()
    after = await snapshot.inner_text()
    assert masked_phone in after and a1.phone not in after and a1.id_number not in after
    assert a1.phone not in page.url and name not in page.url
    await shoot(page)
