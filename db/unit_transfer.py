"""Queries on unit_transfer: requests to move a member to another employer unit (转单位)."""

from __future__ import annotations

from datetime import datetime

from db.pool import Conn
from domain.scope import ScopeFilter
from schemas.unit_transfer import UnitTransferOut


class UnitTransferRow(UnitTransferOut):
    """A request as the API shows it, plus the member's employer now and place where they live
    (which community, subdistrict and district actors are scoped by)."""

    current_unit_id: int | None
    community_id: int | None
    subdistrict_id: int | None
    district_id: int | None

    def out(self) -> UnitTransferOut:
        return UnitTransferOut.model_validate(self.model_dump(include=set(UnitTransferOut.model_fields)))

# The request with the names people read and the member's place in the hierarchy (where they
# live), which community, subdistrict and district actors are scoped by.
_SELECT = """
    SELECT t.id, t.member_id, m.name AS member_name, t.from_unit_id, fu.name AS from_unit_name,
           t.to_unit_id, tu.name AS to_unit_name, t.status, t.note, t.decision_reason,
           t.requested_by, t.decided_by, t.requested_at, t.decided_at, t.expires_at,
           m.unit_id AS current_unit_id, m.home_community_id AS community_id,
           c.subdistrict_id, s.district_id
    FROM unit_transfer t
    JOIN member m ON m.id = t.member_id
    LEFT JOIN reporting_unit fu ON fu.id = t.from_unit_id
    JOIN reporting_unit tu ON tu.id = t.to_unit_id
    LEFT JOIN community c ON c.id = m.home_community_id
    LEFT JOIN subdistrict s ON s.id = c.subdistrict_id
"""


async def insert_transfer(
    conn: Conn,
    *,
    member_id: int,
    from_unit_id: int | None,
    to_unit_id: int,
    note: str | None,
    requested_by: str,
    requested_at: datetime,
    expires_at: datetime,
) -> int:
    """The new pending request's id; a second pending request of the member violates
    `unit_transfer_pending_uq` (the caller translates it)."""
    transfer_id: int = await conn.fetchval(
        """
        INSERT INTO unit_transfer (member_id, from_unit_id, to_unit_id, status, note, requested_by,
                                   requested_at, expires_at)
        VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7)
        RETURNING id
        """,
        member_id, from_unit_id, to_unit_id, note, requested_by, requested_at, expires_at,
    )
    return transfer_id


async def select_transfer(conn: Conn, *, transfer_id: int, for_update: bool = False) -> UnitTransferRow | None:
    """The request with names and path; locked for the caller's transaction when `for_update`."""
    query = _SELECT + " WHERE t.id = $1" + (" FOR UPDATE OF t" if for_update else "")
    row = await conn.fetchrow(query, transfer_id)
    return None if row is None else UnitTransferRow.model_validate(dict(row))


async def select_pending_for_member(conn: Conn, *, member_id: int) -> int | None:
    transfer_id: int | None = await conn.fetchval(
        "SELECT id FROM unit_transfer WHERE member_id = $1 AND status = 'pending'", member_id
    )
    return transfer_id


async def select_transfers(
    conn: Conn,
    *,
    scope: ScopeFilter,
    status: str | None,
    member_id: int | None,
    unit_id: int | None,
    limit: int,
    offset: int,
) -> tuple[int, list[UnitTransferRow]]:
    """(total, one page) of requests inside `scope`, newest first.

    A unit scope sees the requests leaving the unit and those addressed to it, nothing else.
    """
    rows = await conn.fetch(
        """
        WITH matched AS MATERIALIZED (
            SELECT t.id
            FROM unit_transfer t
            JOIN member m ON m.id = t.member_id
            LEFT JOIN community c ON c.id = m.home_community_id
            LEFT JOIN subdistrict s ON s.id = c.subdistrict_id
            WHERE ($1::bigint IS NULL OR s.district_id = $1)
              AND ($2::bigint IS NULL OR c.subdistrict_id = $2)
              AND ($3::bigint IS NULL OR m.home_community_id = $3)
              AND ($4::bigint IS NULL OR t.from_unit_id = $4 OR t.to_unit_id = $4)
              AND ($5::bigint IS NULL OR t.member_id = $5)
              AND ($6::text IS NULL OR t.status = $6)
              AND ($7::bigint IS NULL OR t.member_id = $7)
              AND ($8::bigint IS NULL OR t.from_unit_id = $8 OR t.to_unit_id = $8)
        )
        SELECT (SELECT count(*) FROM matched) AS total, array_agg(p.id ORDER BY p.id DESC) AS ids
        FROM (SELECT id FROM matched ORDER BY id DESC LIMIT $9 OFFSET $10) p
        """,
        scope.district_id, scope.subdistrict_id, scope.community_id, scope.unit_id, scope.member_id,
        status, member_id, unit_id, limit, offset,
    )
    total = int(rows[0]["total"])
    ids: list[int] = rows[0]["ids"] or []
    if not ids:
        return total, []
    items = await conn.fetch(_SELECT + " WHERE t.id = ANY($1::bigint[]) ORDER BY t.id DESC", ids)
    return total, [UnitTransferRow.model_validate(dict(r)) for r in items]


async def close_transfer(
    conn: Conn,
    *,
    transfer_id: int,
    status: str,
    decided_by: str,
    decision_reason: str | None,
    decided_at: datetime,
) -> bool:
    """Close a pending request and append its audit row (before/after) in one statement.

    True when it was pending and is closed now; a request already closed is left as it is.
    """
    closed: int = await conn.fetchval(
        """
        WITH closed AS (
            UPDATE unit_transfer SET status = $2, decided_by = $3, decision_reason = $4, decided_at = $5
            WHERE id = $1 AND status = 'pending'
            RETURNING id
        ), audit AS (
            INSERT INTO audit_log (at, actor, action, subject_kind, subject_id, before, after)
            SELECT $5, $3, 'unit_transfer.' || $2, 'unit_transfer', id,
                   jsonb_build_object('status', 'pending'),
                   jsonb_build_object('status', $2::text, 'reason', $4::text)
            FROM closed
        )
        SELECT count(*) FROM closed
        """,
        transfer_id, status, decided_by, decision_reason, decided_at,
    )
    return closed > 0


async def insert_transfer_notifications(
    conn: Conn,
    *,
    transfer_id: int,
    event: str,
    category: str,
    title: str,
    body: str,
    recipients: list[tuple[str, int]],
) -> int:
    """One inbox message per (kind, id) recipient about one event of a request; a retry sends
    nothing twice (the dedupe key names request, event and recipient). Returns how many were new."""
    sent: int = await conn.fetchval(
        """
        WITH ins AS (
            INSERT INTO notification (recipient_kind, recipient_id, category, title, body, dedupe_key)
            SELECT r.kind, r.id, $2, $3, $4, $1 || r.kind || ':' || r.id
            FROM unnest($5::text[], $6::bigint[]) AS r(kind, id)
            ON CONFLICT (dedupe_key) DO NOTHING
            RETURNING 1
        )
        SELECT count(*) FROM ins
        """,
        f"unit_transfer:{transfer_id}:{event}:", category, title, body,
        [kind for kind, _ in recipients], [rid for _, rid in recipients],
    )
    return sent
