"""Queries on unit_registration (单位报到)."""

from __future__ import annotations

from datetime import datetime

from db.pool import Conn
from schemas.registration import UnitRegistrationOut

_RETURNING = """RETURNING id, unit_id, community_id, status, reason, agreement_id, workflow_id, submitted_at,
                  decided_at, valid_until"""


class UnitRegistrationRow(UnitRegistrationOut):
    """A unit registration as the API shows it, with where it sits, the names people read and
    its agreement's expiry."""

    subdistrict_id: int
    district_id: int
    unit_name: str
    community_name: str
    agreement_valid_until: datetime | None


async def insert_unit_registration(
    conn: Conn, *, unit_id: int, community_id: int, submitted_at: datetime
) -> UnitRegistrationOut:
    row = await conn.fetchrow(
        f"""
        INSERT INTO unit_registration (unit_id, community_id, status, submitted_at)
        VALUES ($1, $2, 'submitted', $3) {_RETURNING}
        """,  # noqa: S608 - constant column list
        unit_id, community_id, submitted_at,
    )
    assert row is not None
    return UnitRegistrationOut.model_validate(dict(row))


async def select_unit_registration(
    conn: Conn, *, registration_id: int, for_update: bool = False
) -> UnitRegistrationRow | None:
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
    return None if row is None else UnitRegistrationRow.model_validate(dict(row))


async def update_unit_registration(
    conn: Conn,
    *,
    registration_id: int,
    status: str,
    reason: str | None,
    agreement_id: int | None,
    decided_at: datetime | None,
    valid_until: datetime | None,
) -> UnitRegistrationOut:
    row = await conn.fetchrow(
        f"""
        UPDATE unit_registration
        SET status = $2, reason = $3, agreement_id = $4, decided_at = $5, valid_until = $6
        WHERE id = $1 {_RETURNING}
        """,  # noqa: S608 - constant column list
        registration_id, status, reason, agreement_id, decided_at, valid_until,
    )
    assert row is not None
    return UnitRegistrationOut.model_validate(dict(row))


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
