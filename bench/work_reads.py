"""The work reads of issue 12 point 1 at megacity scale, each beside a baseline in the same run:
the three rates 三率 live, the ledger's first page with its filters, the workbench's counts (the
ledger's counts among them), and a member's own points, tasks and service records.

    .venv/bin/python -m bench.work_reads --members 1000000

Seeds bench.megacity's city, then this module's extension (`seed_extension`: residents' ratings,
the offers behind the assignments, needs waiting for verification, whistles), rebuilds the maintained
aggregates (the seed skips triggers), and times each read through the product's services, the code
the routes run, over varied callers (p50 / p95 of `--samples` calls). Baselines:
  三率: the same figures by a plain GROUP BY over need, task, assignment and resident_rating;
  the workbench: the same counts by a plain GROUP BY over the raw tables of its queues;
  the ledger and a member's reads: the same SQL with index scans off (straight from the tables).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.megacity import Megacity, seed
from db import aggregates
from db.migrate import migrate
from db.pool import Conn, Pool, connect, open_pool
from domain.evaluation import parse_period
from domain.local_time import LOCAL_ZONE
from domain.scope import scope_filter
from schemas.auth import Actor, Role, ScopeKind
from schemas.dispatch import LedgerFilter, TaskStatus
from schemas.rates import RatesLevel
from services import dispatch, points, rates, service_record, work_queue
from telemetry.logging import configure_logging

Read = Callable[[Conn, random.Random], Awaitable[object]]


async def seed_extension(conn: Conn, city: Megacity) -> dict[str, int]:
    """The facts bench.megacity leaves out that these reads count (see the module doc), then the
    三率 counters rebuilt from the raw tables."""
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
            for t in ("need", "resident_rating", "offer", "whistle", "rate_month")}


def _actor(role: Role, kind: ScopeKind, scope_id: int | None) -> Actor:
    return Actor(role=role, scope_kind=kind, scope_id=scope_id, label="bench")


@dataclass(frozen=True)
class Case:
    name: str
    read: Read
    baseline: Read
    baseline_note: str


# 三率 by a plain GROUP BY over the raw tables: the evaluation's definitions (db/evaluation.py).
_RAW_RATES = """
    WITH scoped AS (
        SELECT c.id, CASE $2::text WHEN 'community' THEN c.id WHEN 'district' THEN s.district_id ELSE 0 END AS key
        FROM community c JOIN subdistrict s ON s.id = c.subdistrict_id
        WHERE $1::bigint IS NULL OR s.district_id = $1
    ), nd AS (
        SELECT sc.key, count(*) AS needs,
               count(*) FILTER (WHERE EXISTS (SELECT 1 FROM task t JOIN assignment a ON a.task_id = t.id
                                              WHERE t.need_id = n.id)) AS responded,
               count(*) FILTER (WHERE EXISTS (SELECT 1 FROM task t WHERE t.need_id = n.id
                                              AND t.status IN ('verified', 'closed'))) AS resolved
        FROM need n JOIN scoped sc ON sc.id = n.community_id
        WHERE n.created_at >= $3 AND n.created_at < $4 AND n.status <> 'rejected' AND n.duplicate_of IS NULL
        GROUP BY sc.key
    ), rt AS (
        SELECT sc.key, count(*) AS ratings, count(*) FILTER (WHERE r.score >= 4) AS satisfied
        FROM resident_rating r JOIN task t ON t.id = r.task_id JOIN scoped sc ON sc.id = t.community_id
        WHERE r.rated_at >= $3 AND r.rated_at < $4 GROUP BY sc.key
    )
    SELECT * FROM nd FULL JOIN rt USING (key)
"""


# The workbench's queues by a plain GROUP BY over member_registration, need, task, rating,
# service_record and whistle (the view behind the maintained tally's test), in the scope.
_RAW_QUEUES = """
    SELECT sum(q.registrations_to_confirm), sum(q.registrations_to_place), sum(q.needs_to_verify),
           sum(q.needs_to_dispatch), sum(q.tasks_parked), sum(q.completions_to_verify),
           sum(q.service_records_to_approve), sum(q.whistles_open)
    FROM work_queue_tally_recomputed q
    JOIN community c ON c.id = q.community_id JOIN subdistrict s ON s.id = c.subdistrict_id
    WHERE ($1::bigint IS NULL OR s.district_id = $1) AND ($2::bigint IS NULL OR c.subdistrict_id = $2)
      AND ($3::bigint IS NULL OR q.community_id = $3)
"""


async def _no_index_scans(conn: Conn, read: Read, rng: random.Random) -> object:
    async with conn.transaction():
        await conn.execute("SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off;"
                           " SET LOCAL enable_indexonlyscan = off")
        return await read(conn, rng)


def cases(city: Megacity) -> list[Case]:
    c = city.city
    now = city.now
    local = now.astimezone(LOCAL_ZONE)
    year = parse_period(str(local.year))
    org_city = _actor(Role.org_department, ScopeKind.city, None)
    members = city.members

    def org_district(rng: random.Random) -> Actor:
        return _actor(Role.org_department, ScopeKind.district, rng.choice(c.district_ids))

    def sub(rng: random.Random) -> Actor:
        return _actor(Role.subdistrict, ScopeKind.subdistrict, rng.choice(c.subdistrict_ids))

    def staff(rng: random.Random) -> Actor:
        return _actor(Role.community_staff, ScopeKind.community, rng.choice(c.community_ids))

    def member(rng: random.Random) -> Actor:
        return _actor(Role.member, ScopeKind.member, rng.randrange(members) + 1)

    def rates_read(level: RatesLevel, who: Callable[[random.Random], Actor]) -> Read:
        async def read(conn: Conn, rng: random.Random) -> object:
            return await rates.live_rates(conn, who(rng), level=level, period=str(local.year), now=now)
        return read

    def rates_raw(level: str, district: bool) -> Read:
        async def read(conn: Conn, rng: random.Random) -> object:
            return await conn.fetch(_RAW_RATES, rng.choice(c.district_ids) if district else None, level,
                                    year.start, year.end)
        return read

    def ledger(who: Callable[[random.Random], Actor], **filters: object) -> Read:
        async def read(conn: Conn, rng: random.Random) -> object:
            return await dispatch.ledger(conn, who(rng), LedgerFilter(limit=100, **filters),  # type: ignore[arg-type]
                                         now=now)
        return read

    def queues(who: Callable[[random.Random], Actor]) -> Read:
        async def read(conn: Conn, rng: random.Random) -> object:
            return await work_queue.work_queues(conn, who(rng), now=now)
        return read

    async def my_points(conn: Conn, rng: random.Random) -> object:
        return await points.my_points(conn, member(rng), ledger=None, limit=50, offset=0)

    async def my_tasks(conn: Conn, rng: random.Random) -> object:
        return await dispatch.my_tasks(conn, member(rng), limit=50)

    async def my_records(conn: Conn, rng: random.Random) -> object:
        return await service_record.list_records(conn, member(rng), limit=50)

    def queues_raw(who: Callable[[random.Random], Actor]) -> Read:
        async def read(conn: Conn, rng: random.Random) -> object:
            scope = scope_filter(who(rng))
            return await conn.fetch(_RAW_QUEUES, scope.district_id, scope.subdistrict_id, scope.community_id)
        return read

    def plain(name: str, read: Read) -> Case:
        return Case(name, read, lambda conn, rng: _no_index_scans(conn, read, rng), "same SQL, index scans off")

    raw = "GROUP BY over need/task/assignment/rating"
    raw_queues = "GROUP BY over the raw queues' tables"
    return [
        Case("三率 per district, city-wide, this year", rates_read("district", lambda rng: org_city),
             rates_raw("district", False), raw),
        Case("三率 per community, one district, this year", rates_read("community", org_district),
             rates_raw("community", True), raw),
        Case("三率 the city, this year", rates_read("city", lambda rng: org_city),
             rates_raw("city", False), raw),
        plain("ledger first page, community staff", ledger(staff)),
        plain("ledger first page, subdistrict, status=closed", ledger(sub, status=TaskStatus.closed)),
        plain("ledger first page, district, parked", ledger(org_district, parked=True)),
        plain("ledger first page, city, overdue", ledger(lambda rng: org_city, overdue=True)),
        Case("workbench counts, community staff", queues(staff), queues_raw(staff), raw_queues),
        Case("workbench counts, district", queues(org_district), queues_raw(org_district), raw_queues),
        Case("workbench counts, city", queues(lambda rng: org_city), queues_raw(lambda rng: org_city), raw_queues),
        plain("GET /me/points", my_points),
        plain("GET /me/tasks", my_tasks),
        plain("member's service records", my_records),
    ]


async def _time(pool: Pool, read: Read, samples: int, rng: random.Random) -> tuple[float, float]:
    """(p50, p95) in ms of `samples` calls, each on a pooled connection like a request's."""
    took = []
    for _ in range(samples):
        async with pool.acquire() as conn:
            t0 = time.perf_counter()
            await read(conn, rng)
            took.append((time.perf_counter() - t0) * 1000)
    took.sort()
    return statistics.median(took), took[min(len(took) - 1, round(0.95 * (len(took) - 1)))]


async def measure(pool: Pool, city: Megacity, *, samples: int, baseline_samples: int) -> list[str]:
    lines = []
    for case in cases(city):
        rng = random.Random(case.name)
        await _time(pool, case.read, 3, rng)   # warm the caches and the prepared statements
        p50, p95 = await _time(pool, case.read, samples, rng)
        b50, b95 = await _time(pool, case.baseline, baseline_samples, random.Random(case.name))
        line = (f"{case.name:48} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms   baseline ({case.baseline_note}) "
                f"p50 {b50:8.1f} ms  p95 {b95:8.1f} ms")
        print(line, flush=True)
        lines.append(line)
    return lines


async def run(members: int, samples: int, baseline_samples: int) -> None:
    from stack.postgres import start_embedded_postgres

    with tempfile.TemporaryDirectory(prefix="sbd-bench-work-reads-") as tmp:
        pg = await asyncio.to_thread(start_embedded_postgres, Path(tmp) / "postgres")
        try:
            conn = await connect(pg.get_uri())
            try:
                await migrate(conn)
                t0 = time.perf_counter()
                city = await seed(conn, members)
                extra = await seed_extension(conn, city)
                print(f"seeded {members} members in {time.perf_counter() - t0:.1f} s "
                      f"({', '.join(f'{k} {v}' for k, v in {**city.counts, **extra}.items())})", flush=True)
            finally:
                await conn.close()
            pool = await open_pool(pg.get_uri(), min_size=1, max_size=2)
            try:
                print(f"reads at {datetime.now(LOCAL_ZONE):%Y-%m-%d %H:%M}: {samples} calls each, "
                      f"baselines {baseline_samples}", flush=True)
                await measure(pool, city, samples=samples, baseline_samples=baseline_samples)
            finally:
                await pool.close()
        finally:
            await asyncio.to_thread(pg.cleanup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--baseline-samples", type=int, default=2)
    args = parser.parse_args()
    configure_logging(json=True, level=logging.WARNING)
    asyncio.run(run(args.members, args.samples, args.baseline_samples))


if __name__ == "__main__":
    main()
