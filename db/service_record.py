"""Queries on service_record 服务记录 and its credits to the two points ledgers.

Approval writes the record's status and its ledger rows in one statement; the ledger's unique
`service_key` ('record:{id}') with `ON CONFLICT DO NOTHING` means a retried or doubled approval
credits nothing twice, whatever the caller's locking did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.pool import Conn
from domain.scope import HierarchyPath, ScopeFilter
from schemas.service_record import ServiceRecordView

# The community's record joined with where it sits (scope checks) and the member's name.
_SELECT = """
    SELECT sr.id, sr.member_id, m.name AS member_name, m.unit_id, sr.community_id, sr.grid_id,
           sr.category, sr.started_at, sr.ended_at, sr.hours::float AS hours, sr.description,
           sr.co_server_member_id, sr.status, sr.reject_reason, sr.points::float AS points,
           sr.decided_by, sr.decided_at, sr.created_at, c.subdistrict_id, s.district_id
    FROM service_record sr
    JOIN member m ON m.id = sr.member_id
    JOIN community c ON c.id = sr.community_id
    JOIN subdistrict s ON s.id = c.subdistrict_id
"""


@dataclass(frozen=True, slots=True)
class PlacedRecordRow:
    """A record as the API shows it, and where it sits (its community's place, the member and
    their unit) as scope checks read it."""

    view: ServiceRecordView
    path: HierarchyPath


def _placed(row: Any) -> PlacedRecordRow:
    return PlacedRecordRow(
        view=ServiceRecordView.model_validate(dict(row)),
        path=HierarchyPath(district_id=row["district_id"], subdistrict_id=row["subdistrict_id"],
                           community_id=row["community_id"], unit_id=row["unit_id"], member_id=row["member_id"]))


async def has_confirmed_registration(conn: Conn, *, member_id: int, community_id: int) -> bool:
    """True when the member's open registration is in this community and confirmed by it."""
    found: bool = await conn.fetchval(
        """
        SELECT EXISTS (SELECT 1 FROM member_registration
                       WHERE member_id = $1 AND community_id = $2 AND status IN ('confirmed', 'active'))
        """,
        member_id, community_id,
    )
    return found


async def lock_member(conn: Conn, *, member_id: int) -> bool:
    """Lock the member's row for this transaction (False when there is no such member)."""
    found: int | None = await conn.fetchval("SELECT id FROM member WHERE id = $1 FOR NO KEY UPDATE", member_id)
    return found is not None


async def select_grid_community_id(conn: Conn, *, grid_id: int) -> int | None:
    found: int | None = await conn.fetchval("SELECT community_id FROM grid WHERE id = $1", grid_id)
    return found


async def select_category_bonus(conn: Conn, *, name: str) -> float | None:
    """The catalogue's bonus of an active category; None when it is not in the catalogue."""
    bonus: float | None = await conn.fetchval(
        "SELECT category_bonus::float FROM need_category WHERE name = $1 AND active", name
    )
    return bonus


@dataclass(frozen=True, slots=True)
class OverlapRow:
    """Another record (`ref` its id) or a task's check-in/out span (`ref` the task id)."""

    kind: str
    ref: int
    started_at: datetime
    ended_at: datetime


async def select_overlaps(
    conn: Conn, *, member_id: int, started_at: datetime, ended_at: datetime
) -> list[OverlapRow]:
    """The member's other records (not rejected) and task check-in/out spans overlapping the span.

    A task still checked in (no check-out yet) overlaps from its check-in onwards.
    """
    rows = await conn.fetch(
        """
        SELECT 'record' AS kind, id AS ref, started_at, ended_at FROM service_record
        WHERE member_id = $1 AND status <> 'rejected' AND started_at < $3 AND ended_at > $2
        UNION ALL
        SELECT 'task', task_id, checked_in_at, coalesce(checked_out_at, 'infinity'::timestamptz)
        FROM assignment
        WHERE member_id = $1 AND checked_in_at IS NOT NULL AND checked_in_at < $3
          AND coalesce(checked_out_at, 'infinity'::timestamptz) > $2
        ORDER BY started_at
        """,
        member_id, started_at, ended_at,
    )
    return [OverlapRow(**r) for r in rows]


async def insert_record(
    conn: Conn,
    *,
    member_id: int,
    community_id: int,
    grid_id: int | None,
    category: str,
    started_at: datetime,
    ended_at: datetime,
    hours: float,
    description: str,
    co_server_member_id: int | None,
    created_by: str,
    at: datetime,
) -> int:
    record_id: int = await conn.fetchval(
        """
        INSERT INTO service_record (member_id, community_id, grid_id, category, started_at, ended_at,
                                    hours, description, co_server_member_id, created_by, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        RETURNING id
        """,
        member_id, community_id, grid_id, category, started_at, ended_at, hours, description,
        co_server_member_id, created_by, at,
    )
    return record_id


async def select_record(conn: Conn, *, record_id: int) -> PlacedRecordRow | None:
    row = await conn.fetchrow(_SELECT + " WHERE sr.id = $1", record_id)
    return None if row is None else _placed(row)


async def select_records(
    conn: Conn, *, scope: ScopeFilter, member_id: int | None, community_id: int | None,
    status: str | None, limit: int, offset: int = 0,
) -> list[ServiceRecordView]:
    """Records inside the scope (a member: their own; a unit: its members'), newest service first."""
    rows = await conn.fetch(
        _SELECT + """
        WHERE ($1::bigint IS NULL OR s.district_id = $1) AND ($2::bigint IS NULL OR c.subdistrict_id = $2)
          AND ($3::bigint IS NULL OR sr.community_id = $3) AND ($4::bigint IS NULL OR m.unit_id = $4)
          AND ($5::bigint IS NULL OR sr.member_id = $5)
          AND ($6::bigint IS NULL OR sr.member_id = $6) AND ($7::bigint IS NULL OR sr.community_id = $7)
          AND ($8::text IS NULL OR sr.status = $8)
        ORDER BY sr.started_at DESC, sr.id DESC LIMIT $9 OFFSET $10
        """,
        scope.district_id, scope.subdistrict_id, scope.community_id, scope.unit_id, scope.member_id,
        member_id, community_id, status, limit, offset,
    )
    return [ServiceRecordView.model_validate(dict(r)) for r in rows]


@dataclass(frozen=True, slots=True)
class LockedRecordRow:
    """A record locked for a decision, with what crediting it needs and where it sits."""

    id: int
    member_id: int
    status: str
    category: str
    started_at: datetime
    hours: float
    category_bonus: float
    redeemable: bool
    path: HierarchyPath


async def lock_records(conn: Conn, *, record_ids: list[int]) -> list[LockedRecordRow]:
    """The records, locked for a decision, with the category bonus and whether the service falls
    in a redeemable campaign 道德银行 over its community (then the redeemable ledger is credited too)."""
    rows = await conn.fetch(
        """
        SELECT sr.id, sr.member_id, sr.community_id, sr.status, sr.category, sr.started_at,
               sr.hours::float AS hours, c.subdistrict_id, s.district_id,
               coalesce(nc.category_bonus, 0)::float AS category_bonus,
               EXISTS (SELECT 1 FROM campaign ca JOIN campaign_community cc ON cc.campaign_id = ca.id
                       WHERE cc.community_id = sr.community_id AND ca.redeemable
                         AND ca.status NOT IN ('draft', 'cancelled')
                         AND sr.started_at >= ca.window_start AND sr.started_at < ca.window_end) AS redeemable
        FROM service_record sr
        JOIN community c ON c.id = sr.community_id
        JOIN subdistrict s ON s.id = c.subdistrict_id
        LEFT JOIN need_category nc ON nc.name = sr.category
        WHERE sr.id = ANY($1::bigint[])
        ORDER BY sr.id
        FOR UPDATE OF sr
        """,
        record_ids,
    )
    return [LockedRecordRow(
        id=r["id"], member_id=r["member_id"], status=r["status"], category=r["category"],
        started_at=r["started_at"], hours=r["hours"], category_bonus=r["category_bonus"], redeemable=r["redeemable"],
        path=HierarchyPath(district_id=r["district_id"], subdistrict_id=r["subdistrict_id"],
                           community_id=r["community_id"])) for r in rows]


async def approve_and_credit(
    conn: Conn,
    *,
    record_ids: list[int],
    member_ids: list[int],
    service_keys: list[str],
    points: list[float],
    parts: list[dict[str, Any]],
    redeemable: list[bool],
    decided_by: str,
    at: datetime,
) -> tuple[int, int]:
    """Mark pending records approved and credit each once; (records approved now, credits written now).

    The credit is `awarded_at = at` (the approval), as a task's is the award: an evaluation period
    counts a service when it was verified.
    """
    row = await conn.fetchrow(
        """
        WITH src AS (
            SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::float8[], $5::text[], $6::bool[])
                AS s(record_id, member_id, service_key, points, parts, redeemable)
        ), upd AS (
            UPDATE service_record sr
            SET status = 'approved', points = src.points::numeric, decided_by = $7, decided_at = $8
            FROM src WHERE sr.id = src.record_id AND sr.status = 'pending'
            RETURNING sr.id
        ), ev AS (
            INSERT INTO evaluation_points (member_id, task_id, service_record_id, service_key, points,
                                           parts, awarded_at)
            SELECT member_id, NULL, record_id, service_key, points::numeric, parts::jsonb, $8 FROM src
            ON CONFLICT (service_key) DO NOTHING
            RETURNING 1
        ), rd AS (
            INSERT INTO redeemable_points (member_id, task_id, service_record_id, service_key, points,
                                           parts, awarded_at)
            SELECT member_id, NULL, record_id, service_key, points::numeric, parts::jsonb, $8
            FROM src WHERE redeemable
            ON CONFLICT (service_key) DO NOTHING
            RETURNING 1
        )
        -- Data-modifying CTEs always run to completion, so rd is written though not read here.
        SELECT (SELECT count(*) FROM upd)::int AS approved, (SELECT count(*) FROM ev)::int AS credited
        """,
        record_ids, member_ids, service_keys, points,
        [json.dumps(p, ensure_ascii=False) for p in parts], redeemable, decided_by, at,
    )
    assert row is not None
    return int(row["approved"]), int(row["credited"])


async def reject_records(
    conn: Conn, *, record_ids: list[int], reason: str, decided_by: str, at: datetime
) -> list[int]:
    """Reject the pending ones among `record_ids`; the ids rejected now."""
    rows = await conn.fetch(
        """
        UPDATE service_record SET status = 'rejected', reject_reason = $2, decided_by = $3, decided_at = $4
        WHERE id = ANY($1::bigint[]) AND status = 'pending'
        RETURNING id
        """,
        record_ids, reason, decided_by, at,
    )
    return [int(r["id"]) for r in rows]


@dataclass(frozen=True, slots=True)
class RecordCreditRow:
    """One ledger line a record credited (`ledger`: evaluation or redeemable)."""

    ledger: str
    member_id: int
    service_key: str
    points: float
    awarded_at: datetime


async def select_record_credits(conn: Conn, *, record_id: int) -> list[RecordCreditRow]:
    rows = await conn.fetch(
        """
        SELECT 'evaluation' AS ledger, member_id, service_key, points::float AS points, awarded_at
        FROM evaluation_points WHERE service_record_id = $1
        UNION ALL
        SELECT 'redeemable', member_id, service_key, points::float, awarded_at
        FROM redeemable_points WHERE service_record_id = $1
        """,
        record_id,
    )
    return [RecordCreditRow(**r) for r in rows]


async def any_record_created_by(conn: Conn, *, created_by: str) -> bool:
    """Whether `created_by` (an actor's audit name) ever logged a service record."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM service_record WHERE created_by = $1)", created_by)
    return found


async def insert_logged_records(
    conn: Conn,
    *,
    member_ids: list[int],
    community_ids: list[int],
    grid_ids: list[int | None],
    categories: list[str],
    started_ats: list[datetime],
    ended_ats: list[datetime],
    hours: list[float],
    descriptions: list[str],
    created_by: list[str],
    created_ats: list[datetime],
) -> list[int]:
    """Many pending records at once, as members logged them (history written after the fact);
    their ids in the order given."""
    rows = await conn.fetch(
        """
        INSERT INTO service_record (member_id, community_id, grid_id, category, started_at, ended_at,
                                    hours, description, created_by, created_at)
        SELECT member_id, community_id, grid_id, category, started_at, ended_at, hours, description,
               created_by, created_at
        FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::timestamptz[],
                    $6::timestamptz[], $7::numeric[], $8::text[], $9::text[], $10::timestamptz[])
             WITH ORDINALITY AS s(member_id, community_id, grid_id, category, started_at, ended_at, hours,
                                  description, created_by, created_at, ord)
        ORDER BY ord
        RETURNING id
        """,
        member_ids, community_ids, grid_ids, categories, started_ats, ended_ats, hours, descriptions,
        created_by, created_ats,
    )
    return sorted(int(r["id"]) for r in rows)
