"""Reads people wait for, at megacity scale (issue 12 point 1): each read as its route's service
function computes it from the maintained aggregates, beside the same figures grouped live from
the raw tables (the baseline, a plain GROUP BY) in the same run.

    .venv/bin/python -m bench.reads --members 1000000 [--calls 50 --baseline-calls 5]

Starts its own embedded Postgres in a temp dir, seeds bench.megacity once, then for each read
prints p50/p95 over --calls calls of the maintained read (city-wide staff, the largest answer),
p50/p95 over --baseline-calls calls of the baseline, whether the maintained p95 is within 100 ms,
and whether both returned the same rows. Other reads join by adding to `reads`: bench.work_reads
adds 三率, the ledger, the workbench and a member's own reads (and the facts they count), whose
index reads are measured against the same SQL with index scans off ("baseline no index").
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import TypeVar

from bench.megacity import Megacity, seeded
from bench.work_reads import seed_extension, work_reads
from db import campaign as campaign_db
from db.campaign_progress import select_progress
from db.pool import Conn
from db.statistics import select_registration_counts
from domain.quota import periods
from domain.scope import ScopeFilter
from schemas.api import GroupOrder, GroupPageParams, GroupPageRequest
from schemas.auth import SYSTEM_ACTOR, Actor, Role, ScopeKind
from schemas.campaign import ProgressLevel, ProgressRow, Quotas
from schemas.statistics import StatisticsLevel
from services import campaign as campaign_service
from services import statistics as statistics_service
from telemetry.logging import configure_logging

GOAL_MS = 100.0
PAGE = 50   # the console's page of a city-wide list
_Row = TypeVar("_Row")


@dataclass(frozen=True, slots=True)
class Read:
    """A read as a person waits for it (`maintained`) and the same figures grouped live (`baseline`);
    each returns what the comparison of their answers looks at."""

    name: str
    maintained: Callable[[Conn], Awaitable[object]]
    baseline: Callable[[Conn], Awaitable[object]]
    baseline_kind: str = "GROUP BY"   # or "no index": the same SQL with index scans off


async def _current_period(conn: Conn, campaign_id: int, now: datetime) -> tuple[datetime | None, Quotas]:
    """The campaign's current quota period start, as the progress service finds it."""
    row = await campaign_db.select_campaign(conn, campaign_id=campaign_id)
    assert row is not None
    quotas = Quotas.model_validate(row.quotas)
    started = [p for p in periods(row.window_start, row.window_end, quotas.period) if p.start <= now]
    return (started[-1].start if started and quotas.has_service_quota else None), quotas


def reads(city: Megacity) -> list[Read]:
    """City-wide staff at every level, and one district's staff at the community level (the
    district's ~650 communities rather than all 10,416), each as the route serves it when no page
    is asked for: the first page of MAX_PAGE_SIZE (500) by id, with the total. The baseline groups
    every group live and cuts the same page in SQL."""
    district = city.city.district_ids[0]
    district_staff = Actor(role=Role.org_department, scope_kind=ScopeKind.district, scope_id=district,
                           label="区委组织部")
    page = GroupPageParams()
    city_wide = [(level, SYSTEM_ACTOR, None, "") for level in ("district", "subdistrict", "community")]
    found: list[Read] = []
    for level_name, actor, district_id, who in [*city_wide, ("unit", SYSTEM_ACTOR, None, ""),
                                                 ("community", district_staff, district, ", one district")]:
        level = StatisticsLevel(level_name)

        async def rates(conn: Conn, level: StatisticsLevel = level, actor: Actor = actor) -> object:
            view = await statistics_service.registration_statistics(conn, actor, level=level, page=page)
            return view.total, view.items

        async def rates_live(conn: Conn, level: StatisticsLevel = level, district_id: int | None = district_id) -> object:
            return await select_registration_counts(conn, scope=ScopeFilter(district_id=district_id),
                                                    level=level.value, page=page, live=True)

        found.append(Read(f"报到率 per {level.value}{who}", rates, rates_live))
    for level_name, actor, district_id, who in [*city_wide, ("community", district_staff, district, ", one district")]:
        progress_level = ProgressLevel(level_name)

        async def progress(conn: Conn, level: ProgressLevel = progress_level, actor: Actor = actor) -> object:
            view = await campaign_service.progress(conn, actor, city.campaign_id, level, now=city.now, page=page)
            return view.total, view.rows

        async def progress_live(conn: Conn, level: ProgressLevel = progress_level,
                                district_id: int | None = district_id) -> object:
            return await _progress_live(conn, city, level, district_id, page=page)

        found.append(Read(f"campaign progress per {progress_level.value}{who}", progress, progress_live))
    return found + paged_reads(city) + trend_reads(city) + [Read(*read) for read in work_reads(city)]


async def _progress_live(conn: Conn, city: Megacity, level: ProgressLevel, district_id: int | None = None,
                         page: GroupPageRequest | None = None) -> tuple[int, list[ProgressRow]]:
    period_start, quotas = await _current_period(conn, city.campaign_id, city.now)
    return await select_progress(
        conn, campaign_id=city.campaign_id, level=level.value, district_id=district_id,
        period_start=period_start, as_of=city.now, min_services=quotas.min_services or 0,
        min_hours=quotas.min_hours or 0.0, page=page, live=True)


def _worst_first(rows: list[_Row], share: Callable[[_Row], tuple[int, int, int]]) -> list[_Row]:
    """The baseline's rows sorted as a page asks (order=rate_asc): lowest share first, ties by id."""
    def key(row: _Row) -> tuple[Fraction, int]:
        part, members, row_id = share(row)
        return (Fraction(part, members) if members else Fraction(0)), row_id
    return sorted(rows, key=key)[:PAGE]


def paged_reads(city: Megacity) -> list[Read]:
    """What the console's first load asks of the city-wide lists: the first page of 50, the lowest
    报到率 (registered share) first, with the total; the baseline groups everything live and sorts."""
    page = GroupPageRequest(order=GroupOrder.rate_asc, limit=PAGE)
    found: list[Read] = []
    for level in (StatisticsLevel.community, StatisticsLevel.unit):
        async def rates(conn: Conn, level: StatisticsLevel = level) -> object:
            view = await statistics_service.registration_statistics(conn, SYSTEM_ACTOR, level=level, page=page)
            return view.total, view.items

        async def rates_live(conn: Conn, level: StatisticsLevel = level) -> object:
            total, rows = await select_registration_counts(conn, scope=ScopeFilter(), level=level.value, live=True)
            return total, _worst_first(rows, lambda r: (r.active, r.members, r.id or 0))

        found.append(Read(f"报到率 per {level.value}, page of {PAGE} worst first", rates, rates_live))

    async def progress(conn: Conn) -> object:
        view = await campaign_service.progress(conn, SYSTEM_ACTOR, city.campaign_id, ProgressLevel.community,
                                               now=city.now, page=page)
        return view.total, view.rows

    async def progress_live(conn: Conn) -> object:
        total, rows = await _progress_live(conn, city, ProgressLevel.community)
        return total, _worst_first(rows, lambda r: (r.registered, r.members, r.level_id))

    found.append(Read(f"campaign progress per community, page of {PAGE} worst first", progress, progress_live))
    return found


def trend_reads(city: Megacity) -> list[Read]:
    """The dashboard's trend (GET /statistics/registration/trend, the last 12 months) for the
    caller's own area: the city, a district, a community; the baseline groups the same months live
    from the raw tables."""
    c = city.city
    callers = [
        ("the city", StatisticsLevel.city, None, SYSTEM_ACTOR),
        ("a district", StatisticsLevel.district, c.district_ids[0],
         Actor(role=Role.org_department, scope_kind=ScopeKind.district, scope_id=c.district_ids[0], label="bench")),
        ("a community", StatisticsLevel.community, c.community_ids[0],
         Actor(role=Role.community_staff, scope_kind=ScopeKind.community, scope_id=c.community_ids[0],
               label="bench")),
    ]
    found: list[Read] = []
    for who, level, group_id, actor in callers:
        async def trend(conn: Conn, level: StatisticsLevel = level, group_id: int | None = group_id,
                        actor: Actor = actor) -> object:
            return (await statistics_service.registration_trend(conn, actor, level=level, group_id=group_id,
                                                                months=12, now=city.now)).months

        async def trend_live(conn: Conn, level: StatisticsLevel = level, group_id: int | None = group_id,
                             actor: Actor = actor) -> object:
            return (await statistics_service.registration_trend(conn, actor, level=level, group_id=group_id,
                                                                months=12, now=city.now, live=True)).months

        found.append(Read(f"报到率 trend 12 months, {who}", trend, trend_live))
    return found


async def _timed(conn: Conn, call: Callable[[Conn], Awaitable[object]], times: int,
                 budget_s: float | None = None) -> tuple[list[float], object]:
    """`times` calls, or fewer once they have taken `budget_s` seconds together (at least one)."""
    spent: list[float] = []
    answer: object = None
    for _ in range(times):
        started = time.perf_counter()
        answer = await call(conn)
        spent.append((time.perf_counter() - started) * 1000)
        if budget_s is not None and sum(spent) >= budget_s * 1000:
            break
    return sorted(spent), answer


def _pct(sorted_ms: list[float], q: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, round(q * (len(sorted_ms) - 1)))]


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 1000 else f"{value / 1000:.2f} s"


async def run(members: int, calls: int, baseline_calls: int, only: list[str] | None = None,
              budget_s: float | None = None) -> None:
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    async with seeded(members, prefix="sbd-bench-reads-") as (conn, city):
        await seed_extension(conn, city)   # the facts the work reads count that the megacity leaves out
        for read in reads(city):
            if only and not any(part in read.name for part in only):
                continue
            await read.maintained(conn)   # warm: plans and caches, as a running server has them
            fast, answer = await _timed(conn, read.maintained, calls, budget_s)
            slow, expected = await _timed(conn, read.baseline, baseline_calls, budget_s)
            print(f"{read.name:33} maintained p50 {_ms(_pct(fast, 0.5)):>8} p95 {_ms(_pct(fast, 0.95)):>8} "
                  f"({len(fast)} calls) | baseline {read.baseline_kind} p50 {_ms(_pct(slow, 0.5)):>8} "
                  f"p95 {_ms(_pct(slow, 0.95)):>8} ({len(slow)} calls) | "
                  f"p95 <= {GOAL_MS:.0f} ms: {'yes' if _pct(fast, 0.95) <= GOAL_MS else 'NO'} | "
                  f"same rows: {'yes' if answer == expected else 'NO'}")
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--baseline-calls", type=int, default=5)
    parser.add_argument("--only", action="append", help="only the reads whose name contains this (repeatable)")
    parser.add_argument("--budget-seconds", type=float, default=None,
                        help="per read and side: stop calling once the calls took this long together (at least one "
                             "call; the line prints how many were made): bounds a 1,000,000-member run whose "
                             "slowest baselines take a minute a call")
    args = parser.parse_args()
    configure_logging(json=True, level=logging.WARNING)
    asyncio.run(run(args.members, args.calls, args.baseline_calls, args.only, args.budget_seconds))


if __name__ == "__main__":
    main()
