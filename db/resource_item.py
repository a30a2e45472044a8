"""Queries on resource_item: a unit's resource list 资源清单."""

from __future__ import annotations

from typing import Any

from db.pool import Conn


async def unit_holds(conn: Conn, *, resource_item_id: int, unit_id: int) -> bool:
    """True when the line is on this unit's resource list."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM resource_item WHERE id = $1 AND unit_id = $2)", resource_item_id, unit_id)
    return found


async def select_unit_resources(conn: Conn, *, unit_id: int, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    """A unit's resource list, oldest line first, one page; (total, rows)."""
    total: int = await conn.fetchval("SELECT count(*) FROM resource_item WHERE unit_id = $1", unit_id)
    rows = await conn.fetch("SELECT id, category, description, quantity FROM resource_item WHERE unit_id = $1"
                            " ORDER BY id LIMIT $2 OFFSET $3", unit_id, limit, offset)
    return total, [dict(r) for r in rows]
