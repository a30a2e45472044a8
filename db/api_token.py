"""Queries on `api_token`: bearer tokens, stored only as SHA-256 hashes."""

from __future__ import annotations

from datetime import datetime

from db.pool import Conn
from schemas.directory import TokenInfo


async def insert_api_token(
    conn: Conn, *, token_hash: str, label: str, role: str, scope_kind: str, scope_id: int | None
) -> int:
    token_id: int = await conn.fetchval(
        """
        INSERT INTO api_token (token_hash, label, role, scope_kind, scope_id)
        VALUES ($1, $2, $3, $4, $5)
        RETURNING id
        """,
        token_hash, label, role, scope_kind, scope_id,
    )
    return token_id


async def select_api_token_by_hash(conn: Conn, *, token_hash: str) -> TokenInfo | None:
    row = await conn.fetchrow(
        """
        SELECT id, label, role, scope_kind, scope_id, created_at, revoked_at
        FROM api_token WHERE token_hash = $1
        """,
        token_hash,
    )
    return TokenInfo.model_validate(dict(row)) if row is not None else None


async def revoke_api_token(conn: Conn, *, token_id: int) -> datetime | None:
    """Mark revoked (idempotent: a second revoke keeps the first time) and return when it was
    revoked; None when no such token."""
    revoked_at: datetime | None = await conn.fetchval(
        """
        UPDATE api_token SET revoked_at = coalesce(revoked_at, now())
        WHERE id = $1
        RETURNING revoked_at
        """,
        token_id,
    )
    return revoked_at


async def select_api_tokens(conn: Conn, *, include_revoked: bool) -> list[TokenInfo]:
    rows = await conn.fetch(
        """
        SELECT id, label, role, scope_kind, scope_id, created_at, revoked_at
        FROM api_token
        WHERE $1 OR revoked_at IS NULL
        ORDER BY id
        """,
        include_revoked,
    )
    return [TokenInfo.model_validate(dict(r)) for r in rows]
