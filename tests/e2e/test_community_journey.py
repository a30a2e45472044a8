"""Journey: a community confirms registrations in bulk, verifies a need, dispatches it, follows it
on the ledger and verifies its completion, through the console in a real browser.

The member's and the resident's steps (accept, scan in and out, rate) have no console page: they go
through the API as their front doors would, with the codes the console printed on its posters.
"""

from __future__ import annotations

import random
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from playwright.async_api import Page, expect

from db.pool import Pool
from schemas.auth import Role, ScopeKind
from tests.api_fixtures import ApiCity, build_api_city
from tests.conftest import unique
from tests.e2e.conftest import WebApp, sign_in
from tests.waiting import fetch, rows_eventually

ALL_SLOTS = list(range(21))


async def _city_with_applicants(pool: Pool, http: httpx.AsyncClient) -> tuple[ApiCity, list[int]]:
    """The two-community test city, plus three members of community A who register now (through
    the API, so their cohorts' workflows run): with a2 from the fixture, four await confirmation."""
    async with pool.acquire() as conn, conn.transaction():
        city = await build_api_city(conn)
        new_ids = []
        for n in range(3):
            new_ids.append(await conn.fetchval(
                """
                INSERT INTO member (name, gender, phone, id_number, unit_id, home_community_id, home_grid_id,
                                    skills, free_slots)
                VALUES ($1, '男', $2, $3, $4, $5, $6, '{陪护}', $7) RETURNING id
                """,
                f"申请人{n}{unique()}", "137" + "".join(random.choices("0123456789", k=8)),
                "110105" + "".join(random.choices("0123456789", k=11)) + "X", city.unit["A"],
                city.community["A"], city.grids["A"][0], ALL_SLOTS,
            ))
    for member_id in new_ids:
        resp = await http.post("/registrations/members", json={"member_id": member_id},
                               headers=city.auth("staff_a"))
        assert resp.status_code == 201, resp.text
    return city, [city.members["a2"].id, *new_ids]


async def test_community_confirms_verifies_dispatches_and_signs_off(
    page: Page, web_app: WebApp, pool: Pool, shoot: Callable[[Page], Awaitable[Path]]
) -> None:
    async with httpx.AsyncClient(base_url=web_app.base_url, timeout=30) as http:
        city, applicants = await _city_with_applicants(pool, http)
        staff = city.auth("staff_a")
        await sign_in(page, web_app, pool, role=Role.community_staff, scope_kind=ScopeKind.community,
                      scope_id=city.community["A"], label="社区书记")

        # The workbench counts what waits: the four registrations.
        await page.goto(web_app.url("/admin/workbench"))
        card = page.locator("[data-queue=registrations_to_confirm]")
        await expect(card.locator(".count")).to_have_text("4")

        # 报到审核: a reject without a reason is refused beside the reason field and changes nothing.
        await card.click()
        await page.wait_for_url("**/admin/registrations")
        table = page.get_by_test_id("registrations")
        await expect(table.locator(".el-table__body tr")).to_have_count(4)
        await table.locator(".el-table__body tr").first.locator(".el-checkbox").click()
        await page.get_by_test_id("bulk-reject").click()
        await page.get_by_test_id("reject-submit").click()
        await expect(page.locator(".el-form-item__error")).to_have_text("退回报到申请必须填写原因")
        statuses = await fetch(pool, "SELECT status FROM member_registration WHERE member_id = ANY($1)", applicants)
        assert {r["status"] for r in statuses} == {"submitted"}
        await page.get_by_role("dialog", name="批量退回报到").get_by_role("button", name="取消").click()

        # ... then all four confirmed in one go, each into their home grid.
        await table.locator(".el-table__header .el-checkbox").click()
        await page.get_by_test_id("bulk-confirm").click()
        await page.get_by_test_id("confirm-submit").click()
        await expect(page.get_by_text("已确认 4 条报到")).to_be_visible()
        await expect(table.locator(".el-table__body tr")).to_have_count(0)
        rows = await fetch(pool, "SELECT status, grid_id FROM member_registration WHERE member_id = ANY($1)",
                           applicants)
        assert [r["status"] for r in rows] == ["active"] * 4
        assert {r["grid_id"] for r in rows} == {city.grids["A"][0]}

        # A resident's need, taken by phone (the API, as a grid worker's app would).
        description = f"独居老人需陪同就医{unique()}"
        resp = await http.post("/needs", headers=staff, json={
            "category": "助老助残", "grid_id": city.grids["A"][0], "urgency": "yellow",
            "description": description, "resident_name": "王阿姨", "resident_phone": "13911112222"})
        assert resp.status_code == 201, resp.text
        need_id = resp.json()["id"]

        # 需求核查: publish it.
        await page.goto(web_app.url("/admin/needs"))
        row = page.get_by_test_id("needs").locator("tr", has_text=description)
        await row.get_by_test_id("publish").click()
        await expect(page.get_by_text(f"需求 #{need_id} 已核查发布")).to_be_visible()
        await expect(row).to_have_count(0)

        # 任务派单: turn it into a task, dispatched (派单) by the engine.
        await page.goto(web_app.url("/admin/tasks"))
        await page.get_by_test_id("needs-to-dispatch").locator("tr", has_text=description) \
            .get_by_test_id("dispatch-need").click()
        await page.get_by_test_id("task-title").fill("陪同王阿姨就医")
        await page.get_by_test_id("task-submit").click()
        created = page.get_by_role("dialog", name="任务已创建, 开始派单")
        await expect(created.get_by_text("服务签到码")).to_be_visible()
        codes = [re.sub(r"^码: ", "", t) for t in await created.locator(".code").all_inner_texts()]
        assert len(codes) == 2  # the on-site code and the resident's rating code
        checkin_token, rating_code = codes
        task = (await fetch(pool, "SELECT id, status FROM task WHERE need_id = $1", need_id))[0]
        task_id = task["id"]
        await created.get_by_test_id("created-close").click()

        # The member invited answers, comes, scans in and out (their phone's steps, via the API).
        offer = (await rows_eventually(pool, "SELECT member_id FROM offer WHERE task_id = $1 AND status = 'offered'",
                                       task_id))[0]
        member_id = offer["member_id"]
        resp = await http.post(f"/tasks/{task_id}/answer", headers=staff,
                               json={"member_id": member_id, "accept": True})
        assert resp.status_code == 200, resp.text
        for step in ("check-in", "check-out"):
            resp = await http.post(f"/tasks/{task_id}/{step}", headers=staff,
                                   json={"member_id": member_id, "token": checkin_token, "report": "已陪同就医"})
            assert resp.status_code == 200, resp.text
        await rows_eventually(pool, "SELECT 1 FROM task WHERE id = $1 AND status = 'done'", task_id)
        # The resident rates with the code from the poster (no account).
        resp = await http.post("/resident/rating", json={"code": rating_code, "score": 5, "comment": "很满意"})
        assert resp.status_code == 200, resp.text
        await rows_eventually(pool, "SELECT 1 FROM resident_rating WHERE task_id = $1", task_id)

        # The ledger: the task, its drawer with the timeline and why this member was chosen.
        await page.goto(web_app.url("/admin/ledger"))
        await page.get_by_test_id("ledger").locator("tr", has_text="陪同王阿姨就医").click()
        await page.wait_for_url(f"**/admin/ledger/{task_id}")
        drawer = page.get_by_test_id("task-drawer")
        await expect(drawer.get_by_test_id("task-status")).to_have_text("已完成待评价")
        offers = drawer.get_by_test_id("offers")
        await expect(offers.locator(".el-table__body tr")).to_have_count(1)
        await expect(offers.get_by_text("已接单")).to_be_visible()
        timeline = drawer.get_by_test_id("timeline")
        for step in ("创建任务", "发出派单邀请", "党员接单", "扫码签到", "扫码签退", "居民评价"):
            await expect(timeline.get_by_text(step, exact=True).first).to_be_visible()
        await expect(timeline.get_by_text("评分 5 星")).to_be_visible()

        # Verify the completion: points credited, the task signed off 销号.
        await drawer.get_by_test_id("verify-pass").click()
        await page.get_by_test_id("verify-submit").click()
        await expect(page.get_by_text(re.compile(r"核查通过, 已记积分 \d+ 人次"))).to_be_visible()
        await rows_eventually(pool, "SELECT 1 FROM task WHERE id = $1 AND status = 'closed'", task_id)
        await page.reload()
        await expect(drawer.get_by_test_id("task-status")).to_have_text("已销号")
        points = await fetch(pool, "SELECT member_id FROM evaluation_points WHERE task_id = $1", task_id)
        assert [p["member_id"] for p in points] == [member_id]
        await expect(drawer.locator(".el-loading-mask")).to_be_hidden()
        await shoot(page)
