"""Queries on co_building_agreement (共建协议)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Conn


@dataclass(frozen=True, slots=True)
class AgreementRow:
    id: int
    unit_id: int
    community_id: int
    status: str
    projects: list[str]
    valid_from: datetime
    valid_until: datetime


async def insert_agreement(
    conn: Conn,
    *,
    unit_id: int,
    community_id: int,
    projects: list[str],
    valid_from: datetime,
    valid_until: datetime,
) -> AgreementRow:
    row = await conn.fetchrow(
        """
        INSERT INTO co_building_agreement (unit_id, community_id, projects, valid_from, valid_until)
        VALUES ($1, $2, $3, $4, $5)
        RETURNING id, unit_id, community_id, status, projects, valid_from, valid_until
        """,
        unit_id, community_id, projects, valid_from, valid_until,
    )
    assert row is not None  # INSERT ... RETURNING always yields the row
    return AgreementRow(**row)


async def update_agreement_validity(
    conn: Conn, *, agreement_id: int, status: str, valid_until: datetime
) -> None:
    await conn.execute(
        "UPDATE co_building_agreement SET status = $2, valid_until = $3 WHERE id = $1",
        agreement_id, status, valid_until,
    )


async def update_agreement_status(conn: Conn, *, agreement_id: int, status: str) -> None:
    await conn.execute(
        "UPDATE co_building_agreement SET status = $2 WHERE id = $1", agreement_id, status
    )


async def select_agreement(conn: Conn, *, agreement_id: int) -> AgreementRow | None:
    row = await conn.fetchrow(
        """
        SELECT id, unit_id, community_id, status, projects, valid_from, valid_until
        FROM co_building_agreement WHERE id = $1
        """,
        agreement_id,
    )
    return None if row is None else AgreementRow(**row)


async def select_active_community(conn: Conn, *, unit_id: int, now: datetime) -> int | None:
    """The community a unit builds with under an agreement in force now (the latest), or None."""
    found: int | None = await conn.fetchval(
        "SELECT community_id FROM co_building_agreement WHERE unit_id = $1 AND status = 'active'"
        " AND valid_from <= $2 AND valid_until > $2 ORDER BY valid_from DESC, id DESC LIMIT 1",
        unit_id, now,
    )
    return found
