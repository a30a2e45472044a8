"""Queries on exchange_redemption: a member's redemption of an item, its one-time code (only the
hash) and its state.

A redemption leaves 'issued' once: collection and expiry are both `UPDATE ... WHERE state =
'issued'`, so a retried confirmation, or a confirmation racing the expiry, changes it at most once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db.directory import split_page
from db.pool import Conn
from domain.scope import ScopeFilter

_COLUMNS = """
    r.id, r.item_id, i.name AS item_name, i.provider_id, p.name AS provider_name, i.collect_at,
    r.member_id, m.name AS member_name, r.points::float AS points, r.state, r.created_at, r.expires_at,
    r.collected_at, r.request_id
"""
_FROM = """
    FROM exchange_redemption r JOIN exchange_item i ON i.id = r.item_id
    JOIN exchange_provider p ON p.id = i.provider_id JOIN member m ON m.id = r.member_id
    JOIN community c ON c.id = p.community_id JOIN subdistrict s ON s.id = c.subdistrict_id
"""


async def insert_redemption(conn: Conn, *, item_id: int, member_id: int, request_id: str, points: float,
                            code_hash: str, now: datetime, expires_at: datetime) -> int | None:
    """The new redemption's id; None when this member's request id is already taken (a retry)."""
    found: int | None = await conn.fetchval(
        """
        INSERT INTO exchange_redemption (item_id, member_id, request_id, points, code_hash, created_at, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (member_id, request_id) DO NOTHING RETURNING id
        """,
        item_id, member_id, request_id, points, code_hash, now, expires_at,
    )
    return found


async def select_by_request(conn: Conn, *, member_id: int, request_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} {_FROM} WHERE r.member_id = $1 AND r.request_id = $2",
                              member_id, request_id)
    return None if row is None else dict(row)


async def select_redemption(conn: Conn, *, redemption_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} {_FROM} WHERE r.id = $1", redemption_id)
    return None if row is None else dict(row)


async def select_by_code(conn: Conn, *, code_hash: str) -> dict[str, Any] | None:
    """The redemption waiting with this code, else the latest that had it."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} {_FROM} WHERE r.code_hash = $1"
                              " ORDER BY r.state = 'issued' DESC, r.created_at DESC LIMIT 1", code_hash)
    return None if row is None else dict(row)


async def replace_code(conn: Conn, *, redemption_id: int, code_hash: str) -> bool:
    """A new code for an issued redemption (the old one stops working)."""
    done = await conn.fetchval("UPDATE exchange_redemption SET code_hash = $2 WHERE id = $1 AND state = 'issued'"
                               " RETURNING id", redemption_id, code_hash)
    return done is not None


async def mark_collected(conn: Conn, *, redemption_id: int, by: str, now: datetime) -> bool:
    """issued → collected; False when it was not issued (already collected, or expired)."""
    done = await conn.fetchval(
        "UPDATE exchange_redemption SET state = 'collected', collected_at = $3, collected_by = $2"
        " WHERE id = $1 AND state = 'issued' AND expires_at > $3 RETURNING id",
        redemption_id, by, now,
    )
    return done is not None


async def mark_expired(conn: Conn, *, redemption_id: int, now: datetime) -> dict[str, Any] | None:
    """issued → expired once its time has come; the row (member, item, points) or None."""
    row = await conn.fetchrow(
        "UPDATE exchange_redemption SET state = 'expired', expired_at = $2"
        " WHERE id = $1 AND state = 'issued' AND expires_at <= $2"
        " RETURNING id, item_id, member_id, points::float AS points",
        redemption_id, now,
    )
    return None if row is None else dict(row)


async def select_lapsed_ids(conn: Conn, *, expired_before: datetime, limit: int) -> list[int]:
    """Redemptions still issued whose code expired before `expired_before`, oldest first (the
    partial index of migration 0027)."""
    rows = await conn.fetch(
        "SELECT id FROM exchange_redemption WHERE state = 'issued' AND expires_at <= $1"
        " ORDER BY expires_at, id LIMIT $2",
        expired_before, limit,
    )
    return [int(r["id"]) for r in rows]


async def select_redemptions(conn: Conn, *, member_id: int | None, provider_id: int | None, scope: ScopeFilter,
                             item_id: int | None, state: str | None, limit: int,
                             offset: int) -> tuple[int, list[dict[str, Any]]]:
    rows = await conn.fetch(
        f"""
        WITH matched AS MATERIALIZED (
            SELECT r.id {_FROM}
            WHERE ($1::bigint IS NULL OR r.member_id = $1) AND ($2::bigint IS NULL OR i.provider_id = $2)
              AND ($3::bigint IS NULL OR s.district_id = $3) AND ($4::bigint IS NULL OR s.id = $4)
              AND ($5::bigint IS NULL OR c.id = $5) AND ($6::bigint IS NULL OR r.item_id = $6)
              AND ($7::text IS NULL OR r.state = $7)
        ), total AS (SELECT count(*) AS total FROM matched)
        SELECT total.total, x.* FROM total LEFT JOIN LATERAL (
            SELECT {_COLUMNS} {_FROM} JOIN matched mm ON mm.id = r.id
            ORDER BY r.created_at DESC, r.id DESC LIMIT $8 OFFSET $9
        ) x ON true
        """,  # noqa: S608 - constant SQL fragments
        member_id, provider_id, scope.district_id, scope.subdistrict_id, scope.community_id, item_id, state,
        limit, offset,
    )
    total, items = split_page(rows)
    return total, [dict(r) for r in items]

