"""Queries on resource_item: a unit's resource list 资源清单."""

from __future__ import annotations

from db.pool import Conn


async def unit_holds(conn: Conn, *, resource_item_id: int, unit_id: int) -> bool:
    """True when the line is on this unit's resource list."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM resource_item WHERE id = $1 AND unit_id = $2)", resource_item_id, unit_id)
    return found
