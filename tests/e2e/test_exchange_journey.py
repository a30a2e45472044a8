"""The points exchange on two phones (390x844, WeChat) and the console: a member redeems an item on
the 兑换 tab and gets the one-time code; the merchant types it on its 核销 page; the member's
balance and the item's stock are right on the phones, in the database (balance row == sum of the
ledger's lines) and in the community's console.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from db import exchange_item as item_db
from db import exchange_provider as provider_db
from db.pool import Pool
from schemas.auth import Role, ScopeKind
from tests import places
from tests.api_fixtures import build_api_city
from tests.e2e.conftest import PHONE_WIDTH, WebApp, open_phone, sign_in, sign_in_phone


async def test_member_redeems_and_the_merchant_confirms_the_code(
    web_app: WebApp, phone: Page, page: Page, browser: Browser, pool: Pool,
    shoot: Callable[[Page], Awaitable[Path]],
) -> None:
    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        city = await build_api_city(conn)
        community = city.community["A"]
        member_id = await places.add_member(conn, community_id=community, grid_id=city.grids["A"][0],
                                            unit_id=city.unit["A"], name="兑换党员", phone="13500007777")
        await conn.execute("INSERT INTO redeemable_points (member_id, service_key, points, parts, awarded_at)"
                           " VALUES ($1, $2, 10, '{}', now())", member_id, f"e2e-credit:{member_id}")
        provider_id = await provider_db.insert_merchant(conn, name="爱心超市", community_id=community,
                                                        address="幸福路 1 号", admitted_by="e2e", at=now)
        item_id = await item_db.insert_item(conn, provider_id=provider_id, data={
            "resource_item_id": None, "name": "大米 5 斤", "description": "东北大米", "points": 4, "stock": 2,
            "valid_from": now - timedelta(hours=1), "valid_until": now + timedelta(days=30),
            "collect_at": "爱心超市收银台", "collect_hours": 72, "community_id": community, "district_id": None,
        }, created_by="e2e", at=now)

    # the member: the 兑换 tab, the item, 兑换 with its confirm dialog, the code shown large
    await sign_in_phone(phone, web_app, pool, scope_id=member_id, path="/m/exchange")
    await expect(phone.get_by_test_id("balance")).to_have_text("10")
    await phone.locator(f"[data-item='{item_id}']").click()
    await phone.wait_for_url(f"**/m/exchange/items/{item_id}")
    await phone.get_by_role("button", name="兑换").click()
    await phone.get_by_role("button", name="确认兑换").click()
    code = (await phone.get_by_test_id("code").inner_text()).replace(" ", "")
    assert len(code) == 8 and code.isdigit()
    await expect(phone.get_by_test_id("balance")).to_have_text("6")
    await expect(phone.get_by_test_id("stock")).to_have_text("1")
    assert await phone.evaluate("localStorage.length + sessionStorage.length") == 0
    assert code not in phone.url and await phone.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH

    # the merchant, on its own phone: 核销兑换码, then the same code again is refused
    async with open_phone(browser) as shop:
        await sign_in_phone(shop, web_app, pool, scope_id=provider_id, role=Role.provider,
                            scope_kind=ScopeKind.provider, label="爱心超市店主", path="/m/exchange/confirm")
        await shop.get_by_placeholder("请输入党员出示的 8 位兑换码").fill(code)
        await shop.get_by_role("button", name="核销").click()
        confirmed = shop.get_by_test_id("confirmed")
        await expect(confirmed).to_contain_text("大米 5 斤")
        await expect(confirmed).to_contain_text(re.compile(r"兑换人兑\*+"))   # the member's name masked
        await expect(confirmed).not_to_contain_text("兑换党员")
        await expect(shop.locator("body")).not_to_contain_text("13500007777")
        await shop.get_by_placeholder("请输入党员出示的 8 位兑换码").fill(code)
        await shop.get_by_role("button", name="核销").click()
        await expect(shop.get_by_role("alert")).to_contain_text("不能重复核销")
        await shop.goto(web_app.url("/m/exchange/provider"))
        await expect(shop.locator(f"[data-item='{item_id}']").get_by_test_id("stock")).to_have_text("1")

    # the community's console: the redemption collected, the stock
    await sign_in(page, web_app, pool, role=Role.community_staff, scope_kind=ScopeKind.community,
                  scope_id=community, path="/admin/exchange")
    await expect(page.locator(".el-table").first).to_contain_text("已领取")
    await expect(page.locator(".el-table").first).to_contain_text("兑换党员")

    # the member: 我的兑换 says collected; the balance is what was paid once
    await phone.goto(web_app.url("/m/exchange/mine"))
    await expect(phone.get_by_test_id("redemptions")).to_contain_text("已领取")
    await phone.goto(web_app.url("/m/exchange"))
    await expect(phone.get_by_test_id("balance")).to_have_text("6")
    async with pool.acquire() as conn:
        balance = await conn.fetchval("SELECT balance::float FROM redeemable_balance WHERE member_id = $1", member_id)
        ledger = await conn.fetchval("SELECT sum(points)::float FROM redeemable_points WHERE member_id = $1", member_id)
        stock = await conn.fetchval("SELECT stock FROM exchange_item WHERE id = $1", item_id)
    assert (balance, ledger, stock) == (6.0, 6.0, 1)
    await shoot(phone)


async def test_merchant_lists_an_item_and_changes_its_stock(web_app: WebApp, phone: Page, pool: Pool) -> None:
    """我的物品 on the merchant's phone: 上架物品 through the form (a refusal beside its field first),
    then the stock changed and the item withdrawn."""
    async with pool.acquire() as conn, conn.transaction():
        city = await build_api_city(conn)
        provider_id = await provider_db.insert_merchant(conn, name="便民理发店", community_id=city.community["A"],
                                                        address="", admitted_by="e2e", at=datetime.now(UTC))
    await sign_in_phone(phone, web_app, pool, scope_id=provider_id, role=Role.provider,
                        scope_kind=ScopeKind.provider, label="理发店店主", path="/m/exchange/provider")
    await expect(phone.get_by_test_id("provider-items")).to_contain_text("还没有上架的物品")
    await phone.get_by_role("button", name="上架物品").click()
    await phone.wait_for_url("**/m/exchange/provider/new")
    await phone.get_by_label("物品名称").fill("免费理发一次")
    await phone.get_by_label("所需积分").fill("0")
    await phone.get_by_label("库存").fill("3")
    await phone.get_by_label("领取地点").fill("理发店")
    await phone.get_by_role("button", name="上架").click()
    await expect(phone.get_by_role("alert").first).to_contain_text("points")   # 0 points: refused, field named
    await phone.get_by_label("所需积分").fill("5")
    await phone.get_by_role("button", name="上架").click()
    await phone.wait_for_url("**/m/exchange/provider")
    async with pool.acquire() as conn:
        item_id = await conn.fetchval("SELECT id FROM exchange_item WHERE provider_id = $1", provider_id)
    row = phone.locator(f"[data-item='{item_id}']")
    await expect(row.get_by_test_id("stock")).to_have_text("3")
    await row.locator(".van-stepper__plus").click()
    await row.get_by_role("button", name="保存库存").click()
    await expect(row.get_by_test_id("stock")).to_have_text("4")
    await row.get_by_role("button", name="下架").click()
    await expect(row).to_contain_text("已下架")
    async with pool.acquire() as conn:
        stock, status = await conn.fetchrow("SELECT stock, status FROM exchange_item WHERE id = $1", item_id) or (0, "")
    assert (stock, status) == (4, "withdrawn")
