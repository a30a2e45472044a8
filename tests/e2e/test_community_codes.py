"""点单码 as a printable QR poster: issued on the page, the code works at the residents' door, and it
never reaches the address bar or browser storage; issuing again revokes the code first printed."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from playwright.async_api import Page, expect

from db.pool import Pool
from schemas.auth import Role, ScopeKind
from tests.api_fixtures import build_api_city
from tests.e2e.conftest import WebApp, sign_in


async def _issue(page: Page, grid_name: str) -> str:
    await page.get_by_test_id("need-code-grid").click()
    await page.get_by_role("option", name=grid_name).click()
    await page.get_by_test_id("issue-need-code").click()
    await page.get_by_role("button", name="签发", exact=True).click()
    poster = page.get_by_test_id("poster")
    await expect(poster.get_by_text("居民点单码")).to_be_visible()
    await expect(poster.locator("svg")).to_be_visible()   # the QR code, drawn in the page
    return re.sub(r"^码: ", "", await poster.locator(".code").inner_text())


async def test_need_code_poster(page: Page, web_app: WebApp, pool: Pool,
                                shoot: Callable[[Page], Awaitable[Path]]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        city = await build_api_city(conn)
    await sign_in(page, web_app, pool, role=Role.community_staff, scope_kind=ScopeKind.community,
                  scope_id=city.community["A"], label="社区书记")
    await page.goto(web_app.url("/admin/codes"))
    first = await _issue(page, "网格A1")
    second = await _issue(page, "网格A1")
    assert first != second
    for code in (first, second):
        assert code not in page.url
    stored = await page.evaluate("() => JSON.stringify([{...localStorage}, {...sessionStorage}])")
    assert first not in stored and second not in stored

    async with httpx.AsyncClient(base_url=web_app.base_url) as http:
        body = {"category": "助老助残", "description": "楼道灯坏了", "urgency": "blue"}
        resp = await http.post("/resident/needs", json={**body, "code": second})
        assert resp.status_code == 201, resp.text
        revoked = await http.post("/resident/needs", json={**body, "code": first})
        assert revoked.status_code in (401, 403, 404, 422), revoked.text
    await shoot(page)
