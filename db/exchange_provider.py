"""Queries on exchange_provider: the points exchange's providers (co-building units, merchants)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db.directory import split_page
from db.pool import Conn
from domain.scope import ScopeFilter

_COLUMNS = """
    p.id, p.kind, p.name, p.community_id, c.name AS community_name, c.subdistrict_id, s.district_id,
    p.unit_id, p.address, p.admitted_at,
    (SELECT count(*) FROM exchange_item i WHERE i.provider_id = p.id AND i.status = 'listed')::int AS items
"""


async def insert_merchant(conn: Conn, *, name: str, community_id: int, address: str, admitted_by: str,
                          at: datetime) -> int:
    provider_id: int = await conn.fetchval(
        "INSERT INTO exchange_provider (kind, name, community_id, address, admitted_by, admitted_at)"
        " VALUES ('merchant', $1, $2, $3, $4, $5) RETURNING id",
        name, community_id, address, admitted_by, at,
    )
    return provider_id


async def ensure_unit_provider(conn: Conn, *, unit_id: int, community_id: int, admitted_by: str,
                               at: datetime) -> int:
    """The provider row of a co-building unit, made on its first listing (the unit's own name; the
    community where it is located, else the one it builds with)."""
    provider_id: int = await conn.fetchval(
        """
        WITH made AS (
            INSERT INTO exchange_provider (kind, unit_id, name, community_id, address, admitted_by, admitted_at)
            SELECT 'unit', u.id, u.name, coalesce(u.community_id, $2), NULL, $3, $4
            FROM reporting_unit u WHERE u.id = $1
            ON CONFLICT (unit_id) DO NOTHING
            RETURNING id
        )
        SELECT id FROM made UNION ALL SELECT id FROM exchange_provider WHERE unit_id = $1 LIMIT 1
        """,
        unit_id, community_id, admitted_by, at,
    )
    return provider_id


async def select_provider(conn: Conn, *, provider_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"""
        SELECT {_COLUMNS} FROM exchange_provider p
        JOIN community c ON c.id = p.community_id JOIN subdistrict s ON s.id = c.subdistrict_id
        WHERE p.id = $1
        """,  # noqa: S608 - a constant column list
        provider_id,
    )
    return None if row is None else dict(row)


async def select_unit_provider_id(conn: Conn, *, unit_id: int) -> int | None:
    found: int | None = await conn.fetchval("SELECT id FROM exchange_provider WHERE unit_id = $1", unit_id)
    return found


async def select_providers(conn: Conn, *, scope: ScopeFilter, limit: int,
                           offset: int) -> tuple[int, list[dict[str, Any]]]:
    rows = await conn.fetch(
        f"""
        WITH matched AS MATERIALIZED (
            SELECT p.id FROM exchange_provider p
            JOIN community c ON c.id = p.community_id JOIN subdistrict s ON s.id = c.subdistrict_id
            WHERE ($1::bigint IS NULL OR s.district_id = $1) AND ($2::bigint IS NULL OR s.id = $2)
              AND ($3::bigint IS NULL OR c.id = $3)
        ), total AS (SELECT count(*) AS total FROM matched)
        SELECT total.total, x.* FROM total LEFT JOIN LATERAL (
            SELECT {_COLUMNS} FROM matched m JOIN exchange_provider p ON p.id = m.id
            JOIN community c ON c.id = p.community_id JOIN subdistrict s ON s.id = c.subdistrict_id
            ORDER BY p.admitted_at DESC, p.id DESC LIMIT $4 OFFSET $5
        ) x ON true
        """,  # noqa: S608 - a constant column list
        scope.district_id, scope.subdistrict_id, scope.community_id, limit, offset,
    )
    total, items = split_page(rows)
    return total, [dict(r) for r in items]


async def select_merchant_id(conn: Conn, *, name: str, community_id: int) -> int | None:
    found: int | None = await conn.fetchval(
        "SELECT id FROM exchange_provider WHERE kind = 'merchant' AND name = $1 AND community_id = $2"
        " ORDER BY id LIMIT 1", name, community_id)
    return found
