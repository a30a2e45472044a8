"""Queries on registration_certificate (报到证) and what a printed certificate shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from db.pool import Conn

# A member registration with everything its certificate prints and its scope checks need.
_SELECT = """
    SELECT mr.id AS registration_id, mr.status, mr.member_id, mr.community_id, mr.grid_id,
           coalesce(mr.confirmed_at, mr.submitted_at) AS registered_at, mr.valid_until,
           m.name AS member_name, m.phone, m.unit_id, coalesce(u.name, m.employer_name) AS unit_name,
           c.name AS community_name, s.id AS subdistrict_id, s.name AS subdistrict_name,
           d.id AS district_id, d.name AS district_name, g.name AS grid_name, g.branch_name,
           rc.number, rc.code
    FROM member_registration mr
    JOIN member m ON m.id = mr.member_id
    JOIN community c ON c.id = mr.community_id
    JOIN subdistrict s ON s.id = c.subdistrict_id
    JOIN district d ON d.id = s.district_id
    LEFT JOIN grid g ON g.id = mr.grid_id
    LEFT JOIN reporting_unit u ON u.id = m.unit_id
    LEFT JOIN registration_certificate rc ON rc.registration_id = mr.id
"""


@dataclass(frozen=True, slots=True)
class CertificateRow:
    """A member registration with what its certificate prints (number and code None until
    issued) and where it sits, for the scope check."""

    registration_id: int
    status: str
    member_id: int
    community_id: int
    grid_id: int | None
    registered_at: datetime
    valid_until: datetime | None
    member_name: str
    phone: str | None
    unit_id: int | None
    unit_name: str | None
    community_name: str
    subdistrict_id: int
    subdistrict_name: str
    district_id: int
    district_name: str
    grid_name: str | None
    branch_name: str | None
    number: str | None
    code: str | None


async def select_certificate_rows(conn: Conn, *, registration_ids: Sequence[int]) -> list[CertificateRow]:
    """The registrations (with their certificate, when issued), in id order."""
    rows = await conn.fetch(_SELECT + " WHERE mr.id = ANY($1::bigint[]) ORDER BY mr.id", list(registration_ids))
    return [CertificateRow(**r) for r in rows]


async def select_unit_registration_ids(conn: Conn, *, unit_id: int, status: str) -> list[int]:
    """The registrations in `status` of the unit's current members, by member name."""
    rows = await conn.fetch(
        """
        SELECT mr.id FROM member_registration mr JOIN member m ON m.id = mr.member_id
        WHERE m.unit_id = $1 AND mr.status = $2 ORDER BY m.name, mr.id
        """,
        unit_id, status,
    )
    return [int(r["id"]) for r in rows]


async def select_active_registration_id(conn: Conn, *, member_id: int) -> int | None:
    """The member's active registration (at most one is open), if any."""
    registration_id: int | None = await conn.fetchval(
        "SELECT id FROM member_registration WHERE member_id = $1 AND status = 'active'", member_id)
    return registration_id


async def insert_certificates(
    conn: Conn, *, registration_ids: Sequence[int], numbers: Sequence[str], codes: Sequence[str]
) -> None:
    """Issue certificates; one already issued keeps its number and code (a reprint is the same paper)."""
    await conn.execute(
        """
        INSERT INTO registration_certificate (registration_id, number, code)
        SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[])
        ON CONFLICT (registration_id) DO NOTHING
        """,
        list(registration_ids), list(numbers), list(codes),
    )


async def select_by_number(conn: Conn, *, number: str) -> CertificateRow | None:
    row = await conn.fetchrow(_SELECT + " WHERE rc.number = $1", number)
    return None if row is None else CertificateRow(**row)
