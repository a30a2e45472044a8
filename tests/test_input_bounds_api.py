"""Bad values a person might type are refused at the door with 422 and a Chinese message:
a campaign window ending 9999-12-31, a 100 KB token label, a 100 KB evaluation rule."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from db.pool import Pool
from schemas.auth import Role, ScopeKind
from services.tokens import issue_token


@pytest.fixture
async def http(pool: Pool, client: Client) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(pool=pool, temporal_client=client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


@pytest.fixture
async def org(pool: Pool) -> dict[str, str]:
    async with pool.acquire() as conn:
        _, token = await issue_token(conn, role=Role.org_department, scope_kind=ScopeKind.city, scope_id=None,
                                     label="测试")
    return {"Authorization": f"Bearer {token}"}


def _refused(r: httpx.Response, field: str) -> dict[str, object]:
    assert r.status_code == 422, r.text
    body: dict[str, object] = r.json()
    assert body["code"] == "invalid_input" and field in str(body["message"]), body
    return body


async def test_far_dates_huge_labels_and_rules_are_refused(http: httpx.AsyncClient, org: dict[str, str]) -> None:
    body = _refused(await http.post("/campaigns/1/extend", headers=org, json={"window_end": "9999-12-31T00:00:00Z"}),
                    "window_end")
    assert "最远两年后" in json.dumps(body, ensure_ascii=False)
    now = datetime.now(UTC)
    _refused(await http.post("/campaigns", headers=org, json={
        "name": "x", "window_start": now.isoformat(), "window_end": "9999-12-31T00:00:00Z",
        "registration_deadline": (now + timedelta(days=3)).isoformat()}), "window_end")
    _refused(await http.post("/campaigns", headers=org, json={
        "name": "x", "window_start": now.isoformat(), "window_end": (now + timedelta(days=30)).isoformat(),
        "registration_deadline": (now + timedelta(days=3)).isoformat(),
        "evaluation_rule": {f"k{i}": 1 for i in range(10_000)}}), "evaluation_rule")
    _refused(await http.post("/campaigns", headers=org, json={
        "name": "x", "window_start": now.isoformat(), "window_end": (now + timedelta(days=30)).isoformat(),
        "registration_deadline": (now + timedelta(days=3)).isoformat(),
        "evaluation_rule": {"x" * 100_000: 1}}), "evaluation_rule")
    _refused(await http.post("/tokens", headers=org, json={
        "role": "org_department", "scope_kind": "city", "label": "x" * 100_000}), "label")
    _refused(await http.post("/tasks", headers=org, json={
        "grid_id": 1, "title": "t", "window_start": now.isoformat(), "window_end": "9999-12-31T00:00:00Z"}),
        "window_end")
