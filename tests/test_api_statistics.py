"""Registration statistics 报到率: counts and rates agree with the rows the fixture inserted."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from domain.registration_rules import registration_rate
from tests.api_fixtures import ApiCity, MemberRow, api_city_fixture, api_http_fixture  # noqa: F401

STATUSES = ("submitted", "confirmed", "active", "paused", "rejected", "lapsed")


def _expected(members: list[MemberRow]) -> dict[str, float]:
    """Counts computed in Python from the fixture's own record of each member's latest status."""
    statuses = Counter(m.latest_status for m in members)
    out: dict[str, float] = {"members": len(members)}
    out.update({s: statuses.get(s, 0) for s in STATUSES})
    out["rate"] = round(statuses.get("active", 0) / len(members), 4)
    return out


def _row(body: dict[str, list[dict[str, float]]], key: int | None) -> dict[str, float]:
    rows = [r for r in body["items"] if r["id"] == key]
    assert len(rows) == 1, body
    return {k: rows[0][k] for k in ("members", *STATUSES, "rate")}


@pytest.mark.parametrize("level", ["unit", "community", "subdistrict", "district"])
async def test_rates_match_inserted_rows(
    api_http: httpx.AsyncClient, api_city: ApiCity, level: str
) -> None:
    """Every group at every level reports the member count, status counts and active/members."""
    resp = await api_http.get(
        "/statistics/registration", params={"level": level}, headers=api_city.auth("org_city")
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    for side in ("A", "B"):
        if level == "unit":
            key = api_city.unit[side]
            members = [m for m in api_city.members.values() if m.unit_id == key]
        else:
            key = {"community": api_city.community, "subdistrict": api_city.subdistrict,
                   "district": api_city.district}[level][side]
            members = [m for m in api_city.members.values()
                       if m.community_id == api_city.community[side]]
        assert _row(body, key) == _expected(members)


async def test_scoped_statistics_count_only_members_in_scope(
    api_http: httpx.AsyncClient, api_city: ApiCity
) -> None:
    """Community A's staff see unit rows counting only unit members who live in A."""
    resp = await api_http.get(
        "/statistics/registration", params={"level": "unit"}, headers=api_city.auth("staff_a")
    )
    body = resp.json()
    for side in ("A", "B"):
        members = [m for m in api_city.members.values()
                   if m.unit_id == api_city.unit[side] and m.community_id == api_city.community["A"]]
        assert _row(body, api_city.unit[side]) == _expected(members)
    city = await api_http.get(
        "/statistics/registration", params={"level": "city"}, headers=api_city.auth("staff_a")
    )
    assert _row(city.json(), None) == _expected(
        [m for m in api_city.members.values() if m.community_id == api_city.community["A"]]
    )


@pytest.mark.parametrize("level", ["unit", "community"])
async def test_a_page_of_groups_sorted_in_sql_with_the_total(
    api_http: httpx.AsyncClient, api_city: ApiCity, level: str
) -> None:
    """limit/offset cut the list sorted by `order` (rate_asc: lowest 报到率 first, ties by id;
    rate_desc; name), pages of one put together are the whole sorted list, `total` counts every
    group on each page, and a page past the end is empty with the same total."""
    auth = api_city.auth("org_city")
    everything = (await api_http.get("/statistics/registration", params={"level": level}, headers=auth)).json()
    total = everything["total"]
    # the city-wide list holds this test's two groups and whatever other tests made in the same database
    assert total == len(everything["items"]) >= 2
    assert [r["id"] for r in everything["items"]] == sorted(r["id"] for r in everything["items"])

    def rate(r: dict[str, int]) -> float:
        return r["active"] / r["members"] if r["members"] else 0.0

    expected = {
        "rate_asc": [r["id"] for r in sorted(everything["items"], key=lambda r: (rate(r), r["id"]))],
        "rate_desc": [r["id"] for r in sorted(everything["items"], key=lambda r: (-rate(r), r["id"]))],
        "name": [r["id"] for r in sorted(everything["items"], key=lambda r: (r["name"], r["id"]))],
    }
    assert expected["rate_asc"] != expected["rate_desc"]   # the fixture's two groups differ in rate
    size = 3
    for order, ids in expected.items():
        pages = []
        for offset in range(0, total, size):
            resp = await api_http.get("/statistics/registration", headers=auth,
                                      params={"level": level, "order": order, "limit": size, "offset": offset})
            assert resp.status_code == 200, resp.text
            assert resp.json()["total"] == total
            pages += resp.json()["items"]
        assert [r["id"] for r in pages] == ids, order
        assert sorted(pages, key=lambda r: r["id"]) == everything["items"]
    past = await api_http.get("/statistics/registration", headers=auth,
                              params={"level": level, "limit": 10, "offset": total})
    assert past.json() == {"level": level, "total": total, "items": []}


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"offset": -1}, {"order": "worst"}])
async def test_bad_paging_is_refused(
    api_http: httpx.AsyncClient, api_city: ApiCity, params: dict[str, int | str]
) -> None:
    """A limit outside 1-500, a negative offset or an unknown order is a 422 naming the field."""
    resp = await api_http.get("/statistics/registration", params={"level": "community", **params},
                              headers=api_city.auth("org_city"))
    assert resp.status_code == 422, resp.text
    assert next(iter(params)) in resp.text


def test_rate_of_empty_group_is_zero() -> None:
    """A group without members has rate 0, not a division error."""
    assert registration_rate(0, 0) == 0.0
    assert registration_rate(1, 3) == 0.3333


def test_cli_prints_rates_per_community(
    pg_dsn: str, api_city: ApiCity, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`stats registration --level community` prints each community with its rate."""
    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.setenv("DATABASE_URL", pg_dsn)
    monkeypatch.setenv("COLUMNS", "250")
    result = CliRunner().invoke(app, ["stats", "registration", "--level", "community"])
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert "33.3%" in rows[str(api_city.community["A"])]  # a1 active of a1, a2, a3
    assert "50.0%" in rows[str(api_city.community["B"])]  # b1 active of b1, b2
