"""City-wide evaluation benchmark 述职评议考核: N members, ~3N ledger rows, one quarter.

    .venv/bin/python -m bench.evaluation --members 1000000

Starts its own embedded Postgres in a temp dir, migrates, seeds through COPY (CSV) a city of
N members (1,000 communities, 5 grids each, N/200 units), ~0.9 N registrations, N tasks (half
from needs), ~3 N evaluation_points rows, ~0.7 N ratings and ~0.5 N assignments, then measures:
  (a) baseline: a plain COPY of N member-result-shaped rows into an unindexed table;
  (b) baseline: a plain `SELECT count(*) FROM (... GROUP BY member_id)` over the ledger;
  (c) the city-wide evaluation itself (services.evaluation.compute_run: member results per
      100,000-id range on two connections, then units, communities, districts and the city),
      the same code the EvaluationWorkflow's activities run. Goal: under 60 s.
  (d) with --export: the member-level .xlsx export of the whole city, paged, and peak RSS.
  (e) with --unit-reports: the feedback step, one .xlsx per unit (N/200 units) plus its notice,
      against (d) as the baseline (the same rows in one workbook).

Measured 2026-11-22 on this 2-core machine, 1,000,000 members / 3,000,000 ledger rows (other
engineers' benchmarks sharing the cores, so the figure moves with their load): 15.6 s and 16.7 s at
load ~1, 32.2 s at load ~4, 62.2 s once under heavy contention; baselines in the same runs: plain
COPY of the 1M result rows 1.3 s, plain GROUP BY over the ledger 0.3 s. The member export
(--export): 60 MiB .xlsx in 133 s, no rise of the process's peak RSS above the seeding's.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import random
import resource
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.city import copy_csv, reset_sequences, seed_places
from db import evaluation as evaluation_db
from db.migrate import migrate
from db.pool import Pool, connect, open_pool
from domain.evaluation import period_of
from schemas.auth import SYSTEM_ACTOR
from schemas.evaluation import EvaluationLevel, EvaluationRule, EvaluationScope, PeriodKind
from services.evaluation import compute_run, export_workbook
from stack.postgres import start_embedded_postgres
from telemetry.logging import configure_logging

PERIOD = period_of(PeriodKind.quarter, "2026-Q3")
COMMUNITIES_PER_SUBDISTRICT = 10
SUBDISTRICTS_PER_DISTRICT = 10
DISTRICTS = 10
GRIDS_PER_COMMUNITY = 5


def _ts(seconds: float) -> str:
    return (PERIOD.start + timedelta(seconds=seconds)).isoformat()


async def seed(pool: Pool, members: int, rng: random.Random) -> None:
    span = (PERIOD.end - PERIOD.start).total_seconds()
    communities = DISTRICTS * SUBDISTRICTS_PER_DISTRICT * COMMUNITIES_PER_SUBDISTRICT
    grids = communities * GRIDS_PER_COMMUNITY
    units = max(1, members // 200)
    tasks = members
    async with pool.acquire() as conn:
        # Seeding only: skip FK triggers (ids are generated consistent) to keep the load short.
        await conn.execute("SET session_replication_role = replica")
        city = await seed_places(
            conn, districts=DISTRICTS, subdistricts_per_district=SUBDISTRICTS_PER_DISTRICT,
            communities_per_subdistrict=COMMUNITIES_PER_SUBDISTRICT, grids_per_community=GRIDS_PER_COMMUNITY,
            units=units)
        grid_at, unit_ids = city.grids, city.unit_ids   # grid index (0-based) → (grid id, community id)
        t0 = time.perf_counter()
        member_grid = [grid_at[rng.randrange(grids)] for _ in range(members)]   # (grid id, community id)
        await copy_csv(conn, "member", ["id", "name", "phone", "unit_id", "home_community_id", "home_grid_id"], (
            f"{m},党员{m},139{m:08d},{unit_ids[rng.randrange(units)]},{member_grid[m - 1][1]},"
            f"{member_grid[m - 1][0]}\n"
            for m in range(1, members + 1)))
        statuses = ("active",) * 7 + ("confirmed", "submitted", "paused")
        reg_rows = []
        reg_id = 0
        for m in range(1, members + 1):
            r = rng.random()
            if r < 0.1:
                continue   # never registered
            g, c = member_grid[m - 1]
            if r < 0.15:
                reg_id += 1
                reg_rows.append(f"{reg_id},{m},{c},{g},rejected\n")
            reg_id += 1
            reg_rows.append(f"{reg_id},{m},{c},{g},{rng.choice(statuses)}\n")
        await copy_csv(conn, "member_registration", ["id", "member_id", "community_id", "grid_id", "status"],
                    iter(reg_rows))
        del reg_rows
        print(f"seed: members + {reg_id} registrations in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        needs = tasks // 2
        await copy_csv(conn, "need", ["id", "category", "community_id", "grid_id", "urgency", "deadline_at",
                                   "description", "status", "created_by", "created_at"], (
            f"{n},助老助残,{c},{g},blue,{_ts(s + 86400)},代购,"
            f"{'rejected' if n % 20 == 0 else 'converted'},bench,{_ts(s)}\n"
            for n in range(1, needs + 1)
            for (g, c), s in [(grid_at[rng.randrange(grids)], rng.random() * span)]))
        task_status = ("closed",) * 6 + ("verified", "done", "open", "parked")
        # Tasks 1..needs come from need n (same grid via a fresh draw is fine for the bench).
        await copy_csv(conn, "task", ["id", "need_id", "community_id", "grid_id", "title", "category", "mode",
                                   "headcount", "window_start", "window_end", "qr_token_hash", "created_by",
                                   "status"], (
            f"{t},{t if t <= needs else ''},{c},{g},服务,助老助残,claim,3,"
            f"{_ts(s)},{_ts(s + 7200)},x,bench,{rng.choice(task_status)}\n"
            for t in range(1, tasks + 1)
            for (g, c), s in [(grid_at[rng.randrange(grids)], rng.random() * span)]))
        await copy_csv(conn, "assignment", ["task_id", "member_id", "source", "accepted_at"], (
            f"{t},{rng.randrange(members) + 1},claim,{_ts(rng.random() * span)}\n"
            for t in range(1, needs + 1) if t % 5 != 0))
        await copy_csv(conn, "resident_rating", ["task_id", "score", "rated_at"], (
            f"{t},{rng.choice((5, 5, 5, 4, 4, 3, 2, 1))},{_ts(rng.random() * span)}\n"
            for t in range(1, tasks + 1) if t % 10 < 7))
        print(f"seed: needs, tasks, assignments, ratings in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        ledger = 3 * members
        await copy_csv(conn, "evaluation_points", ["id", "member_id", "task_id", "service_key", "points", "parts",
                                                "awarded_at"], (
            f'{i},{m},{t},t{t}m{m}i{i},{h * 10 + 2},"{{""hours"": {h}}}",{_ts(rng.random() * span * 1.1)}\n'
            for i in range(1, ledger + 1)
            for m, t, h in [(rng.randrange(members) + 1, (i - 1) // 3 + 1, rng.randint(1, 12) / 4)]))
        print(f"seed: {ledger} ledger rows in {time.perf_counter() - t0:.1f} s")
        await reset_sequences(conn, ["member", "member_registration", "need", "task", "evaluation_points"])
        t0 = time.perf_counter()
        await conn.execute("VACUUM ANALYZE")
        print(f"seed: VACUUM ANALYZE in {time.perf_counter() - t0:.1f} s")


async def baseline_copy(pool: Pool, members: int) -> float:
    async with pool.acquire() as conn:
        await conn.execute(
            """CREATE TABLE bench_copy (run_id bigint, member_id bigint, unit_id bigint, community_id bigint,
               services int, hours numeric, evaluation_points numeric, ratings int, avg_rating numeric,
               score numeric, quota_met boolean, registration_status text, registered boolean, grade text,
               ledger_ids bigint[], explanation jsonb)""")
        rows = io.BytesIO("".join(
            f'1,{m},{m % 5000},{m % 1000},3,4.5,47.5,2,4.5,47.5,t,active,t,合格,"{{{m},{m + 1},{m + 2}}}",'
            f'"{{""registered"": true, ""services_ok"": true}}"\n'
            for m in range(1, members + 1)).encode("utf-8"))
        t0 = time.perf_counter()
        await conn.copy_to_table("bench_copy", source=rows, format="csv")
        return time.perf_counter() - t0


async def baseline_group_by(pool: Pool) -> tuple[float, int]:
    async with pool.acquire() as conn:
        t0 = time.perf_counter()
        n: int = await conn.fetchval(
            "SELECT count(*) FROM (SELECT member_id, count(*), sum(points) FROM evaluation_points "
            "WHERE awarded_at >= $1 AND awarded_at < $2 GROUP BY member_id) g", PERIOD.start, PERIOD.end)
        return time.perf_counter() - t0, n


async def export_members(pool: Pool, run_id: int) -> tuple[float, int]:
    """The member-level .xlsx export of the whole city (what GET export.xlsx?level=member builds)."""
    async with pool.acquire() as conn, conn.transaction():
        t0 = time.perf_counter()
        body = await export_workbook(conn, SYSTEM_ACTOR, run_id=run_id, level=EvaluationLevel.member)
        return time.perf_counter() - t0, len(body)


async def unit_reports(pool: Pool, run_id: int, reports_dir: Path) -> tuple[float, int]:
    """The feedback step: one .xlsx per unit plus its notice, as the workflow's activity runs it."""
    from temporalio.testing import ActivityEnvironment

    from activities.evaluation import EvaluationActivities
    from schemas.evaluation_contract import RunStepInput

    step = EvaluationActivities(pool, reports_dir=reports_dir).evaluation_unit_reports
    t0 = time.perf_counter()
    result = await ActivityEnvironment().run(step, RunStepInput(run_id=run_id))
    return time.perf_counter() - t0, result.reports


async def run(members: int, partition_size: int, concurrency: int, export: bool, reports: bool) -> None:
    rng = random.Random(2026)
    with tempfile.TemporaryDirectory(prefix="sbd-bench-eval-") as tmp:
        pg = await asyncio.to_thread(start_embedded_postgres, Path(tmp) / "postgres")
        try:
            dsn = pg.get_uri()
            first = await connect(dsn)
            try:
                await migrate(first)
            finally:
                await first.close()
            pool = await open_pool(dsn, min_size=2, max_size=concurrency + 2)
            t0 = time.perf_counter()
            await seed(pool, members, rng)
            print(f"seed total: {time.perf_counter() - t0:.1f} s")
            copy_s = await baseline_copy(pool, members)
            group_s, grouped = await baseline_group_by(pool)
            async with pool.acquire() as conn:
                run_id = await evaluation_db.insert_run(
                    conn, campaign_id=None, period_kind="quarter", period_label=PERIOD.label,
                    period_start=PERIOD.start, period_end=PERIOD.end, scope=EvaluationScope().model_dump(),
                    rule=EvaluationRule().model_dump(mode="json"), workflow_id=None)
            t0 = time.perf_counter()
            written = await compute_run(pool, run_id=run_id, partition_size=partition_size,
                                        concurrency=concurrency)
            eval_s = time.perf_counter() - t0
            before_export_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            exported = await export_members(pool, run_id) if export or reports else None
            reported = await unit_reports(pool, run_id, Path(tmp) / "reports") if reports else None
            async with pool.acquire() as conn:
                counts = await conn.fetchrow(
                    """SELECT (SELECT count(*) FROM member_evaluation WHERE run_id = $1) AS members,
                              (SELECT count(*) FROM unit_evaluation WHERE run_id = $1) AS units,
                              (SELECT count(*) FROM community_evaluation WHERE run_id = $1) AS communities,
                              (SELECT count(*) FROM area_evaluation WHERE run_id = $1) AS areas,
                              (SELECT count(*) FROM evaluation_points) AS ledger""", run_id)
                grades = await conn.fetch(
                    "SELECT grade, count(*) AS n FROM member_evaluation WHERE run_id = $1 GROUP BY grade ORDER BY 2 DESC",
                    run_id)
            await pool.close()
        finally:
            await asyncio.to_thread(pg.cleanup)
    assert counts is not None
    print(f"ledger rows: {counts['ledger']}; members evaluated: {written}")
    print(f"baseline COPY of {members} result-shaped rows (no indexes): {copy_s:.1f} s")
    print(f"baseline GROUP BY member over the ledger ({grouped} groups): {group_s:.1f} s")
    print(f"evaluation (members {counts['members']}, units {counts['units']}, communities "
          f"{counts['communities']}, areas {counts['areas']}): {eval_s:.1f} s (goal < 60 s); "
          f"{eval_s / copy_s:.1f}x the plain COPY, {eval_s / group_s:.1f}x the plain GROUP BY")
    print("grades: " + ", ".join(f"{r['grade']} {r['n']}" for r in grades))
    if exported is not None:
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"member .xlsx export: {exported[1] / 2**20:.1f} MiB in {exported[0]:.1f} s; "
              f"bench process peak RSS {before_export_mib:.0f} MiB before the export (seeding), "
              f"{peak_mib:.0f} MiB after")
    if reported is not None and exported is not None:
        print(f"unit feedback workbooks: {reported[1]} units (all {counts['members']} members) in "
              f"{reported[0]:.1f} s; {reported[0] / exported[0]:.1f}x the one member-level workbook "
              f"of the same rows (baseline)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--partition-size", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--export", action="store_true", help="also time the member-level .xlsx export")
    parser.add_argument("--unit-reports", action="store_true",
                        help="also time the per-unit feedback workbooks (with the export as baseline)")
    args = parser.parse_args()
    configure_logging(json=True, level=logging.WARNING)
    asyncio.run(run(args.members, args.partition_size, args.concurrency, args.export, args.unit_reports))


if __name__ == "__main__":
    main()
