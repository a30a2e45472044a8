"""The workbench's counters 工作台 (migration 0022): work_queue_tally, per community how many
registrations, needs, tasks, service records and whistles wait in each queue, moved by triggers
in the same transaction as the rows that enter or leave a queue."""

from __future__ import annotations

from db.aggregates import WORK_QUEUES
from db.pool import Conn
from domain.scope import ScopeFilter


async def select_tally(conn: Conn, *, scope: ScopeFilter) -> dict[str, int]:
    """Each queue's count summed over the communities in `scope`."""
    row = await conn.fetchrow(
        """
        SELECT coalesce(sum(w.registrations_to_confirm), 0) AS registrations_to_confirm,
               coalesce(sum(w.registrations_to_place), 0) AS registrations_to_place,
               coalesce(sum(w.needs_to_verify), 0) AS needs_to_verify,
               coalesce(sum(w.needs_to_dispatch), 0) AS needs_to_dispatch,
               coalesce(sum(w.tasks_parked), 0) AS tasks_parked,
               coalesce(sum(w.completions_to_verify), 0) AS completions_to_verify,
               coalesce(sum(w.service_records_to_approve), 0) AS service_records_to_approve,
               coalesce(sum(w.whistles_open), 0) AS whistles_open
        FROM work_queue_tally w
        JOIN community c ON c.id = w.community_id JOIN subdistrict s ON s.id = c.subdistrict_id
        WHERE ($1::bigint IS NULL OR s.district_id = $1) AND ($2::bigint IS NULL OR c.subdistrict_id = $2)
          AND ($3::bigint IS NULL OR w.community_id = $3)
        """,
        scope.district_id, scope.subdistrict_id, scope.community_id,
    )
    assert row is not None
    return {q: int(row[q]) for q in WORK_QUEUES}
