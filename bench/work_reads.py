"""The work reads of issue 12 point 1, for bench.reads: the three rates 三率 live, the ledger's
first page with its filters, the workbench's counts (the ledger's counts among them), and a
member's own points, tasks and service records.

`seed_extension` adds what bench.megacity leaves out that these reads count (residents' ratings,
the offers behind the assignments, needs waiting for verification, whistles), with triggers off,
and rebuilds the maintained aggregates. `work_reads` are the reads, each through the service its
route runs, for one caller of each kind (a district, a subdistrict, a community, a member), beside
its baseline in the same run:
  三率 and the workbench: the same figures by a plain GROUP BY over the raw tables (the
  aggregates' *_recomputed views, read with `live=True`);
  the ledger and a member's reads (index reads, nothing maintained): the same SQL with index
  scans off, i.e. read straight from the tables.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bench.megacity import Megacity
from db import aggregates, task, work_queue_tally
from db.pool import Conn
from domain.evaluation import parse_period
from domain.local_time import LOCAL_ZONE
from domain.scope import scope_filter
from schemas.auth import Actor, Role, ScopeKind
from schemas.dispatch import LedgerFilter, TaskStatus
from schemas.rates import RatesLevel
from schemas.work_queue import WorkQueues
from services import dispatch, points, rates, service_record, work_queue

Call = Callable[[Conn], Awaitable[object]]


async def seed_extension(conn: Conn, city: Megacity) -> dict[str, int]:
    """The facts bench.megacity leaves out that these reads count (see the module doc), then the
    maintained aggregates rebuilt from the raw tables."""
    await conn.execute("SET session_replication_role = replica")
    try:
        await conn.execute(
            """INSERT INTO resident_rating (task_id, score, rated_at)
               SELECT id, (ARRAY[5, 5, 5, 4, 4, 3, 2, 1])[1 + (id * 7) % 8], created_at + interval '2 days'
               FROM task WHERE status IN ('done', 'verified', 'closed') AND id % 10 < 7""")
        await conn.execute(
            """INSERT INTO offer (task_id, member_id, wave, level, status, score_parts, offered_at, expires_at,
                                  answered_at)
               SELECT task_id, member_id, 1, 'grid', 'accepted', '{}', accepted_at - interval '1 hour',
                      accepted_at + interval '1 hour', accepted_at
               FROM assignment""")
        await conn.execute(
            """INSERT INTO need (category, community_id, grid_id, urgency, deadline_at, description, status,
                                 created_by, created_at)
               SELECT '助老助残', g.community_id, g.id, 'yellow', $1::timestamptz + interval '1 day', '待核查',
                      CASE WHEN g.id % 3 = 0 THEN 'verified' ELSE 'submitted' END, 'bench',
                      $1::timestamptz - (g.id % 48) * interval '1 hour'
               FROM grid g WHERE g.id % 20 = 0""", city.now)
        await conn.execute(
            """INSERT INTO whistle (community_id, title, matter, urgency, people_needed, respond_by, status,
                                    created_by, created_at, updated_at, closed_at)
               SELECT c.id, '吹哨', '积水', 'red', 5, $1::timestamptz - (c.id % 300) * interval '1 day',
                      CASE WHEN c.id % 200 < 3 THEN 'summoning' ELSE 'closed' END, 'bench',
                      $1::timestamptz - (c.id % 300) * interval '1 day', $1::timestamptz,
                      CASE WHEN c.id % 200 < 3 THEN NULL ELSE $1::timestamptz END
               FROM community c WHERE c.id % 10 = 0""", city.now)
    finally:
        await conn.execute("SET session_replication_role = origin")
    await aggregates.rebuild(conn)
    await conn.execute("VACUUM ANALYZE")
    return {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}"))  # noqa: S608 - constant names
            for t in ("need", "resident_rating", "offer", "whistle", "rate_month", "work_queue_tally")}


def _no_index_scans(call: Call) -> Call:
    async def read(conn: Conn) -> object:
        async with conn.transaction():
            # planned anew under these settings: a statement the read already ran has a cached
            # generic plan (asyncpg keeps it prepared) that SET does not invalidate, so without
            # force_custom_plan the "baseline" ran the read's own index plan
            await conn.execute("SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off;"
                               " SET LOCAL enable_indexonlyscan = off; SET LOCAL plan_cache_mode = force_custom_plan")
            return await call(conn)
    return read


def work_reads(city: Megacity) -> list[tuple[str, Call, Call, str]]:
    """(name, the read as a person waits for it, its baseline, what the baseline is), the two
    returning the same rows."""
    c, now = city.city, city.now
    year = parse_period(str(now.astimezone(LOCAL_ZONE).year))
    district, subdistrict = c.district_ids[len(c.district_ids) // 2], c.subdistrict_ids[len(c.subdistrict_ids) // 2]
    org_city = Actor(role=Role.org_department, scope_kind=ScopeKind.city, label="bench")
    org_district = Actor(role=Role.org_department, scope_kind=ScopeKind.district, scope_id=district, label="bench")
    sub = Actor(role=Role.subdistrict, scope_kind=ScopeKind.subdistrict, scope_id=subdistrict, label="bench")
    staff = Actor(role=Role.community_staff, scope_kind=ScopeKind.community,
                  scope_id=c.community_ids[len(c.community_ids) // 2], label="bench")
    member = Actor(role=Role.member, scope_kind=ScopeKind.member, scope_id=city.members // 2, label="bench")

    def three_rates(level: RatesLevel, who: Actor) -> tuple[Call, Call]:
        async def read(conn: Conn) -> object:
            return (await rates.live_rates(conn, who, level=level, period=year.label, now=now)).items

        async def raw(conn: Conn) -> object:
            return (await rates.live_rates(conn, who, level=level, period=year.label, now=now, live=True)).items
        return read, raw

    def ledger(who: Actor, **filters: bool | TaskStatus) -> Call:
        async def read(conn: Conn) -> object:
            return await dispatch.ledger(conn, who, LedgerFilter.model_validate(filters), now=now)
        return read

    def queues(who: Actor) -> tuple[Call, Call]:
        async def read(conn: Conn) -> object:
            return await work_queue.work_queues(conn, who, now=now)

        async def raw(conn: Conn) -> object:
            scope = scope_filter(who)
            return WorkQueues(**await work_queue_tally.select_tally(conn, scope=scope, live=True),
                              tasks_overdue=await task.count_overdue(conn, scope=scope, as_of=now))
        return read, raw

    async def my_points(conn: Conn) -> object:
        return await points.my_points(conn, member, ledger=None, limit=50, offset=0)

    async def my_tasks(conn: Conn) -> object:
        return await dispatch.my_tasks(conn, member, limit=50)

    async def my_records(conn: Conn) -> object:
        return await service_record.list_records(conn, member, limit=50)

    indexed = [
        ("ledger, community staff", ledger(staff)),
        ("ledger, subdistrict, closed", ledger(sub, status=TaskStatus.closed)),
        ("ledger, district, parked", ledger(org_district, parked=True)),
        ("ledger, city, overdue", ledger(org_city, overdue=True)),
        ("GET /me/points", my_points), ("GET /me/tasks", my_tasks), ("member's service records", my_records),
    ]
    return [
        ("三率 per district, city, year", *three_rates("district", org_city), "GROUP BY"),
        ("三率 per community, district, year", *three_rates("community", org_district), "GROUP BY"),
        ("三率 the city, year", *three_rates("city", org_city), "GROUP BY"),
        ("workbench counts, community", *queues(staff), "GROUP BY"),
        ("workbench counts, district", *queues(org_district), "GROUP BY"),
        ("workbench counts, city", *queues(org_city), "GROUP BY"),
        *[(name, call, _no_index_scans(call), "no index") for name, call in indexed],
    ]
