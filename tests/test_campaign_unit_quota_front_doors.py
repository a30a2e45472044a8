"""The unit quota through the front doors: the API's progress and refusals, the CLI's option and table."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from db import campaign as campaign_db
from db.pool import Pool
from tests.api_fixtures import ApiCity, api_city_fixture, api_http_fixture  # noqa: F401
from tests.cli_runner import run_cli, run_cli_created
from tests.test_registration_seed import add_member, import_cohort, seed_city


def body(community_ids: list[int], **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"name": "单位报到率", "scope": {"community_ids": community_ids},
            "window_start": (now + timedelta(days=30)).isoformat(),
            "window_end": (now + timedelta(days=90)).isoformat(),
            "registration_deadline": (now + timedelta(days=60)).isoformat(),
            "quotas": {"min_unit_registration_rate": 0.9}, **extra}


async def test_api_progress_lists_units_behind_the_rate_and_refuses_contradictions(
    api_http: httpx.AsyncClient, api_city: ApiCity
) -> None:
    """Community A's staff see A's two units: unit A with 1 of its 2 members living in A registered
    is behind 90 % by 1, unit B (its one member there submitted) is not; a campaign whose
    evaluation rule names another unit rate, or whose ladder ends before the deadline, is a 422."""
    auth = api_city.auth("org_city")
    created = await api_http.post("/campaigns", json=body([api_city.community["A"]]), headers=auth)
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    assert (await api_http.post(f"/campaigns/{campaign_id}/launch", headers=auth)).status_code == 200
    seen = await api_http.get(f"/campaigns/{campaign_id}/progress?level=community", headers=api_city.auth("staff_a"))
    assert seen.status_code == 200, seen.text
    units = seen.json()["unit_quota"]
    assert (units["min_rate"], units["units"], units["units_behind"], units["reminded"]) == (0.9, 2, 1, {})
    assert [(u["unit_id"], u["members"], u["registered"], u["shortfall"]) for u in units["behind"]] == [
        (api_city.unit["A"], 2, 1, 1)]
    rule = await api_http.post("/campaigns", json=body([api_city.community["A"]], evaluation_rule={
        "unit_min_registration_rate": 0.95}), headers=auth)
    assert rule.status_code == 422 and "不一致" in rule.json()["message"]
    early = await api_http.post("/campaigns", json=body([api_city.community["A"]], reminder_policy={
        "steps": [{"step": "remind", "offset": "-P1D"}]}), headers=auth)
    assert early.status_code == 422 and "报到截止时或之后" in early.json()["message"]


async def test_cli_creates_a_unit_quota_and_progress_prints_the_units_behind(
    pool: Pool, _migrated: str, temporal_env: WorkflowEnvironment
) -> None:
    """`campaign create --min-unit-rate 0.5` stores the quota; `campaign progress` prints the unit
    with 0 of 2 registered (short by 1) and not the one with 1 of 2."""
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=1, units=2)
        await add_member(conn, city, unit_index=0)
        await add_member(conn, city, unit_index=0)
        half = [await add_member(conn, city, unit_index=1) for _ in range(2)]
        await import_cohort(conn, city, half[:1], at=datetime.now(UTC))
    kw = {"dsn": _migrated, "temporal": temporal_env.client.service_client.config.target_host}
    campaign_id = await run_cli_created(["campaign", "create", "--name", "CLI 单位报到率", "--min-unit-rate", "0.5",
                                        "--communities", str(city.communities[0])], "活动", **kw)
    async with pool.acquire() as conn:
        quotas = await conn.fetchval("SELECT quotas FROM campaign WHERE id = $1", campaign_id)
        assert quotas["min_unit_registration_rate"] == 0.5
        await campaign_db.resolve_scope(conn, campaign_id=campaign_id)   # what launch does first
    code, out, err = await run_cli(["campaign", "progress", str(campaign_id), "--level", "community"], **kw)
    assert code == 0, err
    assert "单位报到率未达 50% 的单位: 1/2" in out
    async with pool.acquire() as conn:
        behind, meeting = [await conn.fetchval("SELECT name FROM reporting_unit WHERE id = $1", u)
                           for u in city.units]
    lines = [line for line in out.splitlines() if behind in line]
    assert len(lines) == 1 and re.search(r"│\s*2\s*│\s*0\s*│\s*0\.0%\s*│\s*1\s*│", lines[0]), out
    assert meeting not in out
