"""Queries on registration_event: the status history of member and unit registrations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from db.pool import Conn


@dataclass(frozen=True, slots=True)
class RegistrationEventRow:
    id: int
    from_status: str | None
    to_status: str
    actor: str
    reason: str | None
    at: datetime


async def insert_events(
    conn: Conn,
    *,
    kind: str,
    registration_ids: Sequence[int],
    from_statuses: Sequence[str | None],
    to_statuses: Sequence[str],
    actor: str,
    reasons: Sequence[str | None],
    at: datetime | None = None,
) -> None:
    """One history row per registration, set-based; at `at` (the use case's business time) or now."""
    await conn.execute(
        """
        INSERT INTO registration_event (registration_kind, registration_id, from_status, to_status,
                                        actor, reason, at)
        SELECT $1, e.id, e.from_status, e.to_status, $5, e.reason, coalesce($7::timestamptz, now())
        FROM unnest($2::bigint[], $3::text[], $4::text[], $6::text[])
             AS e(id, from_status, to_status, reason)
        """,
        kind, list(registration_ids), list(from_statuses), list(to_statuses), actor, list(reasons), at,
    )


async def select_events(conn: Conn, *, kind: str, registration_id: int) -> list[RegistrationEventRow]:
    rows = await conn.fetch(
        """
        SELECT id, from_status, to_status, actor, reason, at FROM registration_event
        WHERE registration_kind = $1 AND registration_id = $2 ORDER BY id
        """,
        kind, registration_id,
    )
    return [RegistrationEventRow(**r) for r in rows]
