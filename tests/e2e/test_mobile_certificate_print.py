"""On a phone (390x844, WeChat): the member opens 报到证 → 打印 / 保存 and gets the certificate as an
A5 sheet with the same rows as the console prints for unit admins (the API's printable page), but
no phone line: neither the phone (whole or masked) nor the ID number is anywhere on the page. The
printout is one A5 page without the nav and tab bars.
"""

from __future__ import annotations

import html
import random
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.async_api import Page, expect

from db.pool import Pool
from schemas.auth import Role, ScopeKind
from tests.api_fixtures import bearer
from tests.conftest import unique
from tests.e2e.conftest import PHONE_WIDTH, WebApp, sign_in_phone
from tests.places import (
    add_community,
    add_district,
    add_grid,
    add_member,
    add_subdistrict,
    add_unit,
    register_member,
)

A5_POINTS = (419.53, 595.28)   # 148 x 210 mm


async def _registered_member(pool: Pool, phone: str, id_number: str) -> tuple[int, int, int]:
    """A member with a phone and an ID number whose registration is in force; (member, registration, unit)."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        district = await add_district(conn, "西城区")
        subdistrict = await add_subdistrict(conn, district, "德胜街道")
        community = await add_community(conn, subdistrict, "六铺炕社区")
        grid = await add_grid(conn, community, "第二网格", branch_name="第二网格党支部")
        unit = await add_unit(conn, unique("市教育局"), community_id=community)
        member = await add_member(conn, community_id=community, grid_id=grid, unit_id=unit, name="赵红梅",
                                  phone=phone)
        await conn.execute("UPDATE member SET id_number = $2 WHERE id = $1", member, id_number)
        registration = await register_member(conn, member, community_id=community, grid_id=grid, confirmed_at=now)
        await conn.execute("UPDATE member_registration SET valid_until = $2 WHERE id = $1",
                           registration, now + timedelta(days=365))
    return member, registration, unit


def _rows(page_html: str) -> list[tuple[str, str]]:
    return [(html.unescape(k), html.unescape(v))
            for k, v in re.findall(r"<tr><th>(.*?)</th><td>(.*?)</td></tr>", page_html)]


async def test_member_prints_the_certificate_as_an_a5_sheet_without_personal_data(
    web_app: WebApp, phone: Page, pool: Pool, shoot: Callable[[Page], Awaitable[Path]]
) -> None:
    mobile = f"139{random.randrange(10**8):08d}"
    id_number = f"11010219{random.randrange(10**10):010d}"
    member, registration, unit = await _registered_member(pool, mobile, id_number)
    await sign_in_phone(phone, web_app, pool, scope_id=member, label="党员", path="/m/me/certificate")
    await phone.get_by_test_id("certificate-to-print").click()
    await phone.wait_for_url("**/m/me/certificate/print")
    sheet = phone.get_by_test_id("certificate-sheet")
    await expect(sheet).to_be_visible()
    assert await phone.title() == "打印报到证 - 双报到"

    # The console's certificate of the same registration, as a unit admin prints it.
    admin = await bearer(pool, Role.unit_admin, ScopeKind.unit, unit)
    async with httpx.AsyncClient(base_url=web_app.base_url, timeout=30) as http:
        r = await http.get(f"/registrations/members/{registration}/certificate", headers=admin)
        assert r.status_code == 200, r.text
    console = _rows(r.text)
    assert ("联系电话", f"{mobile[:3]}****{mobile[-4:]}") in console   # the console's copy has it, masked
    expected = [(k, v) for k, v in console if k != "联系电话"]
    rows = phone.get_by_test_id("certificate-row")
    await expect(rows).to_have_count(len(expected))
    shown = [(await row.locator("th").inner_text(), await row.locator("td").inner_text()) for row in await rows.all()]
    assert shown == expected
    number = re.search(r"证书编号: ([^<]+)</div>", r.text)
    code = re.search(r'校验码 <span class="code">([^<]+)</span>', r.text)
    assert number and code
    text = await sheet.inner_text()
    assert f"证书编号: {number[1]}" in text and code[1] in text
    assert "兹证明 赵红梅" in text and "六铺炕社区党组织(盖章)" in text
    qr = sheet.get_by_role("img", name="报到证核验二维码")
    assert await qr.evaluate("img => img.complete && img.naturalWidth > 0")

    # No personal data: neither phone (whole or masked) nor ID number, on the page or in its address.
    content = await phone.content()
    for secret in (mobile, f"{mobile[:3]}****", id_number, id_number[-6:], "联系电话"):
        assert secret not in content, secret
    assert mobile not in phone.url and id_number not in phone.url
    assert await phone.evaluate("localStorage.length + sessionStorage.length") == 0
    assert await phone.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    await shoot(phone)

    # Printed: the page is A5, only the sheet prints, on one page.
    pages = await phone.evaluate("""() => [...document.styleSheets].flatMap(s => [...s.cssRules])
        .filter(r => r instanceof CSSPageRule).map(r => r.cssText)""")
    assert pages == ["@page { size: a5; margin: 10mm; }"], pages   # A5 portrait, as Chromium writes it
    await phone.emulate_media(media="print")
    await expect(phone.locator(".van-nav-bar")).to_be_hidden()
    await expect(phone.locator(".van-tabbar")).to_be_hidden()
    await expect(phone.get_by_test_id("certificate-print")).to_be_hidden()
    pdf = await phone.pdf(prefer_css_page_size=True)
    boxes = re.findall(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert len(boxes) == 1, boxes
    width, height = (float(v) for v in boxes[0])
    assert abs(width - A5_POINTS[0]) < 2 and abs(height - A5_POINTS[1]) < 2, (width, height)
    await phone.emulate_media(media="screen")

    # Leaving the sheet leaves the other pages' printing as it was.
    await phone.go_back()
    await phone.wait_for_url("**/m/me/certificate")
    assert not await phone.evaluate("""() => [...document.styleSheets].some(s => [...s.cssRules].some(
        r => r instanceof CSSPageRule))""")
