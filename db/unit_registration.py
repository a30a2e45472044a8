"""Queries on unit_registration (单位报到)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db.pool import Conn


async def insert_unit_registration(
    conn: Conn, *, unit_id: int, community_id: int, submitted_at: datetime
) -> dict[str, Any]:
    row = await conn.fetchrow(
        """
        INSERT INTO unit_registration (unit_id, community_id, status, submitted_at)
        VALUES ($1, $2, 'submitted', $3) RETURNING id, unit_id, community_id, status, reason, agreement_id, workflow_id, submitted_at,
                  decided_at, valid_until
        """,
        unit_id, community_id, submitted_at,
    )
    assert row is not None
    return dict(row)


async def select_unit_registration(
    conn: Conn, *, registration_id: int, for_update: bool = False
) -> dict[str, Any] | None:
    """The registration with its hierarchy path and names (unit, community)."""
    query = """
        SELECT ur.id, ur.unit_id, ur.community_id, ur.status, ur.reason, ur.agreement_id,
               ur.workflow_id, ur.submitted_at, ur.decided_at, ur.valid_until,
               s.id AS subdistrict_id, s.district_id, u.name AS unit_name, c.name AS community_name,
               a.valid_until AS agreement_valid_until
        FROM unit_registration ur
        JOIN reporting_unit u ON u.id = ur.unit_id
        JOIN community c ON c.id = ur.community_id
        JOIN subdistrict s ON s.id = c.subdistrict_id
        LEFT JOIN co_building_agreement a ON a.id = ur.agreement_id
        WHERE ur.id = $1
    """
    if for_update:
        query += " FOR UPDATE OF ur"
    row = await conn.fetchrow(query, registration_id)
    return None if row is None else dict(row)


async def select_unit_location(conn: Conn, *, unit_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT id, community_id, name FROM reporting_unit WHERE id = $1", unit_id
    )
    return None if row is None else dict(row)


async def update_unit_registration(
    conn: Conn,
    *,
    registration_id: int,
    status: str,
    reason: str | None,
    agreement_id: int | None,
    decided_at: datetime | None,
    valid_until: datetime | None,
) -> dict[str, Any]:
    row = await conn.fetchrow(
        """
        UPDATE unit_registration
        SET status = $2, reason = $3, agreement_id = $4, decided_at = $5, valid_until = $6
        WHERE id = $1 RETURNING id, unit_id, community_id, status, reason, agreement_id, workflow_id, submitted_at,
                  decided_at, valid_until
        """,
        registration_id, status, reason, agreement_id, decided_at, valid_until,
    )
    assert row is not None
    return dict(row)


async def set_unit_workflow_id(conn: Conn, *, registration_id: int, workflow_id: str) -> None:
    await conn.execute(
        "UPDATE unit_registration SET workflow_id = $2 WHERE id = $1", registration_id, workflow_id
    )


async def select_community_with_most_units(conn: Conn) -> int | None:
    """The community with the most units registered with it (active), lowest id on a tie."""
    found: int | None = await conn.fetchval(
        """SELECT community_id FROM unit_registration WHERE status = 'active'
           GROUP BY community_id ORDER BY count(*) DESC, community_id LIMIT 1""")
    return found
