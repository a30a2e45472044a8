"""The workbench 工作台 counts: each queue counts exactly the rows in it, inside the caller's scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from db.pool import Conn, Pool
from tests.api_fixtures import ApiCity, api_http_fixture, build_api_city  # noqa: F401


async def _need(conn: Conn, city: ApiCity, side: str, status: str) -> int:
    need_id: int = await conn.fetchval(
        """
        INSERT INTO need (category, community_id, grid_id, urgency, deadline_at, description, status, created_by)
        VALUES ('助老助残', $1, $2, 'blue', now() + interval '3 days', '帮忙买菜', $3, 'test') RETURNING id
        """,
        city.community[side], city.grids[side][0], status,
    )
    return need_id


async def _task(conn: Conn, city: ApiCity, side: str, status: str, *, ends: datetime, rated: bool = False) -> int:
    task_id: int = await conn.fetchval(
        """
        INSERT INTO task (community_id, grid_id, title, category, mode, headcount, window_start, window_end,
                          status, qr_token_hash, created_by)
        VALUES ($1, $2, '陪同就医', '助老助残', 'dispatch', 1, $3, $4, $5, 'x', 'test') RETURNING id
        """,
        city.community[side], city.grids[side][0], ends - timedelta(hours=2), ends, status,
    )
    if rated:
        await conn.execute("INSERT INTO resident_rating (task_id, score, rated_at) VALUES ($1, 5, now())", task_id)
    return task_id


async def _record(conn: Conn, city: ApiCity, side: str, member: str, status: str) -> None:
    start = datetime(2026, 3, 2, 1, tzinfo=UTC)
    await conn.execute(
        """
        INSERT INTO service_record (member_id, community_id, category, started_at, ended_at, hours, status,
                                    reject_reason, decided_at, created_by, created_at)
        VALUES ($1, $2, '助老助残', $3, $4, 2, $5, $6, CASE WHEN $5 = 'pending' THEN NULL ELSE now() END,
                'test', now())
        """,
        city.members[member].id, city.community[side], start, start + timedelta(hours=2), status,
        "不实" if status == "rejected" else None,
    )


async def _whistle(conn: Conn, city: ApiCity, side: str, status: str) -> None:
    await conn.execute(
        """
        INSERT INTO whistle (community_id, title, matter, urgency, people_needed, respond_by, status,
                             created_by, created_at, updated_at)
        VALUES ($1, '积水', '小区积水', 'red', 3, now() + interval '2 hours', $2, 'test', now(), now())
        """,
        city.community[side], status,
    )


async def _fill(conn: Conn, city: ApiCity) -> None:
    """Community A: a2 submitted (from the fixture), one confirmed added; two needs to verify, one
    verified; a parked task, an overdue open task, a rated done task, an unrated done task (not yet
    verifiable), a rated follow-up task, a closed task; two pending records, one approved; an open
    and a closed whistle. Community B gets one of several kinds, which A must not count."""
    await conn.execute(
        "INSERT INTO member_registration (member_id, community_id, grid_id, status) VALUES ($1, $2, $3, 'confirmed')",
        city.members["a3"].id, city.community["A"], city.grids["A"][0],
    )
    future, past = datetime.now(UTC) + timedelta(days=2), datetime.now(UTC) - timedelta(days=1)
    for status in ("submitted", "submitted", "verified", "rejected", "converted"):
        await _need(conn, city, "A", status)
    await _task(conn, city, "A", "parked", ends=future)
    await _task(conn, city, "A", "open", ends=past)
    await _task(conn, city, "A", "done", ends=past, rated=True)
    await _task(conn, city, "A", "done", ends=past)
    await _task(conn, city, "A", "follow_up", ends=past, rated=True)
    await _task(conn, city, "A", "closed", ends=past, rated=True)
    for status in ("pending", "pending", "approved"):
        await _record(conn, city, "A", "a1", status)
    await _whistle(conn, city, "A", "summoning")
    await _whistle(conn, city, "A", "closed")
    # Community B: one of each, none of them A's.
    await _need(conn, city, "B", "submitted")
    await _task(conn, city, "B", "parked", ends=future)
    await _task(conn, city, "B", "done", ends=past, rated=True)
    await _record(conn, city, "B", "b1", "pending")
    await _whistle(conn, city, "B", "on_site")


EXPECTED_A = {
    "registrations_to_confirm": 1, "registrations_to_place": 1, "needs_to_verify": 2, "needs_to_dispatch": 1,
    "tasks_parked": 1, "tasks_overdue": 1, "completions_to_verify": 2, "service_records_to_approve": 2,
    "whistles_open": 1,
}
EXPECTED_B = {
    "registrations_to_confirm": 0, "registrations_to_place": 0, "needs_to_verify": 1, "needs_to_dispatch": 0,
    "tasks_parked": 1, "tasks_overdue": 0, "completions_to_verify": 1, "service_records_to_approve": 1,
    "whistles_open": 1,
}


async def test_counts_each_queue_inside_the_community(api_http: httpx.AsyncClient, pool: Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        city = await build_api_city(conn)
        await _fill(conn, city)
    for actor, expected in (("staff_a", EXPECTED_A), ("staff_b", EXPECTED_B), ("sub_s1", EXPECTED_A),
                            ("org_d1", EXPECTED_A)):
        resp = await api_http.get("/work-queues", headers=city.auth(actor))
        assert resp.status_code == 200, resp.text
        assert resp.json() == expected, actor


async def test_units_and_members_have_no_workbench(api_http: httpx.AsyncClient, pool: Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        city = await build_api_city(conn)
    for actor in ("unit_a", "member_a1"):
        resp = await api_http.get("/work-queues", headers=city.auth(actor))
        assert resp.status_code == 403, resp.text
        assert "工作台" in resp.json()["message"]
    assert (await api_http.get("/work-queues")).status_code == 401

