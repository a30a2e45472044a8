"""The mobile pages' frame on a phone (390x844, WeChat): /m sends a stranger to the mobile sign-in,
a member signing in lands on the tasks tab, and a deep link with a code in its hash comes back
whole after sign-in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Page, expect

from db.pool import Pool
from tests.api_fixtures import ApiCity, api_city_fixture  # noqa: F401
from tests.e2e.conftest import PHONE_WIDTH, WebApp, sign_in_phone


async def test_member_signs_in_on_the_phone_and_lands_on_tasks(
    web_app: WebApp, phone: Page, pool: Pool, api_city: ApiCity, shoot: Callable[[Page], Awaitable[Path]]
) -> None:
    await phone.goto(web_app.url("/m"))
    await phone.wait_for_url(lambda url: urlsplit(url).path == "/m/login")
    assert await phone.evaluate("window.innerWidth") == PHONE_WIDTH
    assert "MicroMessenger" in await phone.evaluate("navigator.userAgent")
    assert await phone.title() == "登录 - 双报到"

    await sign_in_phone(phone, web_app, pool, scope_id=api_city.members["a1"].id)
    assert urlsplit(phone.url).path == "/m/tasks"
    await expect(phone.locator(".van-nav-bar__title")).to_have_text("任务")
    assert await phone.title() == "任务 - 双报到"
    # Nothing of the person in the browser's storage.
    assert await phone.evaluate("localStorage.length + sessionStorage.length") == 0
    # Nothing wider than the phone.
    assert await phone.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    await shoot(phone)


async def test_deep_link_hash_survives_sign_in(web_app: WebApp, phone: Page, pool: Pool, api_city: ApiCity) -> None:
    """A scanned code opened signed out: sign-in brings the member back to the same path and hash,
    and the server never saw the hash (it rides after '#')."""
    target = "/m/tasks#task=7&token=abc-DEF_123"
    await sign_in_phone(phone, web_app, pool, scope_id=api_city.members["a1"].id, path=target)
    parts = urlsplit(phone.url)
    assert (parts.path, parts.fragment) == ("/m/tasks", "task=7&token=abc-DEF_123")
