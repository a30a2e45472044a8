"""On a phone (390x844, WeChat): a member logs a service done with a partner 共同服务人, named by
the partner's 党员编号 (which the partner's own form shows). A partner the community has not
confirmed is refused by the API, its message beside the field, and nothing is logged; the member's
own number is refused on the phone; the confirmed partner is taken and kept with the record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Page, expect

from db.pool import Pool
from domain.local_time import LOCAL_ZONE
from services.service_record import CO_SERVER_REFUSAL
from tests import places
from tests.api_fixtures import build_api_city
from tests.e2e.conftest import PHONE_WIDTH, WebApp, sign_in_phone


async def test_member_logs_a_service_with_a_partner_on_the_phone(
    web_app: WebApp, phone: Page, pool: Pool, shoot: Callable[[Page], Awaitable[Path]]
) -> None:
    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        city = await build_api_city(conn)
        community, grid = city.community["A"], city.grids["A"][0]
        member, partner, elsewhere = [
            await places.add_member(conn, community_id=community, grid_id=grid, unit_id=city.unit["A"], name=name)
            for name in ("登记人", "同伴", "外社区党员")]
        for who, where in ((member, community), (partner, community), (elsewhere, city.community["B"])):
            await places.register_member(conn, who, community_id=where, grid_id=None if where != community else grid,
                                         confirmed_at=now)

    await sign_in_phone(phone, web_app, pool, scope_id=member, path="/m/me/services/new")
    await expect(phone.get_by_test_id("log-my-number")).to_contain_text(str(member))
    yesterday = (now.astimezone(LOCAL_ZONE) - timedelta(days=1)).date().isoformat()
    await phone.get_by_test_id("log-date").locator("input").fill(yesterday)
    await phone.get_by_test_id("log-start").locator("input").fill("14:00")
    await phone.get_by_test_id("log-end").locator("input").fill("16:00")
    await phone.get_by_test_id("log-category").filter(has_text="助老助残").click()
    await phone.get_by_test_id("log-description").locator("textarea").fill("和同伴一起为独居老人打扫卫生")
    co_server = phone.get_by_test_id("log-co-server")
    beside = co_server.locator("xpath=following-sibling::*[1]")

    # A member registered in another community: the API refuses, beside the field, and only there.
    await co_server.locator("input").fill(str(elsewhere))
    await phone.get_by_test_id("log-submit").click()
    await expect(beside).to_have_text(CO_SERVER_REFUSAL)
    await expect(beside).to_have_attribute("role", "alert")
    await expect(phone.get_by_role("alert")).to_have_count(1)
    # Myself: refused on the phone.
    await co_server.locator("input").fill(str(member))
    await phone.get_by_test_id("log-submit").click()
    await expect(beside).to_have_text("共同服务人不能是本人")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM service_record WHERE member_id = $1", member) == 0

    # The confirmed partner: logged, with the partner kept on the record.
    await co_server.locator("input").fill(str(partner))
    await phone.get_by_test_id("log-submit").click()
    await phone.wait_for_url(lambda url: urlsplit(url).path == "/m/me/services")
    await expect(phone.get_by_test_id("service-record")).to_contain_text("助老助残 · 2 小时")
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT co_server_member_id, hours::float FROM service_record WHERE member_id = $1",
                                member)
    assert [(r["co_server_member_id"], r["hours"]) for r in rows] == [(partner, 2.0)]
    assert urlsplit(phone.url).query == "" and urlsplit(phone.url).fragment == ""
    assert await phone.evaluate("localStorage.length + sessionStorage.length") == 0
    assert await phone.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    await shoot(phone)
