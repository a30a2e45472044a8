"""Sign-in safety in the browser: five wrong passwords lock the account (and the right one no longer
opens it), and an expired session returns to sign-in and then back to where the person was."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import Page

from db.pool import Pool
from domain.sign_in import BAD_PASSWORD, LOCK_THRESHOLD
from schemas.auth import Role, ScopeKind
from tests.conftest import unique
from tests.e2e.conftest import WebApp, sign_in
from tests.places import add_community, add_district, add_subdistrict, add_unit
from tests.sign_in_fixtures import PASSWORD, make_account


async def _try(page: Page, phone: str, password: str) -> None:
    await page.get_by_placeholder("11 位手机号").fill(phone)
    await page.get_by_placeholder("密码", exact=True).fill(password)
    await page.get_by_role("button", name="登 录").click()


async def test_a_locked_account(
    web_app: WebApp, page: Page, pool: Pool, shoot: Callable[[Page], Awaitable[Path]]
) -> None:
    account_id, phone = await make_account(pool, role=Role.org_department, scope_kind=ScopeKind.city,
                                           scope_id=None, label="被锁定的账号")
    await page.goto(web_app.url("/admin/login"))
    alert = page.get_by_role("alert")
    for attempt in range(1, LOCK_THRESHOLD):
        await _try(page, phone, f"wrong-password-{attempt}")
        await alert.filter(has_text=BAD_PASSWORD).wait_for()
        async with pool.acquire() as conn:
            failed = await conn.fetchval("SELECT failed_attempts FROM account WHERE id = $1", account_id)
        assert failed == attempt
    await _try(page, phone, "wrong-password-last")
    await alert.filter(has_text="账号已锁定").wait_for()
    # Locked: even the right password is refused with the lock message, and nothing is signed in.
    await _try(page, phone, PASSWORD)
    await page.get_by_text(f"连续 {LOCK_THRESHOLD} 次登录失败").wait_for()
    assert urlsplit(page.url).path == "/admin/login"
    async with pool.acquire() as conn:
        locked_until = await conn.fetchval("SELECT locked_until FROM account WHERE id = $1", account_id)
        sessions = await conn.fetchval("SELECT count(*) FROM account_session WHERE account_id = $1", account_id)
    assert locked_until is not None and sessions == 0
    assert phone not in page.url and phone not in await page.title()
    await shoot(page)


async def test_an_expired_session_returns_to_sign_in_and_back(
    web_app: WebApp, page: Page, pool: Pool, shoot: Callable[[Page], Awaitable[Path]]
) -> None:
    async with pool.acquire() as conn:
        district = await add_district(conn)
        subdistrict = await add_subdistrict(conn, district)
        community = await add_community(conn, subdistrict)
        unit = await add_unit(conn, unique("会话测试单位"), community_id=community)
    phone = await sign_in(page, web_app, pool, role=Role.unit_admin, scope_kind=ScopeKind.unit, scope_id=unit,
                          label="会话测试管理员", path="/admin/unit-transfers")
    await page.get_by_text("没有转单位申请").wait_for()
    assert urlsplit(page.url).path == "/admin/unit-transfers"

    # The session runs out (idle beyond 2 h, older than 12 h) while the page is open.
    async with pool.acquire() as conn:
        expired = await conn.execute(
            "UPDATE account_session SET created_at = now() - interval '13 hours',"
            " last_seen_at = now() - interval '3 hours'"
            " WHERE account_id = (SELECT id FROM account WHERE phone = $1) AND revoked_at IS NULL", phone)
    assert expired == "UPDATE 1"
    await page.get_by_role("button", name="申请转出").click()
    await page.wait_for_url(lambda url: urlsplit(url).path == "/admin/login")
    assert parse_qs(urlsplit(page.url).query) == {"next": ["/admin/unit-transfers"]}

    await _try(page, phone, PASSWORD)
    await page.wait_for_url(lambda url: urlsplit(url).path == "/admin/unit-transfers")
    await page.get_by_text("没有转单位申请").wait_for()
    await page.get_by_test_id("who").filter(has_text="会话测试管理员").wait_for()
    await shoot(page)
