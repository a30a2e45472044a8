"""Service-record API: a member logs and lists their own, community staff approve in their scope
only, an approval counts once and shows line by line in the evaluation's explanation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from db.pool import Pool
from domain import evaluation as ev
from domain.local_time import LOCAL_ZONE
from schemas.evaluation import EvaluationScope, PeriodKind
from services import evaluation
from tests.api_fixtures import ApiCity, _member, _registration, api_city_fixture, api_http_fixture  # noqa: F401


def _body(api_city: ApiCity, start: str, end: str, *, days_ago: int, side: str = "A", **extra: object) -> dict[str, object]:
    day = (datetime.now(UTC).astimezone(LOCAL_ZONE) - timedelta(days=days_ago)).date()
    return {"service_date": day.isoformat(), "start_time": start, "end_time": end, "category": "助老助残",
            "community_id": api_city.community[side], "description": "党员中心户走访独居老人", **extra}


async def _registered_in_a(pool: Pool, api_city: ApiCity) -> int:
    """A fresh member with an active registration in community A (a co-server the community knows)."""
    async with pool.acquire() as conn:
        member_id, _ = await _member(conn, name="共同服务党员", unit_id=api_city.unit["A"],
                                     community_id=api_city.community["A"], grid_id=api_city.grids["A"][0],
                                     phone="13700001111")
        await _registration(conn, member_id=member_id, community_id=api_city.community["A"],
                            grid_id=api_city.grids["A"][0], history=["submitted", "active"])
    return member_id


async def test_co_servers_are_members_the_community_confirmed_and_ids_are_not_revealed(
    api_http: httpx.AsyncClient, api_city: ApiCity
) -> None:
    """A co-server without a confirmed registration in the record's community (a3, never
    registered; b1, registered in B) and an id nobody has get the very same 422, naming no member."""
    answers = []
    for co_server in (api_city.members["a3"].id, api_city.members["b1"].id, 8_000_000_000):
        r = await api_http.post("/service-records", headers=api_city.auth("member_a1"),
                                json=_body(api_city, "16:00", "17:00", days_ago=6, co_server_member_id=co_server))
        assert r.status_code == 422, r.text
        answers.append(r.json())
    assert answers[0] == answers[1] == answers[2] and "共同服务人" in answers[0]["message"]
    assert answers[0]["code"] == "co_server_refused"   # the phone's form puts it beside the field
    assert str(api_city.members["a3"].id) not in answers[0]["message"]


async def test_member_logs_staff_approves_once_and_explain_shows_it(
    api_http: httpx.AsyncClient, api_city: ApiCity, pool: Pool
) -> None:
    """a1 logs a 2 h visit (with a co-server); it is on a1's own list and A's pending list; A's staff
    approve it twice and it is credited once (22 points); the evaluation counts its hours and its
    explanation has a line for it."""
    a1 = api_city.members["a1"].id
    partner = await _registered_in_a(pool, api_city)
    r = await api_http.post("/service-records", headers=api_city.auth("member_a1"),
                            json=_body(api_city, "08:00", "10:00", days_ago=2, co_server_member_id=partner))
    assert r.status_code == 201, r.text
    record = r.json()
    assert (record["member_id"], record["hours"], record["status"]) == (a1, 2.0, "pending")

    own = await api_http.get("/service-records", headers=api_city.auth("member_a1"))
    assert record["id"] in {i["id"] for i in own.json()["items"]}
    assert {i["member_id"] for i in own.json()["items"]} == {a1}
    pending = await api_http.get("/service-records", headers=api_city.auth("staff_a"), params={"status": "pending"})
    assert record["id"] in {i["id"] for i in pending.json()["items"]}

    for _ in range(2):
        r = await api_http.post("/service-records/approve", headers=api_city.auth("staff_a"),
                                json={"record_ids": [record["id"]]})
        assert r.status_code == 200, r.text
        assert r.json()["items"][0]["status"] == "approved" and r.json()["items"][0]["points"] == 22.0
    async with pool.acquire() as conn:
        assert await conn.fetchval(
            "SELECT count(*) FROM evaluation_points WHERE service_key = $1", f"record:{record['id']}") == 1
        period = ev.period_of(PeriodKind.month, datetime.now(UTC).astimezone(LOCAL_ZONE).strftime("%Y-%m"))
        run_id = await evaluation.create_run(conn, period=period,
                                             scope=EvaluationScope(district_ids=[api_city.district["A"]]))
    await evaluation.compute_run(pool, run_id=run_id, partition_size=500)
    async with pool.acquire() as conn:
        hours = await conn.fetchval(
            "SELECT hours::float FROM member_evaluation WHERE run_id = $1 AND member_id = $2", run_id, a1)
        assert hours >= 2.0
    r = await api_http.get(f"/evaluations/{run_id}/members/{a1}/explain", headers=api_city.auth("staff_a"))
    assert r.status_code == 200, r.text
    lines = [line for line in r.json()["lines"] if line["kind"] == "ledger" and line["task_id"] is None]
    mine = [line for line in lines if f"自主服务记录 #{record['id']}" in line["label"]]
    assert len(mine) == 1 and "2.0 小时" in mine[0]["value"] and "22" in mine[0]["value"], lines


async def test_refusals_are_chinese_and_scope_is_kept(api_http: httpx.AsyncClient, api_city: ApiCity) -> None:
    """Logging in a community without registration, overlapping, in the future or over 12 h is
    refused in Chinese; B's staff and member never see or decide A's record; rejecting needs a reason."""
    r = await api_http.post("/service-records", headers=api_city.auth("member_a1"),
                            json=_body(api_city, "13:00", "14:00", days_ago=3))
    assert r.status_code == 201, r.text
    record_id = r.json()["id"]
    refusals = [
        (_body(api_city, "13:00", "14:00", days_ago=3, side="B"), "未在该社区报到"),
        (_body(api_city, "13:30", "15:00", days_ago=3), f"服务记录 #{record_id}"),
        (_body(api_city, "09:00", "10:00", days_ago=-2), "未来"),
        (_body(api_city, "06:00", "19:00", days_ago=4), "12 小时"),
    ]
    for body, words in refusals:
        r = await api_http.post("/service-records", headers=api_city.auth("member_a1"), json=body)
        assert r.status_code == 422 and words in r.json()["message"], (words, r.text)

    r = await api_http.get("/service-records", headers=api_city.auth("staff_b"), params={"limit": 500})
    assert record_id not in {i["id"] for i in r.json()["items"]}
    r = await api_http.get("/service-records", headers=api_city.auth("member_b1"), params={"limit": 500})
    assert record_id not in {i["id"] for i in r.json()["items"]}
    assert (await api_http.get(f"/service-records/{record_id}", headers=api_city.auth("member_b1"))).status_code == 404
    assert (await api_http.get(f"/service-records/{record_id}", headers=api_city.auth("member_a1"))).status_code == 200
    r = await api_http.post("/service-records/approve", headers=api_city.auth("staff_b"), json={"record_ids": [record_id]})
    assert r.status_code == 404   # another community's record reads as absent
    r = await api_http.post("/service-records/approve", headers=api_city.auth("member_a1"), json={"record_ids": [record_id]})
    assert r.status_code == 403
    r = await api_http.post("/service-records/reject", headers=api_city.auth("staff_a"),
                            json={"record_ids": [record_id], "reason": ""})
    assert r.status_code == 422
    r = await api_http.post("/service-records/reject", headers=api_city.auth("sub_s1"),
                            json={"record_ids": [record_id], "reason": "照片与地点不符"})
    assert r.status_code == 200 and r.json()["items"][0]["reject_reason"] == "照片与地点不符"
