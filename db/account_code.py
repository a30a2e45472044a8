"""Queries on `account_code`: one-time sign-in and first-sign-in codes, stored only as hashes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from db.pool import Conn


@dataclass(frozen=True, slots=True)
class LiveCodeRow:
    id: int
    purpose: str
    code_hash: str
    attempts: int
    expires_at: datetime


async def insert_code(
    conn: Conn, *, account_id: int, purpose: str, code_hash: str, now: datetime, expires_at: datetime
) -> int:
    code_id: int = await conn.fetchval(
        """
        INSERT INTO account_code (account_id, purpose, code_hash, created_at, expires_at)
        VALUES ($1, $2, $3, $4, $5)
        RETURNING id
        """,
        account_id, purpose, code_hash, now, expires_at,
    )
    return code_id


async def select_last_sent_at(conn: Conn, *, account_id: int, purpose: str) -> datetime | None:
    at: datetime | None = await conn.fetchval(
        "SELECT max(created_at) FROM account_code WHERE account_id = $1 AND purpose = $2",
        account_id, purpose,
    )
    return at


async def select_live_code(
    conn: Conn, *, account_id: int, purposes: Sequence[str], now: datetime, max_attempts: int
) -> LiveCodeRow | None:
    """The newest unused, unexpired code of these purposes with tries left (locked for update)."""
    row = await conn.fetchrow(
        """
        SELECT id, purpose, code_hash, attempts, expires_at FROM account_code
        WHERE account_id = $1 AND purpose = ANY($2::text[]) AND used_at IS NULL
          AND expires_at > $3 AND attempts < $4
        ORDER BY created_at DESC, id DESC
        LIMIT 1
        FOR UPDATE
        """,
        account_id, list(purposes), now, max_attempts,
    )
    return None if row is None else LiveCodeRow(**row)


async def count_wrong_try(conn: Conn, *, code_id: int) -> None:
    await conn.execute("UPDATE account_code SET attempts = attempts + 1 WHERE id = $1", code_id)


async def mark_used(conn: Conn, *, code_id: int, now: datetime) -> None:
    await conn.execute("UPDATE account_code SET used_at = $2 WHERE id = $1", code_id, now)


async def void_codes(conn: Conn, *, account_id: int, now: datetime) -> None:
    """Every open code of the account used up (after a password is set or the account disabled)."""
    await conn.execute(
        "UPDATE account_code SET used_at = $2 WHERE account_id = $1 AND used_at IS NULL",
        account_id, now,
    )
