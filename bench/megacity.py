"""The megacity (the largest city the product is built for), seeded by COPY for the benches of issue 12.

    .venv/bin/python -m bench.megacity --members 1000000

At 1,000,000 members: 16 districts, 336 subdistricts, ~10,400 communities (31 a subdistrict),
~104,000 grids (10 a community), 5,000 units; places shrink with --members (100 members a
community). Every member lives in a random grid and works in a random unit; registrations mix
the real states (8 % never registered, 5 % with an earlier closed registration, the latest one
mostly active, some confirmed, submitted, paused, lapsed, rejected or withdrawn). A year of
tasks (members / 2, from needs half of them) with 1-3 assignments each from the task's own
community (checked out once the task is done), members / 2 self-logged service records 服务记录
(80 % approved), the evaluation ledger for every service, and a running city-wide campaign (window
80 days back to 40 days ahead, a quarterly quota of one service) whose reminder wave has told the
unregistered (registration ladder) and the registered without a service this quarter (quota
ladder: remind, then urge for a third of them).

The seeding runs with session_replication_role = replica (no FK or other triggers) and ends with
the maintained aggregates' rebuild (db/aggregates.py), as every bulk path must. CLI: starts an embedded Postgres in
a temp dir, seeds, prints the row counts and the time, and removes it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import random
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.city import City, copy_csv, reset_sequences, seed_places
from db import aggregates as aggregates_db
from db import campaign as campaign_db
from db.migrate import migrate
from db.pool import Conn, connect
from schemas.campaign import QuotaPeriod, Quotas, ReminderPolicy
from telemetry.logging import configure_logging

DISTRICTS = 16
COMMUNITIES_PER_SUBDISTRICT = 31
GRIDS_PER_COMMUNITY = 10
MEMBERS_PER_COMMUNITY = 100
MEMBERS_PER_UNIT = 200
YEAR = timedelta(days=365)
DAY = 86400.0

_LATEST = ("active",) * 70 + ("confirmed",) * 8 + ("submitted",) * 6 + ("paused",) * 4 + ("lapsed",) * 4 \
    + ("rejected",) * 4 + ("withdrawn",) * 4
_EARLIER = ("rejected", "withdrawn", "transferred")
_CONFIRMED = frozenset(("active", "confirmed", "paused", "lapsed", "withdrawn", "transferred"))
_TASK_DONE = ("closed",) * 8 + ("verified", "done")


@dataclass(frozen=True, slots=True)
class Megacity:
    city: City
    members: int
    campaign_id: int
    now: datetime
    counts: dict[str, int]


def _ts(at: datetime) -> str:
    return at.isoformat()


async def seed(conn: Conn, members: int, *, now: datetime | None = None, seed_value: int = 2026) -> Megacity:
    """Seed the megacity of `members` members into a migrated, empty database (see the module doc)."""
    rng = random.Random(seed_value)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    year_ago = now - YEAR
    subdistricts = max(1, math.ceil(members / (MEMBERS_PER_COMMUNITY * COMMUNITIES_PER_SUBDISTRICT)))
    districts = min(DISTRICTS, subdistricts)
    await conn.execute("SET session_replication_role = replica")
    try:
        city = await seed_places(
            conn, districts=districts, subdistricts_per_district=math.ceil(subdistricts / districts),
            communities_per_subdistrict=COMMUNITIES_PER_SUBDISTRICT, grids_per_community=GRIDS_PER_COMMUNITY,
            units=max(1, members // MEMBERS_PER_UNIT))
        campaign_id = await _seed_facts(conn, city, members, rng, now, year_ago)
    finally:
        await conn.execute("SET session_replication_role = origin")
    await aggregates_db.rebuild(conn)
    await conn.execute("VACUUM ANALYZE")
    counts = {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}"))  # noqa: S608
              for t in ("community", "grid", "reporting_unit", "member", "member_registration", "task",
                        "assignment", "service_record", "evaluation_points", "reminder")}
    return Megacity(city=city, members=members, campaign_id=campaign_id, now=now, counts=counts)


async def _seed_facts(conn: Conn, city: City, members: int, rng: random.Random, now: datetime,
                      year_ago: datetime) -> int:
    grids, units = city.grids, city.unit_ids
    home = [grids[rng.randrange(len(grids))] for _ in range(members)]   # member m at home[m - 1]
    by_community: dict[int, list[int]] = {}
    for m, (_, c) in enumerate(home, start=1):
        by_community.setdefault(c, []).append(m)
    await copy_csv(conn, "member", ["id", "name", "phone", "unit_id", "home_community_id", "home_grid_id"], (
        f"{m},党员{m},139{m:08d},{units[rng.randrange(len(units))]},{home[m - 1][1]},{home[m - 1][0]}\n"
        for m in range(1, members + 1)))

    def registrations() -> list[str]:
        rows: list[str] = []
        for m in range(1, members + 1):
            r = rng.random()
            if r < 0.08:
                continue
            g, c = home[m - 1]
            at = year_ago - timedelta(days=30) + timedelta(seconds=rng.random() * (YEAR.total_seconds() - 20 * DAY))
            if r < 0.13:
                rows.append(_registration(len(rows) + 1, m, c, g, rng.choice(_EARLIER), at - timedelta(days=30)))
            rows.append(_registration(len(rows) + 1, m, c, g, rng.choice(_LATEST), at))
        return rows

    await copy_csv(conn, "member_registration",
                   ["id", "member_id", "community_id", "grid_id", "status", "submitted_at", "confirmed_at",
                    "updated_at", "reason"], registrations())
    tasks = max(1, members // 2)
    needs = tasks // 2
    task_rows: list[tuple[int, int, int, datetime, str]] = []   # (id, community, grid, created_at, status)
    for t in range(1, tasks + 1):
        g, c = grids[rng.randrange(len(grids))]
        created = year_ago + timedelta(seconds=rng.random() * YEAR.total_seconds())
        recent = now - created < timedelta(days=3)
        status = rng.choice(("open", "offering", "staffed", "in_progress")) if recent else (
            "parked" if rng.random() < 0.03 else rng.choice(_TASK_DONE))
        task_rows.append((t, c, g, created, status))
    await copy_csv(conn, "need", ["id", "category", "community_id", "grid_id", "urgency", "deadline_at",
                                  "description", "status", "created_by", "created_at"], (
        f"{t},助老助残,{c},{g},blue,{_ts(at + timedelta(days=1))},代购,converted,bench,{_ts(at)}\n"
        for t, c, g, at, _ in task_rows[:needs]))
    await copy_csv(conn, "task", ["id", "need_id", "community_id", "grid_id", "title", "category", "mode",
                                  "headcount", "window_start", "window_end", "qr_token_hash", "created_by",
                                  "status", "created_at", "updated_at", "closed_at"], (
        f"{t},{t if t <= needs else ''},{c},{g},服务,助老助残,claim,3,{_ts(at + timedelta(hours=20))},"
        f"{_ts(at + timedelta(hours=22))},x,bench,{status},{_ts(at)},{_ts(at + timedelta(days=2))},"
        f"{_ts(at + timedelta(days=2)) if status == 'closed' else ''}\n"
        for t, c, g, at, status in task_rows))

    def assignments() -> list[str]:
        rows: list[str] = []
        for t, c, _, at, status in task_rows:
            local = by_community.get(c)
            if not local:
                continue
            served = status in _TASK_DONE
            for m in rng.sample(local, min(len(local), rng.randint(1, 3))):
                if served:
                    rows.append(f"{t},{m},claim,checked_out,{_ts(at)},{_ts(at + timedelta(hours=20))},"
                                f"{_ts(at + timedelta(hours=22))},2\n")
                else:
                    rows.append(f"{t},{m},claim,accepted,{_ts(at)},,,\n")
        return rows

    await copy_csv(conn, "assignment", ["task_id", "member_id", "source", "status", "accepted_at",
                                        "checked_in_at", "checked_out_at", "hours"], assignments())

    def records() -> list[str]:
        rows: list[str] = []
        for i in range(1, max(1, members // 2) + 1):
            m = rng.randrange(members) + 1
            g, c = home[m - 1]
            ended = year_ago + timedelta(seconds=rng.random() * (YEAR.total_seconds() - DAY))
            r = rng.random()
            status, reason = ("approved", "") if r < 0.8 else ("pending", "") if r < 0.92 else ("rejected", "材料不全")
            decided = "" if status == "pending" else _ts(ended + timedelta(days=1))
            rows.append(f"{i},{m},{c},{g},助老助残,{_ts(ended - timedelta(hours=2))},{_ts(ended)},2,{status},"
                        f"{reason},{'20' if status == 'approved' else ''},{'bench' if decided else ''},{decided},"
                        f"bench,{_ts(ended)}\n")
        return rows

    await copy_csv(conn, "service_record", ["id", "member_id", "community_id", "grid_id", "category", "started_at",
                                            "ended_at", "hours", "status", "reject_reason", "points", "decided_by",
                                            "decided_at", "created_by", "created_at"], records())
    await conn.execute(
        """INSERT INTO evaluation_points (member_id, task_id, service_key, points, parts, awarded_at)
           SELECT member_id, task_id, 'task:' || task_id || ':member:' || member_id, 20,
                  jsonb_build_object('hours', hours), checked_out_at
           FROM assignment WHERE status = 'checked_out'""")
    await conn.execute(
        """INSERT INTO evaluation_points (member_id, service_record_id, service_key, points, parts, awarded_at)
           SELECT member_id, id, 'record:' || id, points, jsonb_build_object('hours', hours), decided_at
           FROM service_record WHERE status = 'approved'""")
    await reset_sequences(conn, ["member", "member_registration", "need", "task", "service_record"])
    return await _seed_campaign(conn, now)


def _registration(rid: int, m: int, c: int, g: int, status: str, at: datetime) -> str:
    confirmed = _ts(at + timedelta(days=2)) if status in _CONFIRMED else ""
    reason = "材料不全" if status == "rejected" else ""
    return f"{rid},{m},{c},{g},{status},{_ts(at)},{confirmed},{_ts(at + timedelta(days=5))},{reason}\n"


async def _seed_campaign(conn: Conn, now: datetime) -> int:
    """A running city-wide campaign and its reminder wave's rows (see the module doc)."""
    window_start = now - timedelta(days=80)
    row = await campaign_db.insert_campaign(
        conn, name="全市在职党员进社区", kind="在职党员进社区", launched_by_kind="city", launched_by_id=None,
        district_ids=[], subdistrict_ids=[], community_ids=[], window_start=window_start,
        window_end=now + timedelta(days=40), registration_deadline=None,
        quotas=Quotas(period=QuotaPeriod.quarter, min_services=1).model_dump(mode="json"),
        reminder_policy=ReminderPolicy().model_dump(mode="json"), evaluation_rule={},
        redeemable=False, emergency=False, created_by="bench", at=window_start)
    await campaign_db.resolve_scope(conn, campaign_id=row.id)
    await conn.execute("UPDATE campaign SET status = 'running' WHERE id = $1", row.id)
    quarter_ago = now - timedelta(days=40)
    await conn.execute(
        """INSERT INTO reminder (ladder, subject_kind, subject_id, cycle, step, recipient_kind, recipient_id,
                                 reason, sent_at)
           SELECT 'campaign:' || $1::bigint || ':registration', 'member', m.id, 0, 'remind', 'member', m.id, '尚未报到', $2
           FROM member m WHERE NOT EXISTS (
               SELECT 1 FROM member_registration r WHERE r.member_id = m.id
                 AND r.status IN ('submitted', 'confirmed', 'active', 'paused'))""", row.id, now - timedelta(days=10))
    await conn.execute(
        """INSERT INTO reminder (ladder, subject_kind, subject_id, cycle, step, recipient_kind, recipient_id,
                                 reason, sent_at)
           SELECT 'campaign:' || $1::bigint || ':quota', 'member', r.member_id, 0, step, 'member', r.member_id,
                  '本期服务未达标', $2
           FROM member_registration r
           CROSS JOIN unnest(ARRAY['remind', 'urge']) AS step
           WHERE r.status IN ('confirmed', 'active')
             AND (step = 'remind' OR r.member_id % 3 = 0)
             AND NOT EXISTS (SELECT 1 FROM assignment a WHERE a.member_id = r.member_id
                               AND a.status = 'checked_out' AND a.checked_out_at >= $3)""",
        row.id, now - timedelta(days=5), quarter_ago)
    return row.id


@asynccontextmanager
async def seeded(members: int, *, prefix: str = "sbd-bench-megacity-") -> AsyncIterator[tuple[Conn, Megacity]]:
    """An embedded Postgres in a temp dir, migrated and seeded with the megacity; a connection to
    it and what was seeded. Everything is removed on the way out."""
    from stack.postgres import start_embedded_postgres

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        pg = await asyncio.to_thread(start_embedded_postgres, Path(tmp) / "postgres")
        try:
            conn = await connect(pg.get_uri())
            try:
                await migrate(conn)
                started = time.perf_counter()
                city = await seed(conn, members)
                print(f"seeded {members} members in {time.perf_counter() - started:.0f} s: "
                      + ", ".join(f"{table} {n}" for table, n in city.counts.items()))
                yield conn, city
            finally:
                await conn.close()
        finally:
            await asyncio.to_thread(pg.cleanup)


async def run(members: int) -> None:
    async with seeded(members) as (_, city):
        print(f"campaign {city.campaign_id}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--members", type=int, default=1_000_000)
    args = parser.parse_args()
    configure_logging(json=True, level=logging.WARNING)
    asyncio.run(run(args.members))


if __name__ == "__main__":
    main()
