"""Queries on resident_rating: one rating per task, the first one wins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Conn


@dataclass(frozen=True, slots=True)
class StandingRatingRow:
    """The rating that stands after an insert (the first one wins)."""

    score: int
    defaulted: bool


@dataclass(frozen=True, slots=True)
class RatingRow:
    score: int
    comment: str | None
    defaulted: bool
    rated_at: datetime


@dataclass(frozen=True, slots=True)
class RatingTokenRow:
    task_id: int
    expires_at: datetime
    used_at: datetime | None


async def insert_rating(
    conn: Conn, *, task_id: int, score: int, comment: str | None, defaulted: bool, at: datetime
) -> StandingRatingRow:
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
    return StandingRatingRow(**row)


async def select_rating(conn: Conn, *, task_id: int) -> RatingRow | None:
    row = await conn.fetchrow(
        "SELECT score, comment, defaulted, rated_at FROM resident_rating WHERE task_id = $1", task_id
    )
    return None if row is None else RatingRow(**row)


# ---------------------------------------------------------------- the resident's rating code 评价码


async def upsert_rating_token(
    conn: Conn, *, task_id: int, token_hash: str, expires_at: datetime, issued_by: str, at: datetime
) -> None:
    """(Re)issue the task's rating code: a new hash replaces the old one, which stops working."""
    await conn.execute(
        """
        INSERT INTO resident_rating_token (task_id, token_hash, expires_at, issued_by, issued_at)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (task_id) DO UPDATE SET token_hash = EXCLUDED.token_hash,
            expires_at = EXCLUDED.expires_at, issued_by = EXCLUDED.issued_by,
            issued_at = EXCLUDED.issued_at, used_at = NULL
        """,
        task_id, token_hash, expires_at, issued_by, at,
    )


async def select_rating_token(conn: Conn, *, token_hash: str) -> RatingTokenRow | None:
    """The code's task, expiry and use."""
    row = await conn.fetchrow(
        """
        SELECT task_id, expires_at, used_at FROM resident_rating_token WHERE token_hash = $1
        """,
        token_hash,
    )
    return None if row is None else RatingTokenRow(**row)


async def mark_rating_token_used(conn: Conn, *, task_id: int, at: datetime) -> bool:
    """Spend the code; False when it was already spent."""
    used: bool = await conn.fetchval(
        """
        WITH upd AS (
            UPDATE resident_rating_token SET used_at = $2 WHERE task_id = $1 AND used_at IS NULL RETURNING 1
        )
        SELECT EXISTS (SELECT 1 FROM upd)
        """,
        task_id, at,
    )
    return used


async def insert_ratings(
    conn: Conn, *, task_ids: list[int], scores: list[int], comments: list[str | None],
    defaulted: list[bool], rated_ats: list[datetime],
) -> None:
    """Many tasks' ratings at once (history written after the fact); a task's existing rating stands."""
    await conn.execute(
        """
        INSERT INTO resident_rating (task_id, score, comment, defaulted, rated_at)
        SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::text[], $4::boolean[], $5::timestamptz[])
        ON CONFLICT (task_id) DO NOTHING
        """,
        task_ids, scores, comments, defaulted, rated_ats,
    )
