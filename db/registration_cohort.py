"""Queries on registration_cohort: a set of member registrations submitted together."""

from __future__ import annotations

from db.pool import Conn


async def create_cohort(conn: Conn, *, source: str, size: int) -> int:
    """A new cohort (source: import / self / unit_admin / transfer); returns its id."""
    cohort_id: int = await conn.fetchval(
        "INSERT INTO registration_cohort (source, size) VALUES ($1, $2) RETURNING id", source, size
    )
    return cohort_id


async def set_cohort_workflow_id(conn: Conn, *, cohort_id: int, workflow_id: str) -> None:
    await conn.execute(
        "UPDATE registration_cohort SET workflow_id = $2 WHERE id = $1", cohort_id, workflow_id
    )
