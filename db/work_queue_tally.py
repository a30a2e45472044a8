"""The workbench's counters 工作台 (migration 0022): work_queue_tally, per community how many
registrations, needs, tasks, service records and whistles wait in each queue, moved by triggers
in the same transaction as the rows that enter or leave a queue."""

from __future__ import annotations

from db.aggregates import WORK_QUEUES
from db.pool import Conn
from domain.scope import ScopeFilter

_SUMS = ", ".join(f"coalesce(sum(w.{queue}), 0) AS {queue}" for queue in WORK_QUEUES)


async def select_tally(conn: Conn, *, scope: ScopeFilter, live: bool = False) -> dict[str, int]:
    """Each queue's count summed over the communities in `scope`; `live`: counted from the raw
    tables instead (work_queue_tally_recomputed: what the benches measure the tally against)."""
    source = "work_queue_tally_recomputed" if live else "work_queue_tally"
    row = await conn.fetchrow(
        f"""
        SELECT {_SUMS}
        FROM {source} w
        JOIN community c ON c.id = w.community_id JOIN subdistrict s ON s.id = c.subdistrict_id
        WHERE ($1::bigint IS NULL OR s.district_id = $1) AND ($2::bigint IS NULL OR c.subdistrict_id = $2)
          AND ($3::bigint IS NULL OR w.community_id = $3)
        """,  # noqa: S608 - the queue columns and one of two table names, no input
        scope.district_id, scope.subdistrict_id, scope.community_id,
    )
    assert row is not None
    return {q: int(row[q]) for q in WORK_QUEUES}
