"""The provider's console (/admin): a merchant of 道德联盟 signs in and lands on 兑换物品; it lists
an item through the form (a refusal beside its field first), changes its stock and its collection
time limit, and on 核销兑换码 confirms a member's code once (the member's name masked, a second try
refused beside the field). A co-building unit's admin picks the line of its resource list."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.async_api import Page, expect

from db import exchange_item as item_db
from db import exchange_provider as provider_db
from db.pool import Pool
from domain.exchange import code_hash
from schemas.auth import Role, ScopeKind
from tests import places
from tests.api_fixtures import build_api_city
from tests.e2e.conftest import WebApp, sign_in


async def test_merchant_keeps_its_items_and_confirms_a_code_in_the_console(
        web_app: WebApp, page: Page, pool: Pool) -> None:
    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        city = await build_api_city(conn)
        community = city.community["A"]
        provider_id = await provider_db.insert_merchant(conn, name="便民超市", community_id=community,
                                                        address="", admitted_by="e2e", at=now)
        member_id = await places.add_member(conn, community_id=community, grid_id=city.grids["A"][0],
                                            unit_id=city.unit["A"], name="核销党员", phone="13500008888")
        await conn.execute("INSERT INTO redeemable_points (member_id, service_key, points, parts, awarded_at)"
                           " VALUES ($1, $2, 10, '{}', now())", member_id, f"e2e-credit:{member_id}")
        soap = await item_db.insert_item(conn, provider_id=provider_id, data={
            "resource_item_id": None, "name": "肥皂 2 块", "description": "", "points": 3, "stock": 4,
            "valid_from": now - timedelta(hours=1), "valid_until": now + timedelta(days=30),
            "collect_at": "收银台", "collect_hours": 72, "community_id": community, "district_id": None,
        }, created_by="e2e", at=now)
        # a redemption waiting with the code 12345678 (as redeem writes it: the debit line with it)
        redemption = await conn.fetchval(
            "INSERT INTO exchange_redemption (item_id, member_id, request_id, points, code_hash, created_at,"
            " expires_at) VALUES ($1, $2, 'e2e-console-1', 3, $3, $4, $5) RETURNING id", soap, member_id,
            code_hash("12345678"), now, now + timedelta(days=3))
        await conn.execute("INSERT INTO redeemable_points (member_id, redemption_id, service_key, points, parts,"
                           " awarded_at) VALUES ($1, $2, $3, -3, '{}', now())", member_id, redemption,
                           f"redemption:{redemption}")

    await sign_in(page, web_app, pool, role=Role.provider, scope_kind=ScopeKind.provider, scope_id=provider_id,
                  label="超市店主")
    await page.wait_for_url("**/admin/exchange/items")
    menu = page.get_by_role("menubar")
    await expect(menu).to_contain_text("兑换物品")
    await expect(menu).to_contain_text("核销兑换码")
    items = page.get_by_test_id("provider-items")
    await expect(items).to_contain_text("肥皂 2 块")

    # 上架物品: 0 points is refused beside 所需积分, then listed
    await page.get_by_test_id("add-item").click()
    dialog = page.get_by_role("dialog", name="上架物品")
    await dialog.get_by_label("物品名称").fill("挂面 1 把")
    await dialog.get_by_label("所需积分").fill("0")
    await dialog.get_by_label("领取地点").fill("收银台")
    await dialog.get_by_test_id("save-item").click()
    await expect(dialog.locator(".el-form-item__error")).to_contain_text("points")
    await dialog.get_by_label("所需积分").fill("6")
    await dialog.get_by_test_id("save-item").click()
    await expect(dialog).to_be_hidden()
    row = items.locator(".el-table__row", has_text="挂面 1 把")
    await expect(row.get_by_test_id("stock")).to_have_text("10")

    # 改库存 and 改期限 (the collection time limit)
    await row.get_by_role("button", name="改库存").click()
    stock = page.get_by_role("dialog", name=re.compile("修改库存"))
    await stock.get_by_test_id("stock-input").locator("input").fill("7")
    await stock.get_by_test_id("save-stock").click()
    await expect(stock).to_be_hidden()
    await expect(row.get_by_test_id("stock")).to_have_text("7")
    await row.get_by_role("button", name="改期限").click()
    dates = page.get_by_role("dialog", name=re.compile("修改期限"))
    await dates.get_by_label("领取时限(小时)").fill("24")
    await dates.get_by_test_id("save-dates").click()
    await expect(dates).to_be_hidden()
    await expect(row).to_contain_text("24 小时")
    async with pool.acquire() as conn:
        listed = await conn.fetchrow("SELECT stock, collect_hours, points::float AS points FROM exchange_item"
                                     " WHERE provider_id = $1 AND name = '挂面 1 把'", provider_id)
    assert listed is not None and (listed["stock"], listed["collect_hours"], listed["points"]) == (7, 24, 6.0)

    # 核销兑换码: confirmed once, the member's name masked; the same code again refused beside the field
    await menu.get_by_text("核销兑换码").click()
    await page.wait_for_url("**/admin/exchange/collect")
    await page.get_by_test_id("code-input").fill("1234 5678")
    await page.get_by_test_id("confirm-code").click()
    confirmed = page.get_by_test_id("confirmed")
    await expect(confirmed).to_contain_text("肥皂 2 块")
    await expect(confirmed).to_contain_text(re.compile(r"核\*+"))
    await expect(page.locator("body")).not_to_contain_text("核销党员")
    await expect(page.locator("body")).not_to_contain_text("13500008888")
    await expect(page.locator(".el-table").first).to_contain_text("已领取")
    await page.get_by_test_id("code-input").fill("12345678")
    await page.get_by_test_id("confirm-code").click()
    await expect(page.locator(".el-form-item__error")).to_contain_text("不能重复核销")
    async with pool.acquire() as conn:
        state = await conn.fetchval("SELECT state FROM exchange_redemption WHERE id = $1", redemption)
        balance = await conn.fetchval("SELECT balance::float FROM redeemable_balance WHERE member_id = $1", member_id)
    assert (state, balance) == ("collected", 7.0)
    assert await page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert "12345678" not in page.url


async def test_unit_admin_lists_from_its_resource_list(web_app: WebApp, page: Page, pool: Pool) -> None:
    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        city = await build_api_city(conn)
        unit = city.unit["A"]
        await conn.execute("INSERT INTO co_building_agreement (unit_id, community_id, valid_from, valid_until)"
                           " VALUES ($1, $2, $3, $4)", unit, city.community["A"], now - timedelta(days=1),
                           now + timedelta(days=300))
        await conn.execute("INSERT INTO resource_item (unit_id, category, description, quantity)"
                           " VALUES ($1, '医疗服务', '免费体检名额', 20)", unit)
    await sign_in(page, web_app, pool, role=Role.unit_admin, scope_kind=ScopeKind.unit, scope_id=unit,
                  label="单位管理员", path="/admin/exchange/items")
    await page.get_by_test_id("add-item").click()
    dialog = page.get_by_role("dialog", name="上架物品")
    await dialog.get_by_label("物品名称").fill("体检一次")
    await dialog.get_by_label("领取地点").fill("单位医务室")
    await dialog.get_by_test_id("save-item").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("请选择本单位资源清单中的条目")
    await dialog.locator(".el-form-item", has_text="资源清单条目").locator(".el-select__wrapper").click()
    await page.get_by_role("option", name="医疗服务: 免费体检名额 (20)").click()
    await dialog.get_by_test_id("save-item").click()
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_test_id("provider-items")).to_contain_text("体检一次")
