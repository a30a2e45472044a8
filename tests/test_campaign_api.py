"""The campaign HTTP routes: who may create and launch, who may read progress, and its figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.api_fixtures import ApiCity, api_city_fixture, api_http_fixture  # noqa: F401


def body(community_ids: list[int], **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"name": "文明城市创建", "kind": "文明城市创建", "scope": {"community_ids": community_ids},
            "window_start": (now + timedelta(days=30)).isoformat(),
            "window_end": (now + timedelta(days=90)).isoformat(),
            "registration_deadline": (now + timedelta(days=60)).isoformat(), **extra}


async def test_only_org_departments_create_within_their_scope(api_http: httpx.AsyncClient, api_city: ApiCity) -> None:
    """A district organization department creates a draft in its district but not over another
    district's community; community staff may not create at all; a bad window or an evaluation
    rule the evaluation model rejects is a 422."""
    own = await api_http.post("/campaigns", json=body([api_city.community["A"]]), headers=api_city.auth("org_d1"))
    assert own.status_code == 201, own.text
    assert (own.json()["status"], own.json()["launched_by_kind"]) == ("draft", "district")
    other = await api_http.post("/campaigns", json=body([api_city.community["B"]]), headers=api_city.auth("org_d1"))
    assert other.status_code == 403 and "本区" in other.json()["message"]
    staff = await api_http.post("/campaigns", json=body([api_city.community["A"]]), headers=api_city.auth("staff_a"))
    assert staff.status_code == 403
    bad = body([api_city.community["A"]], window_end=datetime.now(UTC).isoformat())
    refused = await api_http.post("/campaigns", json=bad, headers=api_city.auth("org_city"))
    assert refused.status_code == 422
    bad_rule = body([api_city.community["A"]], evaluation_rule={"basic_share": 2})
    refused = await api_http.post("/campaigns", json=bad_rule, headers=api_city.auth("org_city"))
    assert refused.status_code == 422 and "考核规则无效" in refused.json()["message"]


async def test_progress_is_read_within_scope_with_registered_counts(
    api_http: httpx.AsyncClient, api_city: ApiCity
) -> None:
    """After launch, community A's staff see A's progress (3 members living there, 2 with an open
    registration); B's staff get 404 for a campaign not covering B; a unit admin gets 403; a
    second launch is refused with 409."""
    created = await api_http.post("/campaigns", json=body([api_city.community["A"]]), headers=api_city.auth("org_city"))
    campaign_id = created.json()["id"]
    launched = await api_http.post(f"/campaigns/{campaign_id}/launch", headers=api_city.auth("org_city"))
    assert launched.status_code == 200 and launched.json()["status"] == "launched"
    again = await api_http.post(f"/campaigns/{campaign_id}/launch", headers=api_city.auth("org_city"))
    assert again.status_code == 409 and "不能发布" in again.json()["message"]
    seen = await api_http.get(f"/campaigns/{campaign_id}/progress?level=community", headers=api_city.auth("staff_a"))
    assert seen.status_code == 200, seen.text
    rows = seen.json()["rows"]
    assert [(r["level_id"], r["members"], r["registered"]) for r in rows] == [(api_city.community["A"], 3, 2)]
    district = await api_http.get(f"/campaigns/{campaign_id}/progress?level=district", headers=api_city.auth("org_d1"))
    assert [r["level_id"] for r in district.json()["rows"]] == [api_city.district["A"]]
    assert (await api_http.get(f"/campaigns/{campaign_id}/progress",
                               headers=api_city.auth("staff_b"))).status_code == 404
    assert (await api_http.get(f"/campaigns/{campaign_id}/progress",
                               headers=api_city.auth("unit_a"))).status_code == 403
    events = await api_http.get(f"/campaigns/{campaign_id}/events", headers=api_city.auth("staff_a"))
    assert [e["kind"] for e in events.json()] == ["create", "launch"]


async def test_progress_pages_worst_first_with_the_total(api_http: httpx.AsyncClient, api_city: ApiCity) -> None:
    """A campaign over communities A and B read a page at a time: limit=1 pages sorted by the
    registered share (rate_asc lowest first, rate_desc highest first) add up to the full list,
    each page says total 2, and a bad limit is a 422."""
    auth = api_city.auth("org_city")
    created = await api_http.post("/campaigns", json=body([api_city.community["A"], api_city.community["B"]]),
                                  headers=auth)
    campaign_id = created.json()["id"]
    assert (await api_http.post(f"/campaigns/{campaign_id}/launch", headers=auth)).status_code == 200
    url = f"/campaigns/{campaign_id}/progress"
    everything = (await api_http.get(url, params={"level": "community"}, headers=auth)).json()
    assert everything["total"] == 2 and [r["level_id"] for r in everything["rows"]] == sorted(
        [api_city.community["A"], api_city.community["B"]])
    share = {r["level_id"]: r["registered"] / r["members"] for r in everything["rows"]}
    assert len(set(share.values())) == 2, share   # the fixture's communities differ
    for order, reverse in (("rate_asc", False), ("rate_desc", True)):
        pages = []
        for offset in (0, 1):
            resp = await api_http.get(url, headers=auth,
                                      params={"level": "community", "order": order, "limit": 1, "offset": offset})
            assert resp.status_code == 200, resp.text
            assert resp.json()["total"] == 2
            pages += resp.json()["rows"]
        assert [r["level_id"] for r in pages] == sorted(share, key=share.__getitem__, reverse=reverse)
        assert sorted(pages, key=lambda r: r["level_id"]) == everything["rows"]
    refused = await api_http.get(url, params={"level": "community", "limit": 501}, headers=auth)
    assert refused.status_code == 422 and "limit" in refused.text
