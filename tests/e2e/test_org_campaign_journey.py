"""The organization department creates and launches a campaign, sees its progress and the dashboard."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Page, expect

from db.pool import Pool
from schemas.auth import Role, ScopeKind
from tests.api_fixtures import ApiCity, api_city_fixture  # noqa: F401
from tests.conftest import unique
from tests.e2e.conftest import WebApp, sign_in


async def _names(pool: Pool, api_city: ApiCity) -> tuple[str, str, str]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT d.name AS district, s.name AS subdistrict, c.name AS community FROM community c "
            "JOIN subdistrict s ON s.id = c.subdistrict_id JOIN district d ON d.id = s.district_id WHERE c.id = $1",
            api_city.community["A"])
    assert row is not None
    return row["district"], row["subdistrict"], row["community"]


async def test_org_department_creates_launches_and_follows_a_campaign(
    web_app: WebApp, page: Page, pool: Pool, api_city: ApiCity, shoot: Callable[[Page], Awaitable[Path]]
) -> None:
    """Create a draft over community A picked on the hierarchy tree (a service quota of 2 a quarter),
    launch it, read its progress (A's 3 members), open 平急转换, see how many grids and tasks it
    would touch (A's grids) and confirm it (one task per grid, in the history), then find the
    campaign's progress on the dashboard."""
    district, subdistrict, community = await _names(pool, api_city)
    name = f"第四季度进社区{unique()}"
    await sign_in(page, web_app, pool, role=Role.org_department, scope_kind=ScopeKind.city, scope_id=None,
                  label="市委组织部")
    await page.get_by_role("menubar").get_by_text("活动管理").click()
    await page.get_by_role("button", name="新建活动").click()
    await page.wait_for_url("**/admin/campaigns/new")

    # Empty name: refused on the page, nothing sent.
    await page.get_by_role("button", name="保存草稿").click()
    await expect(page.get_by_role("alert").filter(has_text="请填写活动名称")).to_be_visible()

    await page.get_by_placeholder("如: 2026 年第四季度在职党员进社区").fill(name)
    await page.locator(".el-form-item", has_text="活动范围").locator(".el-select__wrapper").click()
    tree = page.locator(".el-tree-select__popper")
    for parent in (district, subdistrict):
        await tree.locator(".el-tree-node__content", has_text=parent).locator(".el-tree-node__expand-icon").click()
    await tree.locator(".el-tree-node__content", has_text=community).locator(".el-checkbox").click()
    await page.keyboard.press("Escape")
    await page.locator(".el-form-item", has_text="每人至少服务次数").locator("input").fill("2")
    await page.get_by_role("button", name="保存草稿").click()

    await page.wait_for_url("**/admin/campaigns/*")
    await expect(page.get_by_test_id("campaign-status")).to_have_text("草稿")
    await page.get_by_role("button", name="发布").click()
    await expect(page.get_by_test_id("campaign-status")).to_have_text("已发布")
    totals = page.get_by_test_id("campaign-totals")
    await expect(totals.locator(".el-statistic", has_text="范围内党员")).to_contain_text("3")

    await page.get_by_role("button", name="平急转换").click()
    preview = page.get_by_test_id("mobilise-preview")
    grids = len(api_city.grids["A"])
    await expect(preview).to_contain_text(f"1 个社区的 {grids} 个网格")
    confirm = page.get_by_role("button", name=f"确认平急转换 ({grids} 项任务)")
    await expect(confirm).to_be_enabled()
    await confirm.click()
    # The page reloads the campaign once the mobilisation answered (tasks recorded, their
    # workflows started): its history then shows it.
    await expect(page.locator(".el-timeline")).to_contain_text("平急转换", timeout=60_000)
    async with pool.acquire() as conn:
        campaign_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
        tasks = await conn.fetchval("SELECT count(*) FROM campaign_task WHERE campaign_id = $1", campaign_id)
    assert tasks == grids

    await page.get_by_role("menubar").get_by_text("首页").click()
    await page.wait_for_url("**/admin/dashboard")
    await expect(page.get_by_test_id("dashboard")).to_have_attribute("data-ready", "yes")
    live = page.get_by_test_id("live-campaign").filter(has_text=name)
    await expect(live).to_contain_text("已报到")
    await expect(page.get_by_text("报到趋势 (近 12 个月)")).to_be_visible()
    await shoot(page)
