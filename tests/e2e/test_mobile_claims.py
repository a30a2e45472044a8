"""Claiming on a phone at the narrow end (360 px, WeChat): standing posts 认岗 of the member's
community are listed nearest first (home grid, its neighbour, then the rest); tapping 认岗 moves
the post under 我的任务 waiting for check-in; a post taken by someone else meanwhile is refused with
the API's message beside its button; a poster scanned before claiming offers the claim, then 签到."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.async_api import Browser, Page, expect

from db.pool import Pool
from schemas.auth import Role, ScopeKind
from tests import places
from tests.api_fixtures import bearer
from tests.e2e.conftest import WebApp, open_phone, sign_in_phone
from tests.test_dispatch_workflow import add_member, make_city


async def test_member_claims_the_nearest_post_on_a_small_phone(
    web_app: WebApp, browser: Browser, pool: Pool, shoot: Callable[[Page], Awaitable[Path]]
) -> None:
    city = await make_city(pool)
    member = await add_member(pool, city, grid_id=city.grid_id)
    rival = await add_member(pool, city, grid_id=city.neighbour_grid_id)
    async with pool.acquire() as conn:
        far = await places.add_grid(conn, city.community_id, "远")
    staff = await bearer(pool, Role.community_staff, ScopeKind.community, city.community_id)
    now = datetime.now(UTC)
    posts, tokens = {}, {}
    async with httpx.AsyncClient(base_url=web_app.base_url, timeout=30) as http:
        # The far post starts soonest, the home one last: nearness comes before time.
        for name, grid, hours in (("far", far, 1), ("next", city.neighbour_grid_id, 2), ("home", city.grid_id, 3)):
            r = await http.post("/tasks", headers=staff, json={
                "grid_id": grid, "category": "文明创建", "title": f"文明劝导岗{name}", "mode": "post",
                "headcount": 1, "window_start": (now + timedelta(hours=hours)).isoformat(),
                "window_end": (now + timedelta(hours=hours + 2)).isoformat(), "place": "小区门口"})
            assert r.status_code == 201, r.text
            posts[name], tokens[name] = r.json()["task"]["id"], r.json()["qr_token"]

        async with open_phone(browser, width=360) as phone:
            await sign_in_phone(phone, web_app, pool, scope_id=member)
            listing = phone.get_by_test_id("claimable")
            ours = [str(posts[n]) for n in ("home", "next", "far")]
            await expect(listing.locator("[data-task]").filter(has_text="文明劝导岗")).to_have_count(3)
            shown = await listing.locator("[data-task]").evaluate_all("rows => rows.map(r => r.dataset.task)")
            assert [t for t in shown if t in ours] == ours

            await listing.locator(f"[data-task='{posts['home']}']").get_by_role("button", name="认岗").click()
            await expect(phone.get_by_test_id("held").locator(f"[data-task='{posts['home']}']")).to_contain_text("待签到")
            await expect(listing.locator("[data-task]").filter(has_text="文明劝导岗")).to_have_count(2)

            # Someone else takes the neighbour's post while the list is on screen: refused beside it.
            them = await bearer(pool, Role.member, ScopeKind.member, rival)
            r = await http.post(f"/tasks/{posts['next']}/claim", json={"member_id": rival}, headers=them)
            assert r.status_code == 200, r.text
            next_row = listing.locator(f"[data-task='{posts['next']}']")
            await next_row.get_by_role("button", name="认岗").click()
            await expect(next_row.get_by_role("alert")).to_have_text("该任务已满员或已结束, 请选择其他任务")

            # The far post's poster scanned before claiming: the page offers the claim, then 签到.
            await phone.goto(web_app.url(f"/m/checkin#task={posts['far']}&token={tokens['far']}"))
            onsite = phone.get_by_test_id("onsite")
            await expect(onsite).to_contain_text("您还没有认领这项任务")
            await onsite.get_by_role("button", name="认岗").click()
            await onsite.get_by_role("button", name="签 到").click()
            await expect(onsite).to_contain_text("服务结束后填写服务记录并签退")
            assert await phone.evaluate("document.documentElement.scrollWidth") <= 360
            await shoot(phone)
