"""The need catalogue 需求类别 the staff forms and a member's service-record form read (GET /need-categories)."""

from __future__ import annotations

import httpx

from db.pool import Pool
from tests.api_fixtures import api_http_fixture, build_api_city  # noqa: F401


async def test_need_categories_for_staff_forms(api_http: httpx.AsyncClient, pool: Pool) -> None:
    """Staff forms and members (logging a service record) read the catalogue (the seeded
    categories with their limits); a unit's admin has no form that needs it."""
    async with pool.acquire() as conn, conn.transaction():
        city = await build_api_city(conn)
        expected = {r["name"]: r["red_hours"] for r in await conn.fetch(
            "SELECT name, red_hours FROM need_category WHERE active")}
    resp = await api_http.get("/need-categories", headers=city.auth("staff_a"))
    assert resp.status_code == 200, resp.text
    assert {c["name"]: c["red_hours"] for c in resp.json()} == expected
    assert "助老助残" in expected
    member = await api_http.get("/need-categories", headers=city.auth("member_a1"))
    assert member.status_code == 200 and {c["name"] for c in member.json()} == set(expected)
    assert (await api_http.get("/need-categories", headers=city.auth("unit_a"))).status_code == 403
