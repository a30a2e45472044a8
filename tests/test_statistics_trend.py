"""The registration trend 报到率趋势: per month, registered at the month's end, newly registered,
served and meeting the monthly quota, for one group inside the caller's scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from db import points as points_db
from db import task as task_db
from db.pool import Pool
from domain.errors import Forbidden
from domain.local_time import LOCAL_ZONE
from domain.points import service_key
from schemas.auth import SYSTEM_ACTOR, Actor, Role, ScopeKind
from schemas.statistics import StatisticsLevel
from services.statistics import registration_trend, trend_months
from tests.api_fixtures import ApiCity, api_city_fixture, api_http_fixture  # noqa: F401
from tests.conftest import unique


def _at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=LOCAL_ZONE)


async def _place(pool: Pool) -> dict[str, int]:
    """A community of its own with four members of one unit: m1 confirmed in August, m2 in
    September, m3 confirmed in August and lapsed in mid-October, m4 only submitted."""
    tag = unique()
    async with pool.acquire() as conn:
        d = await conn.fetchval("INSERT INTO district (name) VALUES ($1) RETURNING id", f"趋势区{tag}")
        s = await conn.fetchval("INSERT INTO subdistrict (district_id, name) VALUES ($1, '街道') RETURNING id", d)
        c = await conn.fetchval("INSERT INTO community (subdistrict_id, name) VALUES ($1, '社区') RETURNING id", s)
        g = await conn.fetchval("INSERT INTO grid (community_id, name) VALUES ($1, '网格') RETURNING id", c)
        u = await conn.fetchval(
            "INSERT INTO reporting_unit (name, unit_party_org, community_id) VALUES ($1, $1, $2) RETURNING id",
            f"趋势单位{tag}", c)
        ids: dict[str, int] = {"district": d, "subdistrict": s, "community": c, "grid": g, "unit": u}
        regs = {
            "m1": ("active", _at(8, 10), _at(8, 10)),
            "m2": ("active", _at(9, 5), _at(9, 5)),
            "m3": ("lapsed", _at(8, 1), _at(10, 15)),
            "m4": ("submitted", None, _at(7, 20)),
        }
        for key, (status, confirmed_at, updated_at) in regs.items():
            ids[key] = await conn.fetchval(
                "INSERT INTO member (name, unit_id, home_community_id, home_grid_id) VALUES ($1, $2, $3, $4)"
                " RETURNING id", f"党员{key}{tag}", u, c, g)
            await conn.execute(
                "INSERT INTO member_registration (member_id, community_id, grid_id, status, submitted_at,"
                " confirmed_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                ids[key], c, g, status, _at(7, 20), confirmed_at, updated_at)
        # Services as the award activity credits them: m1 once in September (2 h: meets the
        # monthly quota of 1 service / 2 hours) and twice in October; m2 once in September, 1.5 h.
        services = [("m1", _at(9, 12), 2.0), ("m2", _at(9, 20), 1.5), ("m1", _at(10, 3), 2.0),
                    ("m1", _at(10, 9), 1.0)]
        task_ids = await task_db.insert_closed_tasks(
            conn, need_ids=[None] * len(services), community_ids=[c] * len(services), grid_ids=[g] * len(services),
            titles=["服务"] * len(services), categories=["环境整治"] * len(services), headcounts=[1] * len(services),
            window_starts=[at - timedelta(hours=h) for _, at, h in services],
            window_ends=[at for _, at, _ in services], places=[""] * len(services),
            category_bonuses=[0.0] * len(services), qr_token_hashes=[unique("qr") for _ in services],
            created_by=["test"] * len(services), created_ats=[at - timedelta(days=1) for _, at, _ in services],
            level_deadline_ats=[at for _, at, _ in services], closed_ats=[at for _, at, _ in services],
            points_per_hour=10, rating_bonus=2, points_cap=100,
        )
        credited = await points_db.credit_services_of_tasks(
            conn, task_ids=task_ids, member_ids=[ids[k] for k, _, _ in services],
            service_keys=[service_key(t, ids[k]) for t, (k, _, _) in zip(task_ids, services, strict=True)],
            points=[10 * h for _, _, h in services], parts=[{"hours": h} for _, _, h in services],
            ats=[at for _, at, _ in services],
        )
        assert credited == len(services)
    return ids


async def test_months_count_registrations_services_and_the_standard(pool: Pool) -> None:
    """July to October for the community, its district and its unit: registered at each month's
    end (a lapsed registration stops counting after it lapsed), newly registered, served and
    meeting the monthly quota (1 service and 2 hours by the default rule)."""
    ids = await _place(pool)
    now = _at(10, 20)
    expected = [  # month, registered, newly registered, served, met
        ("2026-07", 0, 0, 0, 0), ("2026-08", 2, 2, 0, 0), ("2026-09", 3, 1, 2, 1), ("2026-10", 2, 0, 1, 1)]
    for level, group in ((StatisticsLevel.community, ids["community"]), (StatisticsLevel.district, ids["district"]),
                         (StatisticsLevel.unit, ids["unit"])):
        async with pool.acquire() as conn:
            trend = await registration_trend(conn, SYSTEM_ACTOR, level=level, group_id=group, months=4, now=now)
        got = [(m.month, m.registered, m.newly_registered, m.served, m.met_standard) for m in trend.months]
        assert got == expected, level
        assert {m.members for m in trend.months} == {4}
        assert trend.months[2].rate == 0.75
        assert (trend.quota_services, trend.quota_hours) == (1.0, 2.0)
    # Another community's staff see nothing of it: refused, not an empty chart.
    other = Actor(role=Role.community_staff, scope_kind=ScopeKind.community, scope_id=ids["community"] + 10**9,
                  label="别处")
    async with pool.acquire() as conn:
        with pytest.raises(Forbidden):
            await registration_trend(conn, other, level=StatisticsLevel.community, group_id=ids["community"])


def test_months_run_back_from_now_in_beijing_time() -> None:
    """The last n calendar months, across a year boundary, in Beijing time."""
    labels = [p.label for p in trend_months(datetime(2026, 1, 31, 17, tzinfo=LOCAL_ZONE), 3)]
    assert labels == ["2025-11", "2025-12", "2026-01"]
    # 2026-01-31 20:00 UTC is already February in Beijing.
    assert trend_months(datetime(2026, 1, 31, 20, tzinfo=UTC), 1)[0].label == "2026-02"


async def test_route_checks_level_id_and_scope(api_http: httpx.AsyncClient, api_city: ApiCity) -> None:
    """GET /statistics/registration/trend: the city for city-wide staff, a community for its own
    staff; a missing or stray id is a 422 naming it, an unknown one 404, another's community 403."""
    ok = await api_http.get("/statistics/registration/trend", params={"level": "city", "months": 3},
                            headers=api_city.auth("org_city"))
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["name"] == "全市" and len(body["months"]) == 3
    own = await api_http.get("/statistics/registration/trend",
                             params={"level": "community", "id": api_city.community["A"]},
                             headers=api_city.auth("staff_a"))
    assert own.status_code == 200, own.text
    assert {m["members"] for m in own.json()["months"]} == {len(api_city.side_members("A"))}
    other = await api_http.get("/statistics/registration/trend",
                               params={"level": "community", "id": api_city.community["B"]},
                               headers=api_city.auth("staff_a"))
    assert other.status_code == 403, other.text
    city_for_staff = await api_http.get("/statistics/registration/trend", params={"level": "city"},
                                        headers=api_city.auth("staff_a"))
    assert city_for_staff.status_code == 403, city_for_staff.text
    missing = await api_http.get("/statistics/registration/trend", params={"level": "community"},
                                 headers=api_city.auth("org_city"))
    assert missing.status_code == 422 and "id" in missing.text, missing.text
    unknown = await api_http.get("/statistics/registration/trend", params={"level": "district", "id": 10**12},
                                 headers=api_city.auth("org_city"))
    assert unknown.status_code == 404, unknown.text
    too_many = await api_http.get("/statistics/registration/trend", params={"months": 37},
                                  headers=api_city.auth("org_city"))
    assert too_many.status_code == 422, too_many.text
