"""考核评价 in the console: the organization department opens a run, reads a unit's basis line by
line, drills down to the unit's members and one member's basis, and downloads the .xlsx export."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.async_api import Page
from temporalio.testing import ActivityEnvironment

from activities.evaluation import EvaluationActivities
from db.pool import Pool
from schemas.auth import Role, ScopeKind
from schemas.evaluation import EvaluationScope
from schemas.evaluation_contract import RunStepInput
from services import evaluation
from tests.api_fixtures import ApiCity, api_city_fixture  # noqa: F401
from tests.e2e.conftest import WebApp, sign_in
from tests.test_evaluation_figures import PERIOD


async def test_org_department_reads_the_basis_of_a_unit_figure_and_exports(
    web_app: WebApp, page: Page, pool: Pool, api_city: ApiCity, tmp_path_factory: pytest.TempPathFactory,
    shoot: Callable[[Page], Awaitable[Path]],
) -> None:
    async with pool.acquire() as conn:
        run_id = await evaluation.create_run(
            conn, period=PERIOD, scope=EvaluationScope(district_ids=[api_city.district["A"], api_city.district["B"]]))
    await evaluation.compute_run(pool, run_id=run_id, partition_size=500)
    await ActivityEnvironment().run(
        EvaluationActivities(pool, reports_dir=tmp_path_factory.mktemp("reports")).evaluation_unit_reports,
        RunStepInput(run_id=run_id))
    async with pool.acquire() as conn:
        unit_name = await conn.fetchval("SELECT name FROM reporting_unit WHERE id = $1", api_city.unit["A"])

    await sign_in(page, web_app, pool, role=Role.org_department, scope_kind=ScopeKind.city, scope_id=None,
                  label="市委组织部", path="/admin/evaluation")
    await page.locator(".el-select").first.click()
    await page.get_by_role("option", name=f"#{run_id} ").click()
    row = page.locator(".el-table__row").filter(has_text=unit_name)
    await row.get_by_role("button", name="逐条依据").click()
    basis = page.get_by_role("dialog").filter(has_text="考核依据")
    for label in ("考核期间", "报到率", "完成率", "评优资格", "星级", "等次"):
        await basis.locator(".explain-lines").get_by_text(label, exact=True).wait_for()
    await page.keyboard.press("Escape")
    await basis.wait_for(state="hidden")

    await row.get_by_role("button", name="党员明细").click()
    drawer = page.get_by_role("dialog").filter(has_text="党员考核结果")
    members = drawer.locator(".el-table__row")
    await members.first.wait_for()
    assert await members.count() == len([m for m in api_city.members.values() if m.unit_id == api_city.unit["A"]])
    await members.first.get_by_role("button", name="逐条依据").click()
    member_basis = page.get_by_role("dialog").filter(has_text="考核依据").last
    await member_basis.get_by_text("服务次数", exact=True).wait_for()
    await shoot(page)
    await page.keyboard.press("Escape")
    await page.keyboard.press("Escape")
    await drawer.wait_for(state="hidden")

    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="导出单位结果 (.xlsx)").click()
    download = await download_info.value
    assert download.suggested_filename.endswith("-单位.xlsx")
    body = await asyncio.to_thread(Path(await download.path()).read_bytes)
    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert "单位名称" in rows[1] and any(unit_name in r for r in rows[2:])
