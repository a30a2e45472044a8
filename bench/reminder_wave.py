"""Reminder-wave benchmark: one ladder step over 1,000,000 members, through the real workflow.

    .venv/bin/python -m bench.reminder_wave --members 1000000 [--partitions 128 --concurrency 8]

Starts its own embedded Postgres (temp dir) and a Temporal dev server, seeds a city with N
members, all registered, of whom 2 % have served this period (COPY, a few seconds), and a running
campaign with a service quota of 1 per period. Then a worker *process* (so its memory is its own)
runs one `ReminderWaveWorkflow` (the quota wave's `remind` step telling members, units and
communities). Printed:
  - wall time of the wave (goal < 5 min) and peak worker RSS (goal < 1 GiB)
  - the wave workflow's history length (events)
  - duplicates (reminder keys / notification dedupe keys seen twice; must be 0), members
    reminded vs members behind counted independently, member notifications vs reminders
  - a rerun of the same step (a second workflow run: every partition found done, 0 new)
  - how long the progress read (GET /campaigns/{id}/progress) takes per district and community
  - the baseline measured in the same run: the same reminder and notification rows written by a
    plain COPY into copies of the two tables (without and with their indexes).
With --kill-worker-at 0.5 the worker is killed (SIGKILL) halfway through the wave and a new one
started: the wall time then includes the 30 s heartbeat timeout, and duplicates must stay 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from bench.city import seed_places
from db.migrate import migrate
from db.pool import Conn, Pool, connect, open_pool
from schemas.campaign import DeadlineKind, Recipient
from schemas.campaign_contract import ReminderWaveInput, ReminderWaveResult
from schemas.registration import ReminderStep

TASK_QUEUE = "bench-reminder-wave"
CHUNK = 100_000


async def _seed(conn: Conn, members: int, *, communities: int, units: int, now: datetime) -> dict[str, Any]:
    """A city by COPY: 2 districts, 10 subdistricts, ~`communities` communities (one grid each),
    `units` units, `members` members each with an active registration, 2 % with a service."""
    started = time.perf_counter()
    # Places and units through bench.city (the product's bulk paths); members and registrations by COPY.
    city = await seed_places(conn, districts=2, subdistricts_per_district=5,
                             communities_per_subdistrict=max(1, communities // 10), grids_per_community=1,
                             units=units, district_names=["基准一区", "基准二区"])
    community_ids, unit_ids = city.community_ids, city.unit_ids
    grid_ids = [grid for grid, _ in city.grids]   # one grid a community
    communities = len(community_ids)

    def member_rows(lo: int, hi: int) -> Iterator[tuple[Any, ...]]:
        for i in range(lo, hi):
            c = i % communities
            yield (f"党员{i}", unit_ids[i % units], community_ids[c], grid_ids[c])

    for lo in range(0, members, CHUNK):
        await conn.copy_records_to_table(
            "member", records=member_rows(lo, min(lo + CHUNK, members)),
            columns=["name", "unit_id", "home_community_id", "home_grid_id"])
    first = int(await conn.fetchval("SELECT min(id) FROM member"))

    def registration_rows(lo: int, hi: int) -> Iterator[tuple[Any, ...]]:
        for i in range(lo, hi):
            c = i % communities
            yield (first + i, community_ids[c], grid_ids[c], "active", now - timedelta(days=60),
                   now - timedelta(days=59))

    for lo in range(0, members, CHUNK):
        await conn.copy_records_to_table(
            "member_registration", records=registration_rows(lo, min(lo + CHUNK, members)),
            columns=["member_id", "community_id", "grid_id", "status", "submitted_at", "confirmed_at"])
    await conn.execute(
        """INSERT INTO task (community_id, grid_id, title, category, mode, headcount, window_start,
                             window_end, qr_token_hash, created_by, status)
           SELECT c.id, g.id, '基准服务', '环境整治', 'claim', 100, $1::timestamptz, $1::timestamptz + interval '1 day', 'x', 'bench', 'done'
           FROM community c JOIN grid g ON g.community_id = c.id""", now - timedelta(days=10))
    served: int = await conn.fetchval(
        """WITH ins AS (
             INSERT INTO assignment (task_id, member_id, source, status, accepted_at, checked_in_at,
                                     checked_out_at, hours)
             SELECT t.id, m.id, 'claim', 'checked_out', $1::timestamptz, $1::timestamptz, $1::timestamptz + interval '2 hours', 2
             FROM member m JOIN task t ON t.community_id = m.home_community_id
             WHERE m.id % 50 = 0 RETURNING 1)
           SELECT count(*) FROM ins""", now - timedelta(days=10))
    await conn.execute("ANALYZE")
    return {"seed_s": round(time.perf_counter() - started, 1), "served_members": served}


async def seed_campaign(conn: Conn, now: datetime) -> int:
    """A running campaign over the whole city with a service quota of 1 per period (quarter)."""
    from db import campaign as campaign_db
    from schemas.campaign import QuotaPeriod, Quotas, ReminderPolicy

    row = await campaign_db.insert_campaign(
        conn, name="基准活动", kind="在职党员进社区", launched_by_kind="city", launched_by_id=None,
        district_ids=[], subdistrict_ids=[], community_ids=[], window_start=now - timedelta(days=30),
        window_end=now + timedelta(days=60), registration_deadline=None,
        quotas=Quotas(period=QuotaPeriod.quarter, min_services=1).model_dump(mode="json"),
        reminder_policy=ReminderPolicy().model_dump(mode="json"), evaluation_rule={},
        redeemable=False, emergency=False, created_by="bench", at=now)
    campaign_id = row.id
    await campaign_db.resolve_scope(conn, campaign_id=campaign_id)
    await conn.execute("UPDATE campaign SET status = 'running' WHERE id = $1", campaign_id)
    return campaign_id


async def _history_length(client: Client, workflow_id: str) -> int:
    count = 0
    async for _ in client.get_workflow_handle(workflow_id).fetch_history_events():
        count += 1
    return count


async def _checks(conn: Conn, campaign_id: int, period_start: datetime, as_of: datetime) -> dict[str, Any]:
    ladder = f"campaign:{campaign_id}:quota"
    dup_reminders = await conn.fetchval(
        """SELECT count(*) FROM (SELECT 1 FROM reminder WHERE ladder = $1
           GROUP BY ladder, subject_kind, subject_id, cycle, step, recipient_kind, recipient_id
           HAVING count(*) > 1) d""", ladder)
    dup_notes = await conn.fetchval(
        """SELECT count(*) FROM (SELECT 1 FROM notification WHERE dedupe_key LIKE $1
           GROUP BY dedupe_key HAVING count(*) > 1) d""", f"{ladder}:%")
    # Independent of the wave's SQL: registered members without any service this period.
    behind = await conn.fetchval(
        """SELECT count(*) FROM member_registration r WHERE r.status IN ('active', 'confirmed')
           AND r.member_id NOT IN (SELECT member_id FROM assignment WHERE status = 'checked_out'
                                   AND checked_out_at >= $1 AND checked_out_at < $2)""",
        period_start, as_of)
    reminded_members = await conn.fetchval(
        "SELECT count(DISTINCT recipient_id) FROM reminder WHERE ladder = $1 AND recipient_kind = 'member'", ladder)
    member_notes = await conn.fetchval(
        "SELECT count(*) FROM notification WHERE dedupe_key LIKE $1 AND recipient_kind = 'member'", f"{ladder}:%")
    group_notes = await conn.fetchval(
        "SELECT count(*) FROM notification WHERE dedupe_key LIKE $1 AND recipient_kind <> 'member'", f"{ladder}:%")
    return {"duplicate_reminder_keys": dup_reminders, "duplicate_notification_keys": dup_notes,
            "members_behind_independent": behind, "members_reminded": reminded_members,
            "member_notifications": member_notes, "group_notifications": group_notes}


async def _progress(conn: Conn, campaign_id: int, now: datetime) -> dict[str, Any]:
    """How long the campaign's progress read takes over the whole city, per district and community."""
    from db.campaign_progress import select_progress

    figures: dict[str, Any] = {}
    for level in ("district", "community"):
        started = time.perf_counter()
        _, rows = await select_progress(conn, campaign_id=campaign_id, level=level,
                                     period_start=now - timedelta(days=30), as_of=now, min_services=1)
        figures[f"progress_{level}_s"] = round(time.perf_counter() - started, 1)
        figures[f"progress_{level}_rows"] = len(rows)
    return figures


async def _baseline(conn: Conn, campaign_id: int) -> dict[str, Any]:
    """The same reminder and notification rows written by plain COPY, without and with indexes."""
    reminders = [tuple(r) for r in await conn.fetch(
        """SELECT id, ladder, subject_kind, subject_id, cycle, step, recipient_kind, recipient_id, reason, sent_at
           FROM reminder WHERE ladder = $1""", f"campaign:{campaign_id}:quota")]
    notes = [tuple(r) for r in await conn.fetch(
        """SELECT id, recipient_kind, recipient_id, category, title, body, dedupe_key, created_at
           FROM notification WHERE dedupe_key LIKE $1""", f"campaign:{campaign_id}:quota:%")]
    r_cols = ["id", "ladder", "subject_kind", "subject_id", "cycle", "step", "recipient_kind", "recipient_id",
              "reason", "sent_at"]
    n_cols = ["id", "recipient_kind", "recipient_id", "category", "title", "body", "dedupe_key", "created_at"]
    figures: dict[str, Any] = {"baseline_rows": len(reminders) + len(notes)}
    for label, like in (("plain", "INCLUDING DEFAULTS"), ("indexed", "INCLUDING ALL")):
        await conn.execute(f"CREATE TABLE bench_reminder (LIKE reminder {like})")
        await conn.execute(f"CREATE TABLE bench_notification (LIKE notification {like})")
        started = time.perf_counter()
        await conn.copy_records_to_table("bench_reminder", records=reminders, columns=r_cols)
        await conn.copy_records_to_table("bench_notification", records=notes, columns=n_cols)
        figures[f"copy_{label}_s"] = round(time.perf_counter() - started, 1)
        await conn.execute("DROP TABLE bench_reminder, bench_notification")
    return figures


async def _partitions_done_at(dsn: str, campaign_id: int, share: float) -> int:
    """Wait until `share` of the wave's partitions are done; how many were."""
    conn = await connect(dsn)
    try:
        while True:
            row = await conn.fetchrow(
                "SELECT partitions_done, partitions_total FROM campaign_wave WHERE campaign_id = $1", campaign_id)
            if row is not None and row["partitions_done"] >= share * row["partitions_total"]:
                return int(row["partitions_done"])
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


def _start_worker(dsn: str, address: str, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.reminder_wave", "--worker", "--dsn", dsn, "--address", address,
         "--rss-file", str(out)],
        stdin=subprocess.DEVNULL)


async def _run_worker(dsn: str, address: str, rss_file: Path) -> None:
    """The worker process: all workflows and activities, until SIGTERM; then its peak RSS."""
    from temporalio.worker import Worker

    from workers.registry import all_activities, all_workflows

    client = await Client.connect(address, data_converter=pydantic_data_converter)
    pool = await open_pool(dsn, min_size=2, max_size=12)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        async with Worker(client, task_queue=TASK_QUEUE, workflows=list(all_workflows()),
                          activities=list(all_activities(pool)), max_concurrent_activities=16):
            await stop.wait()
    finally:
        await pool.close()
        peak = json.dumps({"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss})
        await asyncio.to_thread(rss_file.write_text, peak)


async def run(members: int, *, partitions: int, concurrency: int, communities: int, units: int,
              kill_at: float | None = None) -> dict[str, Any]:
    from temporalio.testing import WorkflowEnvironment

    from stack.binaries import temporal_cli
    from stack.postgres import start_embedded_postgres
    from workflows.reminder_wave import ReminderWaveWorkflow

    figures: dict[str, Any] = {"members": members, "partitions": partitions, "concurrency": concurrency}
    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="sbd-bench-wave-") as tmp:
        server = start_embedded_postgres(Path(tmp) / "pg")
        env = await WorkflowEnvironment.start_local(
            data_converter=pydantic_data_converter, dev_server_existing_path=str(temporal_cli()))
        try:
            dsn = server.get_uri()
            conn = await connect(dsn)
            try:
                await migrate(conn)
                figures.update(await _seed(conn, members, communities=communities, units=units, now=now))
                campaign_id = await seed_campaign(conn, now)
            finally:
                await conn.close()
            rss_file = Path(tmp) / "worker-rss.json"
            worker = _start_worker(dsn, env.client.service_client.config.target_host, rss_file)
            try:
                wave = ReminderWaveInput(
                    campaign_id=campaign_id, deadline_kind=DeadlineKind.quota, period=0,
                    period_start=now - timedelta(days=30), period_end=now, step=ReminderStep.remind,
                    notify=(Recipient.member, Recipient.unit, Recipient.community), as_of=now,
                    partitions=partitions, concurrency=concurrency)
                started = time.perf_counter()
                handle = await env.client.start_workflow(
                    ReminderWaveWorkflow.run, wave, id=f"bench-wave-{campaign_id}", task_queue=TASK_QUEUE)
                if kill_at is not None:
                    # kill -9 the worker mid-wave and start another: partitions in flight are
                    # retried after the heartbeat timeout, finished ones are found done.
                    figures["killed_after_partitions"] = await _partitions_done_at(dsn, campaign_id, kill_at)
                    worker.kill()
                    await asyncio.to_thread(worker.wait, 60)
                    worker = _start_worker(dsn, env.client.service_client.config.target_host, rss_file)
                result = ReminderWaveResult.model_validate(await handle.result())
                figures["wave_wall_s"] = round(time.perf_counter() - started, 1)
                figures["wave_reminded"] = result.reminded
                figures["wave_behind"] = result.behind
                figures["wave_groups_reminded"] = result.groups_reminded
                figures["history_events"] = await _history_length(env.client, f"bench-wave-{campaign_id}")
                started = time.perf_counter()
                again = ReminderWaveResult.model_validate(await env.client.execute_workflow(
                    ReminderWaveWorkflow.run, wave, id=f"bench-wave-{campaign_id}-again", task_queue=TASK_QUEUE))
                figures["rerun_s"] = round(time.perf_counter() - started, 1)
                figures["rerun_partitions_pending"] = again.partitions
                figures["rerun_reminded_total"] = again.reminded   # the wave's totals, unchanged
            finally:
                worker.send_signal(signal.SIGTERM)
                await asyncio.to_thread(worker.wait, 60)
            if await asyncio.to_thread(rss_file.exists):
                peak = json.loads(await asyncio.to_thread(rss_file.read_text))
                figures["worker_peak_rss_mib"] = round(peak["maxrss_kb"] / 1024)
            pool: Pool = await open_pool(dsn, min_size=1, max_size=2)
            try:
                async with pool.acquire() as c:
                    figures.update(await _checks(c, campaign_id, now - timedelta(days=30), now))
                    figures.update(await _progress(c, campaign_id, now))
                    figures.update(await _baseline(c, campaign_id))
            finally:
                await pool.close()
        finally:
            await env.shutdown()
            server.cleanup()
    figures["duplicates"] = figures.get("duplicate_reminder_keys", 0) + figures.get("duplicate_notification_keys", 0)
    figures["reminded_equals_behind"] = figures.get("members_reminded") == figures.get("members_behind_independent")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description="Reminder wave benchmark")
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=128)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--communities", type=int, default=500)
    parser.add_argument("--units", type=int, default=5000)
    parser.add_argument("--kill-worker-at", type=float, default=None,
                        help="kill -9 the worker when this share of partitions is done, start another")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    parser.add_argument("--address", help=argparse.SUPPRESS)
    parser.add_argument("--rss-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(_run_worker(args.dsn, args.address, args.rss_file))
        return
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    figures = asyncio.run(run(args.members, partitions=args.partitions, concurrency=args.concurrency,
                              communities=args.communities, units=args.units, kill_at=args.kill_worker_at))
    for key, value in figures.items():
        print(f"{key:32} {value}")


if __name__ == "__main__":
    main()
