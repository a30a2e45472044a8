"""GET /campaigns/{id}/mobilise/preview: what a 平急转换 would touch, asked before confirming it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from db.pool import Pool
from tests.api_fixtures import ApiCity, api_city_fixture, api_http_fixture  # noqa: F401


def _body(community_ids: list[int]) -> dict[str, object]:
    now = datetime.now(UTC)
    return {"name": "防汛应急", "kind": "文明城市创建", "scope": {"community_ids": community_ids},
            "window_start": (now + timedelta(days=1)).isoformat(),
            "window_end": (now + timedelta(days=30)).isoformat(),
            "registration_deadline": (now + timedelta(days=20)).isoformat()}


async def test_preview_counts_grids_tasks_and_changes_nothing(
    api_http: httpx.AsyncClient, api_city: ApiCity, pool: Pool
) -> None:
    """Over community A: one task per grid of A, slots = tasks × headcount, the serving members of A;
    asking twice creates no task. A draft is refused (409) as mobilising it would be; community
    staff get 403; a headcount out of range is a 422 naming it."""
    created = await api_http.post("/campaigns", json=_body([api_city.community["A"]]),
                                  headers=api_city.auth("org_d1"))
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    draft = await api_http.get(f"/campaigns/{campaign_id}/mobilise/preview", headers=api_city.auth("org_d1"))
    assert draft.status_code == 409 and "平急转换" in draft.json()["message"]
    assert (await api_http.post(f"/campaigns/{campaign_id}/launch", headers=api_city.auth("org_d1"))).status_code == 200

    preview = await api_http.get(f"/campaigns/{campaign_id}/mobilise/preview?headcount=3",
                                 headers=api_city.auth("org_d1"))
    assert preview.status_code == 200, preview.text
    grids = len(api_city.grids["A"])
    async with pool.acquire() as conn:
        serving = await conn.fetchval(
            "SELECT count(DISTINCT member_id) FROM member_registration WHERE community_id = $1 "
            "AND status IN ('active', 'paused')", api_city.community["A"])
        tasks_before = await conn.fetchval("SELECT count(*) FROM campaign_task WHERE campaign_id = $1", campaign_id)
    assert preview.json() == {
        "campaign_id": campaign_id, "status": "launched", "communities": 1, "grids": grids, "tasks": grids,
        "slots": grids * 3, "candidates": serving, "open_mobilised_tasks": 0,
    }
    assert serving >= 1 and tasks_before == 0

    assert (await api_http.get(f"/campaigns/{campaign_id}/mobilise/preview",
                               headers=api_city.auth("staff_a"))).status_code == 403
    bad = await api_http.get(f"/campaigns/{campaign_id}/mobilise/preview?headcount=0",
                             headers=api_city.auth("org_d1"))
    assert bad.status_code == 422 and "headcount" in bad.json()["message"]
