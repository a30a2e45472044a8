"""The audit log read (GET /audit): a district's organization department sees only entries whose
subject lies in its district; the city's sees all; the time window filters; bad windows are 422."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from db.pool import Pool
from tests.api_fixtures import ApiCity, api_city_fixture, api_http_fixture  # noqa: F401


async def _entry(pool: Pool, *, action: str, subject_kind: str, subject_id: int, at: datetime) -> int:
    async with pool.acquire() as conn:
        entry_id: int = await conn.fetchval(
            "INSERT INTO audit_log (at, actor, action, subject_kind, subject_id, after)"
            " VALUES ($1, 'test', $2, $3, $4, '{}'::jsonb) RETURNING id",
            at, action, subject_kind, subject_id,
        )
    return entry_id


async def _ids(http: httpx.AsyncClient, city: ApiCity, who: str, **params: str) -> set[int]:
    resp = await http.get("/audit", headers=city.auth(who), params={"limit": 500, **params})
    assert resp.status_code == 200, resp.text
    return {int(e["id"]) for e in resp.json()["items"]}


async def test_district_sees_its_subjects_only(
    api_http: httpx.AsyncClient, api_city: ApiCity, pool: Pool
) -> None:
    action = f"test.{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    a1 = await _entry(pool, action=action, subject_kind="member", subject_id=api_city.members["a1"].id, at=now)
    b1 = await _entry(pool, action=action, subject_kind="member", subject_id=api_city.members["b1"].id, at=now)
    reg_a = await _entry(pool, action=action, subject_kind="member_registration",
                         subject_id=api_city.member_registrations["A"][0], at=now)
    token = await _entry(pool, action=action, subject_kind="api_token", subject_id=1, at=now)

    assert await _ids(api_http, api_city, "org_city", action=action) == {a1, b1, reg_a, token}
    assert await _ids(api_http, api_city, "org_d1", action=action) == {a1, reg_a}
    resp = await api_http.get("/audit", headers=api_city.auth("org_d1"), params={"action": action})
    assert resp.json()["total"] == 2


async def test_time_window_filters_and_bad_window_is_refused(
    api_http: httpx.AsyncClient, api_city: ApiCity, pool: Pool
) -> None:
    action = f"test.{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    old = await _entry(pool, action=action, subject_kind="member", subject_id=api_city.members["a1"].id,
                       at=now - timedelta(days=10))
    new = await _entry(pool, action=action, subject_kind="member", subject_id=api_city.members["a1"].id, at=now)
    since = (now - timedelta(days=1)).isoformat()
    assert await _ids(api_http, api_city, "org_city", action=action, since=since) == {new}
    assert await _ids(api_http, api_city, "org_city", action=action, until=since) == {old}

    resp = await api_http.get("/audit", headers=api_city.auth("org_city"),
                              params={"since": now.isoformat(), "until": since})
    assert resp.status_code == 422
    assert "since" in resp.json()["message"]
