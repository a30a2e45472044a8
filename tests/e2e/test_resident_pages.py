"""The residents' pages on a phone (390x844, WeChat), no account, against the real stack: a resident
scans the grid's 点单码 URL, places a need and follows its state while the community checks it;
the served resident rates through the 评价码 URL (once: the spent code is refused in Chinese); the
community's public board 晒单 shows the completed service and no one's name or phone. Codes stay in
the URL's hash and out of browser storage."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.async_api import Page, expect

from db.pool import Pool
from domain import task_rules
from schemas.auth import Role, ScopeKind
from tests import places
from tests.api_fixtures import bearer
from tests.e2e.conftest import WebApp
from tests.serving import serve_task
from tests.test_dispatch_workflow import ALL_SLOTS, City, make_city
from tests.waiting import until

RESIDENT_NAME, RESIDENT_PHONE = "孙大妈", "13912340001"
MEMBER_NAME, MEMBER_PHONE = "钱志愿", "13612340002"

Shoot = Callable[[Page], Awaitable[Path]]


async def _stored(page: Page) -> str:
    return str(await page.evaluate("() => JSON.stringify([{...localStorage}, {...sessionStorage}])"))


async def _grid_code(http: httpx.AsyncClient, staff: dict[str, str], grid_id: int) -> str:
    r = await http.post(f"/grids/{grid_id}/need-code", headers=staff)
    assert r.status_code == 201, r.text
    code: str = r.json()["code"]
    return code


async def test_resident_places_a_need_and_follows_its_state(phone: Page, web_app: WebApp, pool: Pool,
                                                            shoot: Shoot) -> None:
    city = await make_city(pool)
    staff = await bearer(pool, Role.community_staff, ScopeKind.community, city.community_id)
    async with httpx.AsyncClient(base_url=web_app.base_url) as http:
        code = await _grid_code(http, staff, city.grid_id)

        await phone.goto(web_app.url(f"/m/need#code={code}"))
        await expect(phone.get_by_text("甲社区 · g")).to_be_visible()
        await phone.get_by_role("button", name="提交需求").click()
        await expect(phone.get_by_text("请选择需求类别")).to_be_visible()   # beside the field, nothing sent
        await phone.get_by_test_id("categories").get_by_text("助老助残", exact=True).click()
        await phone.get_by_placeholder("需要什么帮助、在哪里、什么时间方便").fill("老人行动不便, 需要帮忙买菜")
        await phone.get_by_placeholder("如: 王阿姨").fill(RESIDENT_NAME)
        await phone.get_by_placeholder("便于社区联系您").fill("1391234")
        await phone.get_by_role("button", name="提交需求").click()
        await expect(phone.get_by_text("联系电话格式不正确", exact=False)).to_be_visible()
        await phone.get_by_placeholder("便于社区联系您").fill(RESIDENT_PHONE)
        await phone.get_by_role("button", name="提交需求").click()

        receipt = phone.get_by_test_id("need-receipt")
        await expect(receipt.get_by_text("待社区核查")).to_be_visible()
        assert code not in await _stored(phone)
        await phone.get_by_test_id("follow-link").click()
        await phone.wait_for_url("**/m/need/status#follow=*")
        status = phone.get_by_test_id("need-status")
        await expect(status).to_have_attribute("data-status", "submitted")
        await expect(phone.get_by_test_id("status-label")).to_have_text("待社区核查")
        need_id = int(await status.get_by_test_id("need-id").get_attribute("data-need-id") or 0)
        token = phone.url.split("#follow=", 1)[1]
        assert token not in await _stored(phone) and "follow" not in phone.url.split("#", 1)[0]

        r = await http.post(f"/needs/{need_id}/decision", headers=staff,
                            json={"approve": True, "reason": "已核实, 明天上午安排党员上门"})
        assert r.status_code == 200, r.text
        await phone.get_by_role("button", name="刷新").click()
        await expect(status).to_have_attribute("data-status", "verified")
        await expect(phone.get_by_test_id("status-label")).to_have_text("已核查, 待派单")
        await expect(phone.get_by_test_id("decision-text")).to_contain_text("明天上午安排党员上门")
        text = await phone.locator("body").inner_text()
        assert RESIDENT_NAME not in text and RESIDENT_PHONE not in text
    assert await phone.title() == "需求进度 - 双报到"
    await shoot(phone)


async def test_a_wrong_grid_code_is_refused_in_chinese(phone: Page, web_app: WebApp, shoot: Shoot) -> None:
    await phone.goto(web_app.url("/m/need#code=sbd_need_not_a_real_code"))
    await expect(phone.get_by_test_id("code-refused")).to_contain_text(task_rules.REFUSAL_BAD_NEED_CODE)
    await expect(phone.get_by_role("button", name="提交需求")).to_have_count(0)
    await shoot(phone)


async def _served_task(http: httpx.AsyncClient, pool: Pool, city: City, staff: dict[str, str]) -> tuple[int, str]:
    """A resident's need, verified, made a task, served by one member (accept, check in, check out):
    the task's id and the resident's rating code."""
    async with pool.acquire() as conn:
        member = await places.add_member(conn, community_id=city.community_id, grid_id=city.grid_id,
                                         free_slots=ALL_SLOTS, name=MEMBER_NAME, phone=MEMBER_PHONE)
        await places.register_member(conn, member, community_id=city.community_id, grid_id=city.grid_id,
                                     confirmed_at=datetime.now(UTC))
    me = await bearer(pool, Role.member, ScopeKind.member, member)
    code = await _grid_code(http, staff, city.grid_id)
    r = await http.post("/resident/needs", json={"code": code, "category": "环境整治", "description": "楼道堆物清理",
                                                 "resident_name": RESIDENT_NAME, "resident_phone": RESIDENT_PHONE})
    need_id = r.json()["need_id"]
    await http.post(f"/needs/{need_id}/decision", headers=staff, json={"approve": True})
    start = datetime.now(UTC) + timedelta(hours=1)
    r = await http.post("/tasks", headers=staff, json={
        "need_id": need_id, "title": f"帮{RESIDENT_NAME}清理楼道", "window_start": start.isoformat(),
        "window_end": (start + timedelta(hours=2)).isoformat()})
    assert r.status_code == 201, r.text
    task_id, qr, rating_code = r.json()["task"]["id"], r.json()["qr_token"], r.json()["resident_rating_code"]
    await serve_task(http, me, member_id=member, task_id=task_id, qr_token=qr)
    return task_id, rating_code


async def test_resident_rates_and_the_board_shows_the_service_without_personal_data(
    phone: Page, web_app: WebApp, pool: Pool, shoot: Shoot
) -> None:
    city = await make_city(pool)
    staff = await bearer(pool, Role.community_staff, ScopeKind.community, city.community_id)
    async with httpx.AsyncClient(base_url=web_app.base_url, timeout=30) as http:
        task_id, rating_code = await _served_task(http, pool, city, staff)
        await until(lambda: http.post("/resident/rating-code/open", json={"code": rating_code}),
                    lambda resp: resp.status_code == 200 and resp.json()["ready"] is True)

        await phone.goto(web_app.url(f"/m/rate#code={rating_code}"))
        await expect(phone.get_by_text("环境整治")).to_be_visible()
        await phone.get_by_role("button", name="提交评价").click()
        await expect(phone.get_by_text("请点选 1-5 颗星")).to_be_visible()
        await phone.get_by_test_id("stars").locator(".van-rate__item").nth(3).click()
        await phone.get_by_placeholder("说说服务怎么样").fill("打扫得很干净")
        await phone.get_by_role("button", name="提交评价").click()
        await expect(phone.get_by_test_id("rated")).to_contain_text("感谢您的评价")
        assert rating_code not in await _stored(phone)

        await phone.reload()   # the same link opened again: the code is spent now
        await expect(phone.get_by_test_id("code-refused")).to_contain_text(task_rules.REFUSAL_RATING_CODE_USED)

        r = await http.post(f"/tasks/{task_id}/verify", json={}, headers=staff)
        assert r.status_code == 200, r.text
        await until(lambda: http.get(f"/resident/board/{city.community_id}"),
                    lambda resp: resp.status_code == 200 and resp.json()["total"] == 1)

    await phone.goto(web_app.url(f"/m/board/{city.community_id}"))
    item = phone.get_by_test_id("board-item")
    await expect(item).to_have_count(1)
    await expect(phone.get_by_test_id("board-total")).to_have_text("1")
    await expect(item).to_contain_text("环境整治")
    await expect(item).to_contain_text("1 名党员参与")
    await expect(item.locator(".van-rate__icon--full")).to_have_count(4)
    text = await phone.locator("body").inner_text()
    for personal in (MEMBER_NAME, MEMBER_PHONE, RESIDENT_NAME, RESIDENT_PHONE, MEMBER_PHONE[-4:],
                     RESIDENT_PHONE[-4:], "清理楼道"):
        assert personal not in text, personal
    assert await phone.title() == "社区晒单 - 双报到"
    await shoot(phone)
