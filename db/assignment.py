"""Queries on assignment: who serves a task, their check-in/out and report.

`UNIQUE (task_id, member_id)` plus a headcount guard in the insert keep a task from being
over-filled even if two claims race past the workflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from db.pool import Conn


async def insert_assignment(
    conn: Conn, *, task_id: int, member_id: int, source: str, at: datetime
) -> int | None:
    """The assignment's id (also when it already existed), or None when the task is full.

    The caller locks the task row first (db.task.lock_task) so two inserts cannot both see a free
    slot.
    """
    assignment_id: int | None = await conn.fetchval(
        """
        WITH existing AS (
            SELECT id FROM assignment WHERE task_id = $1 AND member_id = $2
              AND status IN ('accepted', 'checked_in', 'checked_out')
        ), ins AS (
            INSERT INTO assignment (task_id, member_id, source, accepted_at)
            SELECT $1, $2, $3, $4
            WHERE NOT EXISTS (SELECT 1 FROM existing)
              AND (SELECT count(*) FROM assignment WHERE task_id = $1
                     AND status IN ('accepted', 'checked_in', 'checked_out'))
                  < (SELECT headcount FROM task WHERE id = $1)
            ON CONFLICT (task_id, member_id) DO NOTHING
            RETURNING id
        )
        SELECT coalesce((SELECT id FROM ins), (SELECT id FROM existing))
        """,
        task_id, member_id, source, at,
    )
    return assignment_id


@dataclass(frozen=True, slots=True)
class AssignmentRow:
    """A member's place on a task: accepted, checked in and out (with hours and report)."""

    id: int
    status: str
    accepted_at: datetime
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    hours: Decimal | None
    report: str | None


async def select_assignment(conn: Conn, *, task_id: int, member_id: int) -> AssignmentRow | None:
    row = await conn.fetchrow(
        """
        SELECT id, status, accepted_at, checked_in_at, checked_out_at, hours, report
        FROM assignment WHERE task_id = $1 AND member_id = $2
        """,
        task_id, member_id,
    )
    return None if row is None else AssignmentRow(**row)


async def check_in(conn: Conn, *, task_id: int, member_id: int, at: datetime) -> bool:
    """True when this call checked the member in (a repeat is a no-op)."""
    done: bool = await conn.fetchval(
        """
        WITH upd AS (
            UPDATE assignment SET status = 'checked_in', checked_in_at = $3
            WHERE task_id = $1 AND member_id = $2 AND status = 'accepted' RETURNING 1
        )
        SELECT EXISTS (SELECT 1 FROM upd)
        """,
        task_id, member_id, at,
    )
    return done


async def check_out(
    conn: Conn, *, task_id: int, member_id: int, at: datetime, hours: float, report: str | None
) -> bool:
    done: bool = await conn.fetchval(
        """
        WITH upd AS (
            UPDATE assignment SET status = 'checked_out', checked_out_at = $3, hours = $4, report = $5
            WHERE task_id = $1 AND member_id = $2 AND status = 'checked_in' RETURNING 1
        )
        SELECT EXISTS (SELECT 1 FROM upd)
        """,
        task_id, member_id, at, hours, report,
    )
    return done


async def mark_no_show(conn: Conn, *, task_id: int, member_ids: list[int]) -> list[int]:
    """Free the slots of members who never checked in; the members marked now."""
    rows = await conn.fetch(
        """
        UPDATE assignment SET status = 'no_show'
        WHERE task_id = $1 AND member_id = ANY($2::bigint[]) AND status = 'accepted'
        RETURNING member_id
        """,
        task_id, member_ids,
    )
    return [int(r["member_id"]) for r in rows]


@dataclass(frozen=True, slots=True)
class CompletedService:
    """A member who checked out of the task, with the hours to credit."""

    member_id: int
    hours: Decimal | None


async def select_completed(conn: Conn, *, task_id: int) -> list[CompletedService]:
    """The services to credit: members who checked out, with their hours."""
    rows = await conn.fetch(
        """
        SELECT member_id, hours FROM assignment
        WHERE task_id = $1 AND status = 'checked_out' ORDER BY member_id
        """,
        task_id,
    )
    return [CompletedService(**r) for r in rows]


async def withdraw_open(conn: Conn, *, task_id: int) -> list[int]:
    """A cancelled task releases everyone who accepted but had not started; the members released."""
    rows = await conn.fetch(
        """
        UPDATE assignment SET status = 'withdrawn'
        WHERE task_id = $1 AND status = 'accepted'
        RETURNING member_id
        """,
        task_id,
    )
    return [int(r["member_id"]) for r in rows]


async def select_served_members(conn: Conn, *, task_id: int) -> list[int]:
    """Members who came and served (checked in or out), in member order."""
    rows = await conn.fetch(
        """
        SELECT member_id FROM assignment WHERE task_id = $1 AND status IN ('checked_in', 'checked_out')
        ORDER BY member_id
        """,
        task_id,
    )
    return [int(r["member_id"]) for r in rows]


async def insert_served_assignments(
    conn: Conn,
    *,
    task_ids: list[int],
    member_ids: list[int],
    accepted_ats: list[datetime],
    checked_in_ats: list[datetime],
    checked_out_ats: list[datetime],
    hours: list[float],
    reports: list[str | None],
) -> None:
    """Assignments from accepted offers, checked in and out, set-based, for history written after
    the fact (the caller computed `hours` from the scans as domain.points.service_hours does)."""
    await conn.execute(
        """
        INSERT INTO assignment (task_id, member_id, source, status, accepted_at, checked_in_at,
                                checked_out_at, hours, report)
        SELECT task_id, member_id, 'offer', 'checked_out', accepted_at, checked_in_at, checked_out_at,
               hours, report
        FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[],
                    $6::numeric[], $7::text[])
             AS s(task_id, member_id, accepted_at, checked_in_at, checked_out_at, hours, report)
        """,
        task_ids, member_ids, accepted_ats, checked_in_ats, checked_out_ats, hours, reports,
    )
