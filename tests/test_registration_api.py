"""The registration routes: actions reach the use cases, errors come back as Chinese JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from db.pool import Pool
from schemas.auth import Role, ScopeKind
from tests.api_fixtures import bearer
from tests.test_registration_seed import City, add_member, import_cohort, seed_city


@pytest.fixture
async def http(pool: Pool, client: Client, task_queue: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(pool=pool, temporal_client=client)
    app.state.task_queue = task_queue  # no worker polls it: workflows just wait, untouched
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http



async def _city(pool: Pool) -> tuple[City, list[int], list[int]]:
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=2)
        members = [await add_member(conn, city) for _ in range(2)]
        _, ids = await import_cohort(conn, city, members, at=datetime.now(UTC))
    return city, members, ids


async def test_staff_bulk_confirm_and_member_withdraw_over_http(http: httpx.AsyncClient, pool: Pool) -> None:
    """Community staff confirm two registrations in one call; the member then withdraws their own."""
    city, members, ids = await _city(pool)
    staff = await bearer(pool, Role.community_staff, ScopeKind.community, city.communities[0])
    response = await http.post("/registrations/members/confirm", json={"ids": ids}, headers=staff)
    assert response.status_code == 200, response.text
    assert [r["status"] for r in response.json()["registrations"]] == ["active", "active"]
    member = await bearer(pool, Role.member, ScopeKind.member, members[0])
    response = await http.post(f"/registrations/members/{ids[0]}/withdraw", json={"reason": "工作调动"},
                               headers=member)
    assert response.status_code == 200 and response.json()["status"] == "withdrawn"


async def test_refusals_are_chinese_json_with_codes(http: httpx.AsyncClient, pool: Pool) -> None:
    """Other-community staff get 404 (as for absent ids), a blank reject reason 422, and an invalid transition 409."""
    city, _, ids = await _city(pool)
    other_staff = await bearer(pool, Role.community_staff, ScopeKind.community, city.communities[1])
    response = await http.post("/registrations/members/confirm", json={"ids": ids}, headers=other_staff)
    assert response.status_code == 404 and response.json()["code"] == "not_found"   # as if absent
    staff = await bearer(pool, Role.community_staff, ScopeKind.community, city.communities[0])
    response = await http.post("/registrations/members/reject", json={"ids": ids, "reason": " "}, headers=staff)
    assert response.status_code == 422 and "原因" in response.json()["message"]
    response = await http.post(f"/registrations/members/{ids[0]}/resume", headers=staff)
    assert response.status_code == 409 and "待确认" in response.json()["message"]


async def test_unit_submit_and_confirm_over_http(http: httpx.AsyncClient, pool: Pool) -> None:
    """A unit admin submits its unit; community staff confirm it and an agreement is signed."""
    city, _, _ = await _city(pool)
    unit_admin = await bearer(pool, Role.unit_admin, ScopeKind.unit, city.units[0])
    response = await http.post("/registrations/units", json={"unit_id": city.units[0]}, headers=unit_admin)
    assert response.status_code == 201, response.text
    registration_id = response.json()["id"]
    staff = await bearer(pool, Role.community_staff, ScopeKind.community, city.communities[0])
    response = await http.post(f"/registrations/units/{registration_id}/confirm",
                               json={"projects": ["助老服务"]}, headers=staff)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "active" and response.json()["agreement_id"] is not None
