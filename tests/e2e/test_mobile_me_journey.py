"""Journeys of the member's own pages on a phone (390x844, WeChat): 我要报到 with the community's
answer showing on the phone (confirmed: status, grid, certificate with its QR; returned: the
reason), and a service logged on the phone, approved by the community, showing in both points
ledgers with its reason.

The community's side goes through the API as its console would (the console's own journeys test
those pages); the member's side is all on the phone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from playwright.async_api import Page, expect

from db.pool import Pool
from domain.local_time import LOCAL_ZONE
from tests import places
from tests.api_fixtures import ApiCity, build_api_city
from tests.e2e.conftest import PHONE_WIDTH, WebApp, sign_in_phone


async def _newcomer(pool: Pool) -> tuple[ApiCity, int]:
    """A fresh city and a member living in its community A (grid A1) who has never registered."""
    async with pool.acquire() as conn, conn.transaction():
        city = await build_api_city(conn)
        member_id = await places.add_member(conn, community_id=city.community["A"], grid_id=city.grids["A"][0],
                                            unit_id=city.unit["A"], name="新党员", phone="13500008888")
    return city, member_id


async def _shown_day(phone: Page, at: datetime) -> str:
    """The day the phone shows for `at` (its own clock's zone, as the page formats it)."""
    day: str = await phone.evaluate(
        "iso => { const d = new Date(iso); const p = n => String(n).padStart(2, '0');"
        " return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}` }", at.isoformat())
    return day


async def _no_personal_data_kept(phone: Page) -> None:
    assert await phone.evaluate("localStorage.length + sessionStorage.length") == 0
    assert "13500008888" not in phone.url and "新党员" not in await phone.title()
    assert await phone.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH


async def test_member_registers_on_the_phone_and_sees_the_confirmation(
    web_app: WebApp, phone: Page, pool: Pool, shoot: Callable[[Page], Awaitable[Path]]
) -> None:
    city, member_id = await _newcomer(pool)
    async with pool.acquire() as conn:
        community_name = await conn.fetchval("SELECT name FROM community WHERE id = $1", city.community["A"])
        grid_names = [await conn.fetchval("SELECT name FROM grid WHERE id = $1", g) for g in city.grids["A"]]
    await sign_in_phone(phone, web_app, pool, scope_id=member_id, path="/m/me")
    await expect(phone.locator(".van-nav-bar__title")).to_have_text("我的")
    await expect(phone.get_by_test_id("me-registration")).to_contain_text("未报到")

    # 我要报到: where I live is proposed; I pick the second grid and submit.
    await phone.get_by_test_id("me-registration").click()
    await phone.wait_for_url("**/m/me/registration")
    await expect(phone.get_by_test_id("registration-community")).to_contain_text(community_name)
    await phone.get_by_test_id("grid-option").filter(has_text=grid_names[1]).click()
    await phone.get_by_test_id("registration-submit").click()
    card = phone.get_by_test_id("registration-card")
    await expect(card).to_contain_text("待确认")
    await expect(card).to_contain_text(grid_names[1])
    await expect(phone.get_by_test_id("registration-form")).to_have_count(0)

    async with pool.acquire() as conn:
        registration_id = await conn.fetchval(
            "SELECT id FROM member_registration WHERE member_id = $1 AND status = 'submitted'", member_id)
    assert registration_id is not None

    # The community confirms (as its console does, through the API).
    async with httpx.AsyncClient(base_url=web_app.base_url, timeout=30) as http:
        r = await http.post("/registrations/members/confirm", json={"ids": [registration_id]},
                            headers=city.auth("staff_a"))
        assert r.status_code == 200, r.text

    # On the phone: 已报到 in the grid chosen, the history, a message, and the certificate.
    await phone.reload()
    await expect(card).to_contain_text("已报到")
    await expect(card).to_contain_text(grid_names[1])
    await expect(card).to_contain_text("有效期至")
    await phone.go_back()
    await phone.wait_for_url(lambda url: urlsplit(url).path == "/m/me")
    await expect(phone.get_by_test_id("me-registration")).to_contain_text("已报到")
    # The decision is in my messages too: unread until opened.
    await expect(phone.get_by_test_id("me-inbox").locator(".van-badge")).to_have_text("1")
    await phone.get_by_test_id("me-inbox").click()
    note = phone.get_by_test_id("inbox-note").filter(has_text="报到已确认")
    await expect(note).to_have_attribute("data-read", "no")
    await note.click()
    await expect(phone.get_by_test_id("inbox-body")).to_contain_text("编入网格支部")
    await expect(note).to_have_attribute("data-read", "yes")
    await phone.go_back()
    await phone.get_by_text("报到证", exact=True).click()
    await phone.wait_for_url("**/m/me/certificate")
    await expect(phone.get_by_test_id("certificate-number")).to_contain_text("No. ")
    qr = phone.get_by_test_id("certificate-qr")
    await expect(qr).to_be_visible()
    assert await qr.evaluate("img => img.complete && img.naturalWidth > 0")
    await expect(phone.get_by_test_id("certificate")).to_be_visible()
    assert await phone.title() == "报到证 - 双报到"
    await _no_personal_data_kept(phone)
    await shoot(phone)


async def test_member_sees_why_the_registration_was_returned_and_registers_again(
    web_app: WebApp, phone: Page, pool: Pool, shoot: Callable[[Page], Awaitable[Path]]
) -> None:
    city, member_id = await _newcomer(pool)
    await sign_in_phone(phone, web_app, pool, scope_id=member_id, path="/m/me/registration")
    await phone.get_by_test_id("registration-submit").click()
    card = phone.get_by_test_id("registration-card")
    await expect(card).to_contain_text("待确认")
    async with pool.acquire() as conn:
        registration_id = await conn.fetchval(
            "SELECT id FROM member_registration WHERE member_id = $1 AND status = 'submitted'", member_id)
    async with httpx.AsyncClient(base_url=web_app.base_url, timeout=30) as http:
        r = await http.post("/registrations/members/reject", headers=city.auth("staff_a"),
                            json={"ids": [registration_id], "reason": "住址不在本社区, 请向实际居住社区报到"})
        assert r.status_code == 200, r.text

    await phone.reload()
    await expect(card).to_contain_text("已退回")
    await expect(phone.get_by_test_id("registration-reason")).to_contain_text("住址不在本社区")
    # Returned: the form is back, to choose another community by name.
    await expect(phone.get_by_test_id("registration-form")).to_be_visible()
    await phone.get_by_test_id("registration-community").click()
    await phone.get_by_test_id("community-search").locator("input").fill("没有这样的社区名")
    await phone.get_by_test_id("community-search").locator("input").press("Enter")
    await expect(phone.get_by_test_id("registration-form")).to_contain_text("没有名称含")
    await phone.get_by_test_id("registration-submit").click()
    await expect(card).to_contain_text("待确认")
    # The returned one stays in view with its reason.
    earlier = phone.get_by_test_id("registration-earlier")
    await expect(earlier).to_contain_text("已退回")
    await expect(earlier).to_contain_text("住址不在本社区")
    await _no_personal_data_kept(phone)
    await shoot(phone)


async def test_member_logs_a_service_and_sees_points_in_both_ledgers(
    web_app: WebApp, phone: Page, pool: Pool, shoot: Callable[[Page], Awaitable[Path]]
) -> None:
    """A member with an active registration logs a 2-hour service on the phone; the community
    approves it; it falls in a redeemable campaign over the community, so both ledgers are
    credited, and the points page shows both balances and the line's reason in each."""
    city, member_id = await _newcomer(pool)
    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        await places.register_member(conn, member_id, community_id=city.community["A"],
                                     grid_id=city.grids["A"][0], confirmed_at=now)
        campaign = await conn.fetchval(
            "INSERT INTO campaign (name, kind, launched_by_kind, launched_by_id, scope_district_ids, window_start,"
            " window_end, created_by, status, redeemable) VALUES ('道德银行积分月', '在职党员进社区', 'district', $1,"
            " ARRAY[$1]::bigint[], $2, $3, 'test', 'running', true) RETURNING id",
            city.district["A"], now - timedelta(days=10), now + timedelta(days=20))
        await conn.execute("INSERT INTO campaign_community (campaign_id, community_id) VALUES ($1, $2)",
                           campaign, city.community["A"])
    await sign_in_phone(phone, web_app, pool, scope_id=member_id, path="/m/me/services")
    await phone.get_by_test_id("services-new").click()
    await phone.wait_for_url("**/m/me/services/new")
    yesterday = (now.astimezone(LOCAL_ZONE) - timedelta(days=1)).date().isoformat()
    await phone.get_by_test_id("log-date").locator("input").fill(yesterday)
    await phone.get_by_test_id("log-start").locator("input").fill("09:00")
    await phone.get_by_test_id("log-end").locator("input").fill("11:00")
    await phone.get_by_test_id("log-category").filter(has_text="助老助残").click()
    await phone.get_by_test_id("log-description").locator("textarea").fill("陪独居老人就医")
    await phone.get_by_test_id("log-submit").click()
    await phone.wait_for_url(lambda url: urlsplit(url).path == "/m/me/services")
    record = phone.get_by_test_id("service-record")
    await expect(record).to_contain_text("助老助残 · 2 小时")
    await expect(record).to_contain_text("待核实")

    async with pool.acquire() as conn:
        record_id = await conn.fetchval("SELECT id FROM service_record WHERE member_id = $1", member_id)
    async with httpx.AsyncClient(base_url=web_app.base_url, timeout=30) as http:
        r = await http.post("/service-records/approve", json={"record_ids": [record_id]},
                            headers=city.auth("staff_a"))
        assert r.status_code == 200, r.text
        credited = r.json()["items"][0]["points"]
    assert credited > 0

    await phone.reload()
    await expect(record).to_contain_text("已核实")
    await expect(phone.get_by_test_id("services-hours")).to_have_text("2")
    await phone.goto(web_app.url("/m/me/points"))
    shown = f"{credited:g}"
    await expect(phone.get_by_test_id("points-evaluation")).to_contain_text(shown)
    await expect(phone.get_by_test_id("points-redeemable")).to_contain_text(shown)
    lines = phone.get_by_test_id("points-line")
    await expect(lines).to_have_count(2)
    reason = "服务记录: 助老助残 (2 小时) · 活动「道德银行积分月」"
    for ledger in ("evaluation", "redeemable"):
        line = phone.locator(f"[data-testid=points-line][data-ledger={ledger}]")
        await expect(line).to_contain_text(reason)
        await expect(line).to_contain_text(f"+{shown}")
    await phone.get_by_role("tab", name="可兑换积分").click()
    await expect(lines).to_have_count(1)
    await expect(lines).to_contain_text("可兑换积分")
    await phone.get_by_role("tab", name="全部").click()
    await expect(lines).to_have_count(2)
    await _no_personal_data_kept(phone)
    await shoot(phone)


async def test_member_asks_to_move_to_another_unit_and_sees_it_accepted(
    web_app: WebApp, phone: Page, pool: Pool, shoot: Callable[[Page], Awaitable[Path]]
) -> None:
    """转单位 on the phone: the new unit found by name, the request pending, the receiving unit
    accepts (through the API, as its console does), the phone shows 已转入 and a message."""
    city, member_id = await _newcomer(pool)
    async with pool.acquire() as conn:
        target = await conn.fetchval("SELECT name FROM reporting_unit WHERE id = $1", city.unit["B"])
    await sign_in_phone(phone, web_app, pool, scope_id=member_id, path="/m/me/transfer")
    await phone.get_by_test_id("transfer-submit").click()
    await expect(phone.get_by_role("alert")).to_contain_text("请先查找并选择转入单位")
    search = phone.get_by_test_id("unit-search").locator("input")
    await search.fill(target)
    await search.press("Enter")
    await phone.get_by_test_id("unit-option").filter(has_text=target).click()
    await phone.get_by_placeholder("说明 (选填), 如: 工作调动").fill("工作调动")
    await phone.get_by_test_id("transfer-submit").click()
    request = phone.get_by_test_id("transfer")
    await expect(request).to_contain_text(f"→ {target}")
    await expect(request).to_contain_text("待确认")

    async with pool.acquire() as conn:
        transfer_id = await conn.fetchval("SELECT id FROM unit_transfer WHERE member_id = $1", member_id)
    async with httpx.AsyncClient(base_url=web_app.base_url, timeout=30) as http:
        r = await http.post(f"/unit-transfers/{transfer_id}/accept", headers=city.auth("unit_b"))
        assert r.status_code == 200, r.text

    await phone.reload()
    await expect(request).to_contain_text("已转入")
    await expect(phone.get_by_role("button", name="撤回")).to_have_count(0)
    await phone.goto(web_app.url("/m/me"))
    await expect(phone.get_by_test_id("me-inbox").locator(".van-badge")).to_have_text("1")
    await phone.get_by_test_id("me-inbox").click()
    await expect(phone.get_by_test_id("inbox-note")).to_have_count(1)
    await _no_personal_data_kept(phone)
    await shoot(phone)


async def test_member_re_registers_when_due(
    web_app: WebApp, phone: Page, pool: Pool, shoot: Callable[[Page], Awaitable[Path]]
) -> None:
    """Ten days before the registration runs out the phone says so and offers 重新报到; after it,
    the new expiry shows and the offer is gone."""
    city, member_id = await _newcomer(pool)
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        registration_id = await places.register_member(conn, member_id, community_id=city.community["A"],
                                                       grid_id=city.grids["A"][0], confirmed_at=now)
        await conn.execute("UPDATE member_registration SET valid_until = $2 WHERE id = $1",
                           registration_id, now + timedelta(days=10))
    await sign_in_phone(phone, web_app, pool, scope_id=member_id, path="/m/me")
    await expect(phone.get_by_test_id("me-registration")).to_contain_text("请重新报到")
    await phone.get_by_test_id("me-registration").click()
    old_day = await _shown_day(phone, now + timedelta(days=10))
    card = phone.get_by_test_id("registration-card")
    await expect(card).to_contain_text(old_day)
    await phone.get_by_test_id("registration-renew").click()
    await expect(phone.get_by_test_id("registration-renew")).to_have_count(0)
    async with pool.acquire() as conn:
        valid_until = await conn.fetchval("SELECT valid_until FROM member_registration WHERE id = $1",
                                          registration_id)
    assert valid_until > now + timedelta(days=150)
    await expect(card).to_contain_text(await _shown_day(phone, valid_until))
    await _no_personal_data_kept(phone)
    await shoot(phone)
