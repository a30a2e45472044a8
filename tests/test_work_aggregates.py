"""The counters of migration 0022 (三率, the workbench's queues) against the raw tables: after a
mixed workload (rows inserted, moved forward, moved back, deleted), and under concurrent writers
of the same need or task, every maintained row equals the same figure recomputed by a plain
GROUP BY; and GET /statistics/rates reads them per level inside the caller's scope."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx

from db import aggregates
from db.pool import Conn, Pool
from domain.local_time import LOCAL_ZONE
from tests.api_fixtures import ApiCity, api_city_fixture, api_http_fixture  # noqa: F401
from tests.places import add_community, add_district, add_grid, add_member, add_subdistrict, register_member

_MINE = ("rate_month", "rating_month", "work_queue_tally")   # migration 0022's, in db.aggregates


async def work_counter_differences(conn: Conn) -> list[dict[str, object]]:
    """Rows where one of this migration's counters and its recomputation differ (none: equal)."""
    return [row for a in aggregates.AGGREGATES if a.table in _MINE for row in await aggregates.differences(conn, a)]


_AT = datetime(2026, 3, 31, 15, 30, tzinfo=UTC)   # 23:30 in Beijing: still March there


async def _city(conn: Conn) -> tuple[int, int, int, list[int]]:
    district = await add_district(conn)
    subdistrict = await add_subdistrict(conn, district)
    community = await add_community(conn, subdistrict)
    grid = await add_grid(conn, community)
    members = [await add_member(conn, community_id=community, grid_id=grid) for _ in range(3)]
    return subdistrict, community, grid, members


async def _needs(conn: Conn, community: int, grid: int, ats: list[datetime]) -> list[int]:
    rows = await conn.fetch(
        """
        INSERT INTO need (category, community_id, grid_id, urgency, deadline_at, description, created_by,
                          created_at)
        SELECT '助老助残', $1, $2, 'blue', at + interval '3 days', '代购', 'test', at FROM unnest($3::timestamptz[]) at
        RETURNING id
        """, community, grid, ats)
    return [int(r["id"]) for r in rows]


async def _tasks(conn: Conn, community: int, grid: int, need_ids: list[int | None]) -> list[int]:
    rows = await conn.fetch(
        """
        INSERT INTO task (need_id, community_id, grid_id, title, category, mode, headcount, window_start,
                          window_end, qr_token_hash, created_by)
        SELECT n, $1, $2, '服务', '助老助残', 'claim', 2, $4::timestamptz, $4::timestamptz + interval '2 hours', 'x', 'test'
        FROM unnest($3::bigint[]) WITH ORDINALITY AS u(n, i) ORDER BY i
        RETURNING id
        """, community, grid, need_ids, _AT)
    return [int(r["id"]) for r in rows]


async def test_counters_equal_the_raw_tables_after_a_mixed_workload(conn: Conn) -> None:
    _, community, grid, members = await _city(conn)
    march, april = _AT, _AT + timedelta(hours=1)   # 23:30 and 00:30 Beijing: two months
    needs = await _needs(conn, community, grid, [march, march, april, april, march])
    await conn.execute("UPDATE need SET status = 'rejected' WHERE id = $1", needs[1])
    await conn.execute("UPDATE need SET duplicate_of = $1 WHERE id = $2", needs[0], needs[4])
    tasks = await _tasks(conn, community, grid, [needs[0], needs[0], needs[2], needs[3], None])
    # Responded: two members take tasks of need 0 in one statement, one takes need 2's.
    await conn.execute(
        """INSERT INTO assignment (task_id, member_id, source, accepted_at)
           SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::timestamptz[])""",
        [tasks[0], tasks[1], tasks[2], tasks[4]], [members[0], members[1], members[2], members[0]],
        ["claim"] * 4, [march] * 4)
    # Resolved: one task of need 0 closes; need 3's task verified then sent back to follow-up.
    await conn.execute("UPDATE task SET status = 'closed' WHERE id = ANY($1::bigint[])", [tasks[0], tasks[4]])
    await conn.execute("UPDATE task SET status = 'verified' WHERE id = $1", tasks[3])
    await conn.execute("UPDATE task SET status = 'follow_up' WHERE id = $1", tasks[3])
    # A response withdrawn entirely (the row deleted), a task moved to another need.
    await conn.execute("DELETE FROM assignment WHERE task_id = $1", tasks[2])
    await conn.execute("UPDATE task SET need_id = $1 WHERE id = $2", needs[3], tasks[1])
    await conn.execute("UPDATE task SET status = 'verified' WHERE id = $1", tasks[1])
    # Ratings: inserted in two months, one rescored, one removed.
    await conn.execute(
        """INSERT INTO resident_rating (task_id, score, rated_at)
           SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::timestamptz[])""",
        tasks[:4], [5, 3, 4, 1], [march, march, april, april])
    await conn.execute("UPDATE resident_rating SET score = 2 WHERE task_id = $1", tasks[0])
    await conn.execute("DELETE FROM resident_rating WHERE task_id = $1", tasks[3])
    # A need placed and removed again before anything referenced it.
    [gone] = await _needs(conn, community, grid, [april])
    await conn.execute("DELETE FROM need WHERE id = $1", gone)

    assert await work_counter_differences(conn) == []
    kept = {(r["month"].month, r["needs"], r["responded"], r["resolved"]) for r in await conn.fetch(
        "SELECT month, needs, responded, resolved FROM rate_month"
        " WHERE level = 'community' AND area_id = $1 AND needs > 0",
        community)}
    # March: needs 0 (responded, resolved by its closed task) counted; 1 rejected, 4 a duplicate.
    # April: needs 2 (its only response deleted) and 3 (its moved-in task verified).
    assert kept == {(3, 1, 1, 1), (4, 2, 1, 1)}

    # The rebuild (what bulk loads call after skipping triggers) reaches the same rows.
    kept_sql = "SELECT * FROM rate_month WHERE needs > 0 ORDER BY 1, 2, 3"
    before = await conn.fetch(kept_sql)
    await aggregates.rebuild(conn)
    assert await conn.fetch(kept_sql) == before
    assert await work_counter_differences(conn) == []


async def _until_waiting_on_a_lock(pool: Pool, pids: list[int], index: int, failure: str) -> None:
    """Until the backend pids[index] (appended by the writer once connected) waits on a lock."""
    async with pool.acquire() as watcher:
        for _ in range(500):
            if len(pids) > index and await watcher.fetchval(
                    "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pids[index]):
                return
            await asyncio.sleep(0.01)
    raise AssertionError(failure)


async def test_concurrent_responses_to_one_need_count_it_once(pool: Pool) -> None:
    """Two members take two tasks of one need at once: the second writer waits on the need's
    state row, then reads the first's committed answer, so the need counts as responded once."""
    async with pool.acquire() as conn:
        _, community, grid, members = await _city(conn)
        [need] = await _needs(conn, community, grid, [_AT])
        tasks = await _tasks(conn, community, grid, [need, need])
    first_done, release = asyncio.Event(), asyncio.Event()
    pids: list[int] = []

    async def take(task_id: int, member_id: int, *, hold: bool) -> None:
        async with pool.acquire() as c, c.transaction():
            pids.append(await c.fetchval("SELECT pg_backend_pid()"))
            await c.execute("INSERT INTO assignment (task_id, member_id, source, accepted_at) "
                            "VALUES ($1, $2, 'claim', $3)", task_id, member_id, _AT)
            if hold:
                first_done.set()
                await release.wait()

    first = asyncio.create_task(take(tasks[0], members[0], hold=True))
    await first_done.wait()
    second = asyncio.create_task(take(tasks[1], members[1], hold=False))
    await _until_waiting_on_a_lock(pool, pids, 1, "the second writer never waited on the need's state row")
    release.set()
    await asyncio.gather(first, second)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT needs, responded FROM rate_month WHERE level = 'community' AND area_id = $1", community)
        assert row is not None and (row["needs"], row["responded"]) == (1, 1)
        assert await work_counter_differences(conn) == []


async def test_live_rates_per_level_inside_the_callers_scope(
    pool: Pool, api_http: httpx.AsyncClient, api_city: ApiCity
) -> None:
    """GET /statistics/rates: this month's 三率 of community A (3 needs: 2 responded, 1 resolved;
    ratings 5, 4, 2 → 2 satisfied at the default 4 stars), what each role may read of it."""
    now = datetime.now(UTC)
    community, grid = api_city.community["A"], api_city.grids["A"][0]
    member = api_city.members["a1"].id
    async with pool.acquire() as conn:
        needs = await _needs(conn, community, grid, [now] * 3)
        tasks = await _tasks(conn, community, grid, [*needs, None])
        await conn.execute("INSERT INTO assignment (task_id, member_id, source, accepted_at) "
                           "SELECT unnest($1::bigint[]), $2, 'claim', $3", tasks[:2], member, now)
        await conn.execute("UPDATE task SET status = 'closed' WHERE id = $1", tasks[0])
        await conn.execute("INSERT INTO resident_rating (task_id, score, rated_at) "
                           "SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::timestamptz[])",
                           [tasks[0], tasks[1], tasks[3]], [5, 4, 2], [now] * 3)
    local = now.astimezone(LOCAL_ZONE)
    month = f"{local.year}-{local.month:02d}"

    async def read(actor: str, **params: str) -> httpx.Response:
        return await api_http.get("/statistics/rates", params=params, headers=api_city.auth(actor))

    resp = await read("staff_a")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["level"], body["period_label"], body["satisfied_min_score"]) == ("community", month, 4)
    [row] = body["items"]   # a community's staff: their own community only
    assert row["id"] == community
    assert {k: row[k] for k in ("needs", "responded", "resolved", "ratings", "satisfied")} == {
        "needs": 3, "responded": 2, "resolved": 1, "ratings": 3, "satisfied": 2}
    assert (row["response_rate"], row["resolution_rate"], row["satisfaction_rate"]) == (0.6667, 0.3333, 0.6667)

    city_rows = {r["id"]: r for r in (await read("org_city", level="community", period=month)).json()["items"]}
    assert city_rows[community] == row and api_city.community["B"] in city_rows
    assert [r["id"] for r in (await read("staff_b")).json()["items"]] == [api_city.community["B"]]
    [district_row] = (await read("org_d1", level="district")).json()["items"]
    assert district_row["id"] == api_city.district["A"] and district_row["needs"] >= 3
    assert (await read("org_city", level="city", period=str(local.year - 5))).json()["items"][0]["needs"] == 0
    for refused in ("unit_a", "member_a1"):
        assert (await read(refused)).status_code == 403
    bad = await read("staff_a", period="2026-13")
    assert bad.status_code == 422 and "period" in bad.text


async def test_workbench_tally_equals_the_raw_tables_after_a_mixed_workload(conn: Conn) -> None:
    _, community, grid, members = await _city(conn)
    other = await add_community(conn, await add_subdistrict(conn, await add_district(conn)))
    regs = [await register_member(conn, m, community_id=community, grid_id=None, status="submitted")
            for m in members]
    await conn.execute("UPDATE member_registration SET status = 'confirmed' WHERE id = ANY($1::bigint[])", regs[:2])
    await conn.execute("UPDATE member_registration SET status = 'active', grid_id = $2 WHERE id = $1", regs[0], grid)
    await conn.execute("UPDATE member_registration SET community_id = $2 WHERE id = $1", regs[2], other)
    needs = await _needs(conn, community, grid, [_AT] * 3)
    await conn.execute("UPDATE need SET status = 'verified' WHERE id = ANY($1::bigint[])", needs[:2])
    await conn.execute("UPDATE need SET status = 'converted' WHERE id = $1", needs[0])
    tasks = await _tasks(conn, community, grid, [needs[0], None, None, None])
    await conn.execute("UPDATE task SET status = 'parked' WHERE id = ANY($1::bigint[])", tasks[:2])
    await conn.execute("UPDATE task SET status = 'open' WHERE id = $1", tasks[1])
    await conn.execute("UPDATE task SET status = 'done' WHERE id = ANY($1::bigint[])", tasks[2:])
    await conn.execute("INSERT INTO resident_rating (task_id, score, rated_at) "
                       "SELECT unnest($1::bigint[]), 4, $2", tasks[2:], _AT)
    await conn.execute("UPDATE task SET status = 'follow_up' WHERE id = $1", tasks[2])
    await conn.execute("UPDATE task SET status = 'verified' WHERE id = $1", tasks[3])
    await conn.execute("DELETE FROM resident_rating WHERE task_id = $1", tasks[3])
    records = await conn.fetch(
        "INSERT INTO service_record (member_id, community_id, category, started_at, ended_at, hours, created_by,"
        " created_at) SELECT m, $2, '助老助残', $3::timestamptz, $3::timestamptz + interval '1 hour', 1, 'test', $3"
        " FROM unnest($1::bigint[]) m RETURNING id", members, community, _AT)
    await conn.execute("UPDATE service_record SET status = 'approved', decided_at = $2 WHERE id = $1",
                       records[0]["id"], _AT)
    await conn.execute("DELETE FROM service_record WHERE id = $1", records[1]["id"])
    whistles = await conn.fetch(
        "INSERT INTO whistle (community_id, title, matter, urgency, people_needed, respond_by, created_by,"
        " created_at, updated_at) SELECT $1, '吹哨', '积水', 'red', 2, $2, 'test', $2, $2"
        " FROM generate_series(1, 2) RETURNING id", community, _AT)
    await conn.execute("UPDATE whistle SET status = 'closed' WHERE id = $1", whistles[0]["id"])

    assert await work_counter_differences(conn) == []
    row = await conn.fetchrow("SELECT * FROM work_queue_tally WHERE community_id = $1", community)
    assert row is not None and dict(row) == {
        "community_id": community, "registrations_to_confirm": 0, "registrations_to_place": 1,
        "needs_to_verify": 1, "needs_to_dispatch": 1, "tasks_parked": 1, "completions_to_verify": 1,
        "service_records_to_approve": 1, "whistles_open": 1}
    assert await conn.fetchval("SELECT registrations_to_confirm FROM work_queue_tally WHERE community_id = $1",
                               other) == 1


async def test_a_rating_and_a_verification_at_once_leave_the_queue_right(pool: Pool) -> None:
    """A resident rates a done task while staff verify it: whichever commits second reads the
    other's row, so the task is not left counted as waiting for verification."""
    async with pool.acquire() as conn:
        _, community, grid, _ = await _city(conn)
        [task] = await _tasks(conn, community, grid, [None])
        await conn.execute("UPDATE task SET status = 'done' WHERE id = $1", task)
    verified, release = asyncio.Event(), asyncio.Event()
    pids: list[int] = []

    async def verify() -> None:
        async with pool.acquire() as c, c.transaction():
            await c.execute("UPDATE task SET status = 'verified' WHERE id = $1", task)
            verified.set()
            await release.wait()

    async def rate() -> None:
        async with pool.acquire() as c, c.transaction():
            pids.append(await c.fetchval("SELECT pg_backend_pid()"))
            await c.execute("INSERT INTO resident_rating (task_id, score, rated_at) VALUES ($1, 5, $2)", task, _AT)

    first = asyncio.create_task(verify())
    await verified.wait()
    second = asyncio.create_task(rate())
    await _until_waiting_on_a_lock(pool, pids, 0, "the rating never waited on the task being verified")
    release.set()
    await asyncio.gather(first, second)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT coalesce(sum(completions_to_verify), 0) FROM work_queue_tally"
                                   " WHERE community_id = $1", community) == 0
        assert await work_counter_differences(conn) == []
