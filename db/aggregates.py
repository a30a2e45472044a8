"""The maintained aggregates as a whole: their one rebuild, and each beside its recomputation.

The tables are kept by triggers in the same transaction as the facts (migration 0021 for 报到率
and campaign progress, 0022 for 三率 and the workbench's queues). A bulk path that writes with triggers off (session_replication_role =
replica: the benches' seeders, the roster import's superuser path) calls `rebuild` afterwards.
Each aggregate has a view `<table>_recomputed` grouping the same figures from the raw tables;
`differences` compares the two (what tests/test_aggregates.py asserts empty).

A bulk path that cannot switch triggers off (the roster import as a role that owns no table) runs
its statements on member and member_registration inside `bulk_statements`: their aggregate
triggers skip, and `settle` rebuilds what they feed before the caller commits (migration 0028;
a transaction that commits without settling is settled by a deferred trigger at COMMIT).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from db.pool import Conn


@dataclass(frozen=True, slots=True)
class Aggregate:
    """A maintained table, its key columns and its counter columns."""

    table: str
    keys: tuple[str, ...]
    counters: tuple[str, ...]


# work_queue_tally's counters, in its columns' order (db/work_queue_tally.py reads them).
WORK_QUEUES = ("registrations_to_confirm", "registrations_to_place", "needs_to_verify", "needs_to_dispatch",
               "tasks_parked", "completions_to_verify", "service_records_to_approve", "whistles_open")
_TREND_COUNTERS = ("reg_delta", "newly", "served", "met")
_STATUS_COUNTERS = ("members", "submitted", "confirmed", "active", "paused", "rejected", "lapsed", "registered")

AGGREGATES: tuple[Aggregate, ...] = (
    Aggregate("registration_tally", ("grouping", "group_id", "district_id"), _STATUS_COUNTERS),
    Aggregate("registration_quota_tally", ("community_id",), ("counted",)),
    Aggregate("campaign_member_service", ("campaign_id", "member_id", "period_start"), ("services", "hours")),
    Aggregate("campaign_tally", ("campaign_id", "community_id"),
              ("served", "tasks_open", "tasks_done", "tasks_parked")),
    Aggregate("campaign_quota_met", ("campaign_id", "period_start", "community_id"), ("met",)),
    Aggregate("campaign_reminded", ("campaign_id", "community_id", "step"), ("reminded",)),
    # migration 0022: 三率 per area and month, the workbench's queues per community
    Aggregate("rate_month", ("level", "area_id", "month"), ("needs", "responded", "resolved")),
    Aggregate("rating_month", ("level", "area_id", "month", "score"), ("ratings",)),
    Aggregate("work_queue_tally", ("community_id",), WORK_QUEUES),
    # migration 0023: registration_tally's unit rows per unit (the city's 报到率 per unit)
    Aggregate("registration_unit_tally", ("unit_id",), _STATUS_COUNTERS),
    # migration 0024: the 报到率 trend per member and month, and per area and month
    Aggregate("member_trend", ("member_id", "month", "community_id", "subdistrict_id", "district_id", "unit_id"),
              _TREND_COUNTERS),
    Aggregate("trend_tally", ("level", "area_id", "month"), _TREND_COUNTERS),
)

# Takes out every writer of the maintained tables while the rebuild reads and rewrites them, so no
# trigger's addition lands between the recomputation's snapshot and its write.
_LOCK = "LOCK TABLE " + ", ".join(a.table for a in AGGREGATES) + " IN EXCLUSIVE MODE"


async def rebuild(conn: Conn) -> None:
    """Recompute every maintained aggregate from the raw tables, set-based, in one transaction."""
    async with conn.transaction():
        await conn.execute(_LOCK)
        await conn.execute("SELECT registration_campaign_tallies_rebuild()")
        await conn.execute("SELECT work_aggregates_rebuild()")
        await conn.execute("SELECT registration_unit_tally_rebuild()")
        await conn.execute("SELECT registration_trend_rebuild()")


@asynccontextmanager
async def bulk_statements(conn: Conn) -> AsyncIterator[None]:
    """Statements on member and member_registration run inside skip their aggregate triggers.

    The caller must be inside a transaction: the setting is transaction-local (set_config(...,
    true)), so an error rolls it back with the statements, and it never outlives the transaction.
    Call `settle` before committing (the deferred trigger would, at COMMIT, if nobody did).
    """
    assert conn.is_in_transaction(), "shuangbaodao.bulk is transaction-local: open a transaction first"
    await conn.execute("SELECT set_config('shuangbaodao.bulk', 'on', true)")
    try:
        yield
    finally:
        if conn.is_in_transaction():
            await conn.execute("SELECT set_config('shuangbaodao.bulk', '', true)")


async def settle(conn: Conn) -> None:
    """Rebuild set-based the aggregates this transaction's bulk statements skipped (none: no-op)."""
    await conn.execute("SELECT aggregate_bulk_settle()")


async def differences(conn: Conn, aggregate: Aggregate, *, limit: int = 20) -> list[dict[str, object]]:
    """Rows where the maintained table and its recomputation disagree (a row whose counters are
    all 0 is the same as no row): each with `side` 'maintained' or 'recomputed'."""
    columns = ", ".join(aggregate.keys + aggregate.counters)
    nonzero = " OR ".join(f"{c} <> 0" for c in aggregate.counters)
    rows = await conn.fetch(
        f"""
        WITH maintained AS (SELECT {columns} FROM {aggregate.table} WHERE {nonzero}),
             recomputed AS (SELECT {columns} FROM {aggregate.table}_recomputed WHERE {nonzero})
        (SELECT 'maintained' AS side, * FROM (SELECT * FROM maintained EXCEPT ALL SELECT * FROM recomputed) a
         UNION ALL
         SELECT 'recomputed', * FROM (SELECT * FROM recomputed EXCEPT ALL SELECT * FROM maintained) b)
        LIMIT {int(limit)}
        """  # noqa: S608 - table and column names come from AGGREGATES above
    )
    return [dict(r) for r in rows]
