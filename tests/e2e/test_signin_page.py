"""Opening the address `up` prints lands on the console's sign-in page, in Chinese."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import Page

from db.pool import Pool
from domain.sign_in import BAD_PASSWORD
from schemas.auth import Role, ScopeKind
from tests.e2e.conftest import WebApp
from tests.sign_in_fixtures import make_account


async def test_root_opens_the_sign_in_page(web_app: WebApp, page: Page,
                                           shoot: Callable[[Page], Awaitable[Path]]) -> None:
    """`/` redirects to /admin, which (nobody signed in) shows the sign-in form with both ways in."""
    await page.goto(web_app.url("/"))
    await page.wait_for_url("**/admin/login**")
    await page.get_by_role("heading", name="双报到 管理控制台").wait_for()
    assert await page.get_by_role("tab", name="密码登录").is_visible()
    assert await page.get_by_role("tab", name="短信验证码登录").is_visible()
    assert await page.title() == "登录 - 双报到管理控制台"
    # A bad phone number is refused in Chinese before any call is made.
    await page.get_by_placeholder("11 位手机号").fill("123")
    await page.get_by_role("button", name="登 录").click()
    await page.get_by_role("alert").filter(has_text="请输入 11 位手机号").wait_for()
    shot = await shoot(page)
    assert shot.stat().st_size > 10_000


async def test_deep_link_keeps_the_path_for_after_sign_in(web_app: WebApp, page: Page) -> None:
    """A console deep link opened without a session goes to sign-in with `next` = that path."""
    await page.goto(web_app.url("/admin/campaigns"))
    await page.wait_for_url(lambda url: urlsplit(url).path == "/admin/login")
    assert parse_qs(urlsplit(page.url).query) == {"next": ["/admin/campaigns"]}


async def test_wrong_password_shows_the_api_message(web_app: WebApp, page: Page, pool: Pool) -> None:
    """A wrong password shows the API's own Chinese message and stays on the sign-in page."""
    _, phone = await make_account(pool, role=Role.unit_admin, scope_kind=ScopeKind.city, scope_id=None)
    await page.goto(web_app.url("/admin/login"))
    await page.get_by_placeholder("11 位手机号").fill(phone)
    await page.get_by_placeholder("密码", exact=True).fill("not-the-password-1")
    await page.get_by_role("button", name="登 录").click()
    await page.get_by_role("alert").filter(has_text=BAD_PASSWORD).wait_for()
    assert urlsplit(page.url).path == "/admin/login"
