"""On a phone (390x844, WeChat): an offer whose answer window runs out while the member looks at it
stops offering 接单/婉拒 and says it expired, in its place; a phone whose clock runs behind still
shows the buttons, and its late answer is refused by the API with the API's Chinese message, after
which that phone too says the offer expired. The window is a short one, set through the real
service (the task's dispatch policy); time runs through it for real.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Browser, Page, expect
from temporalio.testing import WorkflowEnvironment

from db.pool import Pool
from domain import task_rules
from domain.dispatch_policy import dispatch_policy
from schemas.auth import Actor, Role, ScopeKind
from schemas.dispatch import TaskCreate
from services import dispatch
from tests.e2e.conftest import PHONE_WIDTH, WebApp, open_phone, sign_in_phone
from tests.test_dispatch_workflow import add_member, make_city

ANSWER_WINDOW = timedelta(seconds=20)
CLOSED = "已过答复期限, 该派单邀请已失效"
ANSWERS = re.compile("接单|婉拒")


async def _offer_status(pool: Pool, task_id: int, member_id: int) -> tuple[str, datetime] | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT status, expires_at FROM offer WHERE task_id = $1 AND member_id = $2 "
                                  "ORDER BY id DESC LIMIT 1", task_id, member_id)
    return None if row is None else (row["status"], row["expires_at"])


async def _until_status(pool: Pool, task_id: int, member_id: int, status: str) -> datetime:
    """The offer's deadline once its row has `status` (the task's workflow writes it a moment later)."""
    for _ in range(300):
        found = await _offer_status(pool, task_id, member_id)
        if found is not None and found[0] == status:
            return found[1]
        await asyncio.sleep(0.1)
    raise AssertionError(f"offer never {status}: {found}")


async def test_an_offer_running_out_stops_taking_answers_on_the_phone(
    web_app: WebApp, phone: Page, browser: Browser, pool: Pool, temporal_env: WorkflowEnvironment,
    shoot: Callable[[Page], Awaitable[Path]],
) -> None:
    city = await make_city(pool)
    member = await add_member(pool, city, grid_id=city.grid_id)
    await add_member(pool, city, grid_id=city.neighbour_grid_id)   # who the task goes to next
    await sign_in_phone(phone, web_app, pool, scope_id=member, label="党员", path="/m/tasks")
    async with open_phone(browser) as behind:
        await sign_in_phone(behind, web_app, pool, scope_id=member, label="党员", path="/m/tasks")

        staff = Actor(role=Role.community_staff, scope_kind=ScopeKind.community, scope_id=city.community_id,
                      label="社区工作者")
        start = datetime.now(UTC) + timedelta(hours=2)
        created = await dispatch.create_task(
            pool, temporal_env.client, staff,
            TaskCreate(grid_id=city.grid_id, category="助老助残", title="帮李奶奶取药", window_start=start,
                       window_end=start + timedelta(hours=1), place="5号楼"),
            now=datetime.now(UTC), policy=dispatch_policy(offer_timeout=ANSWER_WINDOW))
        task_id = created.task.id
        try:
            deadline = await _until_status(pool, task_id, member, "offered")
            await phone.reload()
            offer = phone.get_by_test_id("offers").locator(f"[data-task='{task_id}']")
            await expect(offer.get_by_test_id("countdown")).to_contain_text("还剩")
            await expect(offer.get_by_role("button", name="接单")).to_be_visible()

            # This phone's clock stays before the deadline: it keeps showing the buttons.
            await behind.clock.set_fixed_time(deadline - timedelta(seconds=10))
            await behind.reload()
            late = behind.get_by_test_id("offers").locator(f"[data-task='{task_id}']")
            await expect(late.get_by_role("button", name="接单")).to_be_visible()

            # The window runs out while the member looks: the buttons go, the offer says so.
            await expect(offer.get_by_test_id("offer-closed")).to_have_text(
                CLOSED, timeout=int((ANSWER_WINDOW + timedelta(seconds=20)).total_seconds() * 1000))
            await expect(offer.get_by_role("button", name=ANSWERS)).to_have_count(0)
            assert datetime.now(UTC) >= deadline

            # Once the task's workflow has expired the offer (and offered the task to the next
            # member), the task's page says so and a fresh look at the tab has nothing to answer.
            await _until_status(pool, task_id, member, "expired")
            await offer.get_by_text("帮李奶奶取药").click()
            await phone.wait_for_url(f"**/m/tasks/{task_id}")
            await expect(phone.get_by_test_id("offer-closed")).to_have_text(CLOSED)
            await expect(phone.get_by_role("button", name=ANSWERS)).to_have_count(0)
            await phone.locator(".van-tabbar").get_by_text("任务").click()
            await phone.get_by_test_id("held").wait_for()
            await expect(phone.get_by_test_id("offers")).to_have_count(0)

            # The phone whose clock runs behind answers late: the API refuses, its message shows,
            # and the offer there closes too.
            await late.get_by_role("button", name="接单").click()
            await expect(late.get_by_role("alert")).to_have_text(task_rules.REFUSAL_OFFER_EXPIRED)
            await expect(late.get_by_test_id("offer-closed")).to_have_text(CLOSED)
            await expect(late.get_by_role("button", name=ANSWERS)).to_have_count(0)
            assert (await _offer_status(pool, task_id, member)) == ("expired", deadline)
            assert await behind.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
            assert await behind.evaluate("localStorage.length + sessionStorage.length") == 0
            await shoot(behind)
        finally:
            await temporal_env.client.get_workflow_handle(task_rules.task_workflow_id(task_id)).terminate()
