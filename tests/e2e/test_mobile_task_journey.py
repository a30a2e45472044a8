"""Journey on a phone (390x844, WeChat): a member is offered a task, answers it with the time left
showing, checks in and out through the poster's QR URL (the second scan with a phone that was
signed out: sign-in brings it back to the same check-in page), writes the short service record;
the resident rates on the rating-code page (/m/rate#code=...) and the community verifies; the
member sees the points on the task and on 我的积分. Staff act through the API, with the codes the
console prints.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from playwright.async_api import Browser, Page, expect

from db.pool import Pool
from domain import task_rules
from schemas.auth import Role, ScopeKind
from tests.api_fixtures import bearer
from tests.e2e.conftest import PHONE_WIDTH, WebApp, open_phone, sign_in_phone
from tests.test_dispatch_workflow import add_member, make_city


async def _until_ok(call: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    """The answer once the task's workflow is ready for it (it moves on its own, a moment later)."""
    for _ in range(150):
        resp = await call()
        if resp.status_code == 200:
            return resp
        await asyncio.sleep(0.1)
    return resp


async def test_member_takes_an_offer_serves_on_site_and_sees_the_points(
    web_app: WebApp, phone: Page, browser: Browser, pool: Pool, shoot: Callable[[Page], Awaitable[Path]]
) -> None:
    city = await make_city(pool)
    member = await add_member(pool, city, grid_id=city.grid_id)
    staff = await bearer(pool, Role.community_staff, ScopeKind.community, city.community_id)
    async with httpx.AsyncClient(base_url=web_app.base_url, timeout=30) as http:
        r = await http.post("/needs", headers=staff, json={
            "category": "助老助残", "grid_id": city.grid_id, "urgency": "yellow", "description": "独居老人需陪同就医",
            "resident_name": "王大爷", "resident_phone": "13911112222"})
        need_id = r.json()["id"]
        assert (await http.post(f"/needs/{need_id}/decision", json={"approve": True}, headers=staff)).status_code == 200
        start = datetime.now(UTC) + timedelta(hours=2)
        r = await http.post("/tasks", headers=staff, json={
            "need_id": need_id, "title": "陪同王大爷就医", "headcount": 1, "window_start": start.isoformat(),
            "window_end": (start + timedelta(hours=2)).isoformat(), "place": "3号楼2单元"})
        assert r.status_code == 201, r.text
        created = r.json()
        task_id, rating_code = created["task"]["id"], created["resident_rating_code"]
        # The poster's link, as the console builds it (TaskCreatedDialog.vue).
        checkin = f"/m/checkin#task={task_id}&token={created['qr_token']}"

        # The offer shows on the 任务 tab with the time left to answer.
        await sign_in_phone(phone, web_app, pool, scope_id=member, label="党员")
        offer = phone.get_by_test_id("offers").locator(f"[data-task='{task_id}']")
        for _ in range(30):   # the offer is made by the task's workflow a moment after creation
            if await offer.count():
                break
            await asyncio.sleep(0.5)
            await phone.reload()
        await expect(offer.get_by_test_id("countdown")).to_contain_text("还剩")
        # Declining needs a reason, said beside the field; nothing is sent without one.
        await offer.get_by_role("button", name="婉拒").click()
        await offer.get_by_role("button", name="确认婉拒").click()
        await expect(offer.get_by_role("alert")).to_have_text("请填写婉拒原因, 便于社区改派")
        await offer.get_by_role("button", name="返回").click()
        await offer.get_by_role("button", name="接单").click()
        held = phone.get_by_test_id("held").locator(f"[data-task='{task_id}']")
        await expect(held).to_contain_text("待签到")
        assert await phone.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH

        # On site: the poster's URL. A wrong token is refused with the API's message.
        await phone.goto(web_app.url(f"/m/checkin#task={task_id}&token=not-the-token"))
        await phone.get_by_role("button", name="签 到").click()
        await expect(phone.get_by_role("alert")).to_have_text(task_rules.REFUSAL_BAD_TOKEN)
        await phone.goto(web_app.url(checkin))
        await phone.get_by_role("button", name="签 到").click()
        await expect(phone.get_by_test_id("onsite")).to_contain_text("服务结束后填写服务记录并签退")
        assert await phone.title() == "扫码签到 - 双报到"

        # The end of the service, scanned with a phone signed out: sign-in, then the same page.
        async with open_phone(browser, width=360) as small:
            await sign_in_phone(small, web_app, pool, scope_id=member, label="党员", path=checkin)
            parts = urlsplit(small.url)
            assert parts.path == "/m/checkin" and parts.fragment == checkin.split("#", 1)[1]
            await small.get_by_role("button", name="签 退").click()
            await expect(small.get_by_role("alert")).to_have_text("请简要填写服务内容 (做了什么, 服务了谁)")
            await small.get_by_label("服务记录").fill("陪同王大爷挂号、取药并送回家")
            await small.get_by_role("button", name="签 退").click()
            await expect(small.get_by_test_id("checked-out")).to_contain_text("已签退")
            assert await small.evaluate("document.documentElement.scrollWidth") <= 360
            assert await small.evaluate("localStorage.length + sessionStorage.length") == 0

        # The resident scans the rating code 评价码 (no account) and rates 5 stars on the rating page.
        async with open_phone(browser, width=414) as resident:
            await resident.goto(web_app.url(f"/m/rate#code={rating_code}"))
            await resident.get_by_test_id("stars").locator(".van-rate__item").nth(4).click()
            await resident.get_by_placeholder("说说服务怎么样").fill("很贴心")
            await resident.get_by_role("button", name="提交评价").click()
            await expect(resident.get_by_test_id("rated")).to_contain_text("感谢您的评价")
        # The community verifies.
        verified = await _until_ok(lambda: http.post(f"/tasks/{task_id}/verify", json={"note": "已回访"},
                                                     headers=staff))
        assert verified.status_code == 200 and verified.json()["points_credited"] == 1, verified.text

    async with pool.acquire() as conn:
        points = await conn.fetchval("SELECT points::float FROM evaluation_points WHERE task_id = $1 AND member_id = $2",
                                     task_id, member)
    await phone.goto(web_app.url(f"/m/tasks/{task_id}"))
    await expect(phone.get_by_test_id("points")).to_contain_text(f"+{points:g} 分")
    await expect(phone.get_by_test_id("my-service")).to_contain_text("陪同王大爷挂号、取药并送回家")
    assert await phone.title() == "任务详情 - 双报到"
    # 我的 → 我的积分: the balance (a new member: this task's points) and the line with its reason.
    await phone.locator(".van-tabbar").get_by_text("我的").click()
    await phone.get_by_text("我的积分").click()
    await phone.wait_for_url("**/m/me/points")
    await expect(phone.get_by_test_id("points-evaluation")).to_contain_text(f"{points:g}")
    line = phone.get_by_test_id("points-line").filter(has_text="任务「陪同王大爷就医」")
    await expect(line.first).to_contain_text(f"+{points:g}")
    assert await phone.evaluate("localStorage.length + sessionStorage.length") == 0
    await shoot(phone)
