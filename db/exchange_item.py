"""Queries on exchange_item: what providers offer in the points exchange, and its stock.

Stock is taken with a conditional UPDATE (`stock > 0`) under CHECK (stock >= 0): two takes of the
last one cannot both succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.directory import split_page
from db.pool import Conn
from domain.scope import ScopeFilter

_COLUMNS = """
    i.id, i.provider_id, p.name AS provider_name, p.community_id AS provider_community_id,
    c.subdistrict_id AS provider_subdistrict_id, s.district_id AS provider_district_id,
    i.name, i.description, i.points::float AS points, i.stock, i.valid_from, i.valid_until, i.collect_at,
    i.collect_hours, i.community_id, i.district_id, i.status,
    (SELECT count(*) FROM exchange_redemption r WHERE r.item_id = i.id AND r.state = 'issued')::int AS issued,
    (SELECT count(*) FROM exchange_redemption r WHERE r.item_id = i.id AND r.state = 'collected')::int AS collected
"""
_FROM = """
    FROM exchange_item i JOIN exchange_provider p ON p.id = i.provider_id
    JOIN community c ON c.id = p.community_id JOIN subdistrict s ON s.id = c.subdistrict_id
"""


@dataclass(frozen=True)
class ItemFilter:
    """Which items a list shows: a provider's own; those a member may redeem now (the member's
    community and district); or those of providers inside a staff scope."""

    provider_id: int | None = None
    member_community_id: int | None = None
    member_district_id: int | None = None
    redeemable_at: datetime | None = None
    scope: ScopeFilter = ScopeFilter()


async def insert_item(conn: Conn, *, provider_id: int, data: dict[str, Any], created_by: str, at: datetime) -> int:
    item_id: int = await conn.fetchval(
        """
        INSERT INTO exchange_item (provider_id, resource_item_id, name, description, points, stock, valid_from,
                                   valid_until, collect_at, collect_hours, community_id, district_id,
                                   created_by, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id
        """,
        provider_id, data["resource_item_id"], data["name"], data["description"], data["points"], data["stock"],
        data["valid_from"], data["valid_until"], data["collect_at"], data["collect_hours"], data["community_id"],
        data["district_id"], created_by, at,
    )
    return item_id


async def select_item(conn: Conn, *, item_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} {_FROM} WHERE i.id = $1", item_id)
    return None if row is None else dict(row)


async def select_items(conn: Conn, *, where: ItemFilter, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    rows = await conn.fetch(
        f"""
        WITH matched AS MATERIALIZED (
            SELECT i.id {_FROM}
            WHERE ($1::bigint IS NULL OR i.provider_id = $1)
              AND ($2::bigint IS NULL OR i.community_id = $2 OR i.district_id = $3)
              AND ($4::timestamptz IS NULL
                   OR (i.status = 'listed' AND i.valid_from <= $4 AND i.valid_until > $4))
              AND ($5::bigint IS NULL OR s.district_id = $5) AND ($6::bigint IS NULL OR s.id = $6)
              AND ($7::bigint IS NULL OR c.id = $7)
        ), total AS (SELECT count(*) AS total FROM matched)
        SELECT total.total, x.* FROM total LEFT JOIN LATERAL (
            SELECT {_COLUMNS} {_FROM} JOIN matched m ON m.id = i.id
            ORDER BY i.status, i.created_at DESC, i.id DESC LIMIT $8 OFFSET $9
        ) x ON true
        """,  # noqa: S608 - constant SQL fragments
        where.provider_id, where.member_community_id, where.member_district_id, where.redeemable_at,
        where.scope.district_id, where.scope.subdistrict_id, where.scope.community_id, limit, offset,
    )
    total, items = split_page(rows)
    return total, [dict(r) for r in items]


async def take_one(conn: Conn, *, item_id: int, now: datetime) -> bool:
    """Take one from stock if the item is listed, in its window and not out of stock."""
    taken = await conn.fetchval(
        "UPDATE exchange_item SET stock = stock - 1, updated_at = $2 WHERE id = $1 AND status = 'listed'"
        " AND stock > 0 AND valid_from <= $2 AND valid_until > $2 RETURNING id",
        item_id, now,
    )
    return taken is not None


async def put_back_one(conn: Conn, *, item_id: int, now: datetime) -> None:
    await conn.execute("UPDATE exchange_item SET stock = stock + 1, updated_at = $2 WHERE id = $1", item_id, now)


async def update_stock(conn: Conn, *, item_id: int, stock: int, now: datetime) -> None:
    await conn.execute("UPDATE exchange_item SET stock = $2, updated_at = $3 WHERE id = $1", item_id, stock, now)


async def update_validity(conn: Conn, *, item_id: int, valid_from: datetime, valid_until: datetime,
                          collect_hours: int, now: datetime) -> None:
    await conn.execute("UPDATE exchange_item SET valid_from = $2, valid_until = $3, collect_hours = $4, updated_at = $5"
                       " WHERE id = $1", item_id, valid_from, valid_until, collect_hours, now)


async def withdraw(conn: Conn, *, item_id: int, now: datetime) -> None:
    await conn.execute("UPDATE exchange_item SET status = 'withdrawn', updated_at = $2 WHERE id = $1 AND"
                       " status = 'listed'", item_id, now)
