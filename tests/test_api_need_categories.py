"""The need catalogue 需求类别 the staff forms read (GET /need-categories)."""

from __future__ import annotations

import httpx

from db.pool import Pool
from tests.api_fixtures import api_http_fixture, build_api_city  # noqa: F401


async def test_need_categories_for_staff_forms(api_http: httpx.AsyncClient, pool: Pool) -> None:
    """Staff forms read the catalogue (the seeded categories with their limits); members may not."""
    async with pool.acquire() as conn, conn.transaction():
        city = await build_api_city(conn)
        expected = {r["name"]: r["red_hours"] for r in await conn.fetch(
            "SELECT name, red_hours FROM need_category WHERE active")}
    resp = await api_http.get("/need-categories", headers=city.auth("staff_a"))
    assert resp.status_code == 200, resp.text
    assert {c["name"]: c["red_hours"] for c in resp.json()} == expected
    assert "助老助残" in expected
    assert (await api_http.get("/need-categories", headers=city.auth("member_a1"))).status_code == 403
