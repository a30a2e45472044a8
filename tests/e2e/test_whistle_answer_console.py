"""吹哨响应 in the console: a unit admin finds the whistle summoning the unit, answers without an
arrival time (the API's reason is shown and nothing is recorded), then answers in full."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Page
from temporalio.testing import WorkflowEnvironment

from db.pool import Pool
from schemas.auth import Actor, Role, ScopeKind
from schemas.dispatch import Urgency
from schemas.whistle import WhistleBlow
from services import whistle as whistle_service
from tests.conftest import unique
from tests.e2e.conftest import WebApp, sign_in
from tests.test_whistle_workflow import make_city
from tests.waiting import rows_eventually


async def test_a_unit_admin_answers_a_whistle(
    web_app: WebApp, page: Page, pool: Pool, temporal_env: WorkflowEnvironment,
    shoot: Callable[[Page], Awaitable[Path]],
) -> None:
    city = await make_city(pool)
    title = unique("主水管爆裂")
    staff = Actor(role=Role.community_staff, scope_kind=ScopeKind.community, scope_id=city.community_id,
                  label="社区工作人员")
    blown = await whistle_service.blow(pool, temporal_env.client, staff, WhistleBlow(
        community_id=city.community_id, grid_id=city.grid_id, title=title, matter="小区主水管爆裂, 需抽排积水",
        urgency=Urgency.yellow, people_needed=6, respond_by=datetime.now(UTC) + timedelta(hours=3),
    ), now=datetime.now(UTC))
    await rows_eventually(pool, "SELECT 1 FROM whistle_summon WHERE whistle_id = $1 AND unit_id = $2",
                          blown.id, city.located)

    await sign_in(page, web_app, pool, role=Role.unit_admin, scope_kind=ScopeKind.unit, scope_id=city.located,
                  label="驻区单位管理员", path="/admin/whistle-answers")
    await page.locator(".el-table__row").filter(has_text=title).get_by_role("button", name="查看 / 响应").click()
    drawer = page.get_by_role("dialog").filter(has_text=title)
    await drawer.get_by_text("待响应").wait_for()
    await drawer.get_by_role("button", name="提交").click()
    await drawer.locator(".el-alert").filter(has_text="报到响应须说明预计到达时间").wait_for()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT status FROM whistle_summon WHERE whistle_id = $1 AND unit_id = $2",
                                   blown.id, city.located) == "summoned"

    await drawer.get_by_placeholder("选择时间").fill(
        (datetime.now() + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"))
    await page.keyboard.press("Enter")
    form_items = drawer.locator(".el-form-item")
    await form_items.filter(has_text="现场联系人").locator("input").fill("李工")
    await form_items.filter(has_text="联系电话").locator("input").fill("13812345678")
    await drawer.get_by_role("button", name="提交").click()
    await drawer.get_by_text("本单位的答复").wait_for()
    rows = await rows_eventually(
        pool, "SELECT people, contact_name FROM whistle_summon WHERE whistle_id = $1 AND unit_id = $2"
              " AND status = 'answered'", blown.id, city.located)
    assert rows[0]["people"] == 1 and rows[0]["contact_name"] == "李工"
    await shoot(page)
