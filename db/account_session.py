"""Queries on `account_session`: server-side sessions, found by the SHA-256 of the cookie's token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Conn


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A session with its account's role, scope and state."""

    id: int
    account_id: int
    csrf_hash: str
    created_at: datetime
    last_seen_at: datetime
    revoked_at: datetime | None
    label: str
    role: str
    scope_kind: str
    scope_id: int | None
    disabled_at: datetime | None


async def insert_session(
    conn: Conn, *, account_id: int, token_hash: str, csrf_hash: str, now: datetime
) -> int:
    session_id: int = await conn.fetchval(
        """
        INSERT INTO account_session (account_id, token_hash, csrf_hash, created_at, last_seen_at)
        VALUES ($1, $2, $3, $4, $4)
        RETURNING id
        """,
        account_id, token_hash, csrf_hash, now,
    )
    return session_id


async def select_session_by_hash(conn: Conn, *, token_hash: str) -> SessionRow | None:
    """The session with its account's role, scope and state."""
    row = await conn.fetchrow(
        """
        SELECT s.id, s.account_id, s.csrf_hash, s.created_at, s.last_seen_at, s.revoked_at,
               a.label, a.role, a.scope_kind, a.scope_id, a.disabled_at
        FROM account_session s JOIN account a ON a.id = s.account_id
        WHERE s.token_hash = $1
        """,
        token_hash,
    )
    return None if row is None else SessionRow(**row)


async def touch_session(conn: Conn, *, session_id: int, now: datetime) -> None:
    await conn.execute(
        "UPDATE account_session SET last_seen_at = greatest(last_seen_at, $2) WHERE id = $1",
        session_id, now,
    )


async def revoke_session(conn: Conn, *, session_id: int, now: datetime, reason: str) -> bool:
    """True when this call revoked it (False: already revoked or unknown)."""
    revoked: int | None = await conn.fetchval(
        """
        UPDATE account_session SET revoked_at = $2, revoked_reason = $3
        WHERE id = $1 AND revoked_at IS NULL
        RETURNING id
        """,
        session_id, now, reason,
    )
    return revoked is not None


async def revoke_account_sessions(conn: Conn, *, account_id: int, now: datetime, reason: str) -> int:
    """Revoke every open session of an account; how many."""
    status = await conn.execute(
        """
        UPDATE account_session SET revoked_at = $2, revoked_reason = $3
        WHERE account_id = $1 AND revoked_at IS NULL
        """,
        account_id, now, reason,
    )
    return int(status.rsplit(" ", 1)[-1])
