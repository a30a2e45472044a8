"""Queries on resident_rating: one rating per task, the first one wins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db.pool import Conn


async def insert_rating(
    conn: Conn, *, task_id: int, score: int, comment: str | None, defaulted: bool, at: datetime
) -> dict[str, Any]:
    """Insert the task's rating unless one exists; return the rating that stands."""
    row = await conn.fetchrow(
        """
        WITH ins AS (
            INSERT INTO resident_rating (task_id, score, comment, defaulted, rated_at)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (task_id) DO NOTHING
            RETURNING score, defaulted
        )
        SELECT score, defaulted FROM ins
        UNION ALL
        SELECT score, defaulted FROM resident_rating WHERE task_id = $1
        LIMIT 1
        """,
        task_id, score, comment, defaulted, at,
    )
    assert row is not None  # either inserted now or already there
    return dict(row)


async def select_rating(conn: Conn, *, task_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT score, comment, defaulted, rated_at FROM resident_rating WHERE task_id = $1", task_id
    )
    return None if row is None else dict(row)
