"""Queries on the whistle aggregate 吹哨报到: whistle, whistle_summon (one row per summoned unit
and its answer) and whistle_event (the history).

Every write the workflow's activities make is idempotent: summons are unique per (whistle, unit),
answers and arrivals only move a row forward, and events carry a dedupe key where a retry could
write them twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.directory import split_page
from db.pool import Conn
from domain.scope import ScopeFilter
from domain.whistle import Candidate
from schemas.whistle import SummonView, WhistleEventView, WhistleView

_WHISTLE_COLUMNS = """
    w.id, w.community_id, c.name AS community_name, c.subdistrict_id, s.district_id, w.grid_id,
    w.place, w.title, w.matter, w.urgency, w.people_needed, w.resources_needed, w.respond_by,
    w.status, w.level, w.level_deadline_at, w.shortfall, w.parked_reason, w.summary, w.workflow_id,
    w.created_by, w.created_at, w.closed_at,
    (SELECT count(*) FROM whistle_summon ws WHERE ws.whistle_id = w.id) AS units_summoned,
    (SELECT count(*) FROM whistle_summon ws
      WHERE ws.whistle_id = w.id AND ws.status IN ('answered', 'arrived')) AS units_answered,
    (SELECT coalesce(sum(ws.people), 0) FROM whistle_summon ws
      WHERE ws.whistle_id = w.id AND ws.status IN ('answered', 'arrived')) AS people_committed
"""


async def insert_whistle(
    conn: Conn,
    *,
    community_id: int,
    grid_id: int | None,
    place: str,
    title: str,
    matter: str,
    urgency: str,
    people_needed: int,
    resources_needed: list[dict[str, Any]],
    respond_by: datetime,
    created_by: str,
    at: datetime,
) -> int:
    whistle_id: int = await conn.fetchval(
        """
        INSERT INTO whistle (community_id, grid_id, place, title, matter, urgency, people_needed,
                             resources_needed, respond_by, level_deadline_at, created_by, created_at,
                             updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $11)
        RETURNING id
        """,
        community_id, grid_id, place, title, matter, urgency, people_needed, resources_needed,
        respond_by, created_by, at,
    )
    return whistle_id


async def set_workflow_id(conn: Conn, *, whistle_id: int, workflow_id: str) -> None:
    await conn.execute("UPDATE whistle SET workflow_id = $2 WHERE id = $1", whistle_id, workflow_id)


async def select_whistle(conn: Conn, *, whistle_id: int) -> WhistleView | None:
    row = await conn.fetchrow(
        f"""
        SELECT {_WHISTLE_COLUMNS}
        FROM whistle w JOIN community c ON c.id = w.community_id JOIN subdistrict s ON s.id = c.subdistrict_id
        WHERE w.id = $1
        """,  # noqa: S608 - a constant column list, no input in the SQL text
        whistle_id,
    )
    return None if row is None else WhistleView(**row)


async def select_whistles(
    conn: Conn,
    *,
    scope: ScopeFilter,
    community_id: int | None,
    status: str | None,
    unit_id: int | None,
    limit: int,
    offset: int,
) -> tuple[list[WhistleView], int]:
    """Whistles in `scope` (a unit's scope: those summoning the unit), newest first, and the total."""
    rows = await conn.fetch(
        f"""
        WITH matched AS MATERIALIZED (
            SELECT w.id FROM whistle w
            JOIN community c ON c.id = w.community_id JOIN subdistrict s ON s.id = c.subdistrict_id
            WHERE ($1::bigint IS NULL OR s.district_id = $1)
              AND ($2::bigint IS NULL OR c.subdistrict_id = $2)
              AND ($3::bigint IS NULL OR w.community_id = $3)
              AND ($4::bigint IS NULL OR EXISTS (
                    SELECT 1 FROM whistle_summon ws WHERE ws.whistle_id = w.id AND ws.unit_id = $4))
              AND ($5::bigint IS NULL OR w.community_id = $5)
              AND ($6::text IS NULL OR w.status = $6)
              AND ($7::bigint IS NULL OR EXISTS (
                    SELECT 1 FROM whistle_summon ws WHERE ws.whistle_id = w.id AND ws.unit_id = $7))
        ), total AS (SELECT count(*) AS total FROM matched)
        SELECT total.total, p.* FROM total LEFT JOIN LATERAL (
            SELECT {_WHISTLE_COLUMNS}
            FROM matched m JOIN whistle w ON w.id = m.id
            JOIN community c ON c.id = w.community_id JOIN subdistrict s ON s.id = c.subdistrict_id
            ORDER BY w.created_at DESC, w.id DESC LIMIT $8 OFFSET $9
        ) p ON true
        """,  # noqa: S608 - a constant column list, no input in the SQL text
        scope.district_id, scope.subdistrict_id, scope.community_id, scope.unit_id, community_id,
        status, unit_id, limit, offset,
    )
    total, items = split_page(rows)
    return [WhistleView.model_validate({k: v for k, v in r.items() if k != "total"}) for r in items], total


async def select_summon_candidates(
    conn: Conn, *, level: str, community_id: int, subdistrict_id: int, district_id: int, as_of: datetime
) -> list[Candidate]:
    """Every tie of a unit to the level's area: located in the community, an active registration
    (单位报到) or an active co-building agreement 共建协议; `domain.whistle.choose_units` decides."""
    rows = await conn.fetch(
        """
        WITH ties AS (
            SELECT u.id AS unit_id, 'located' AS basis, u.community_id
            FROM reporting_unit u WHERE u.community_id = $2
            UNION ALL
            SELECT a.unit_id, 'agreement', a.community_id
            FROM co_building_agreement a
            WHERE a.community_id = $2 AND a.status = 'active' AND a.valid_until >= $5
            UNION ALL
            SELECT ur.unit_id, 'registered', ur.community_id
            FROM unit_registration ur JOIN community c ON c.id = ur.community_id
            JOIN subdistrict s ON s.id = c.subdistrict_id
            WHERE ur.status = 'active' AND CASE $1::text
                WHEN 'community' THEN ur.community_id = $2
                WHEN 'subdistrict' THEN c.subdistrict_id = $3
                ELSE s.district_id = $4 END
        )
        SELECT t.unit_id, t.basis, t.community_id, c.subdistrict_id
        FROM ties t JOIN community c ON c.id = t.community_id
        ORDER BY t.unit_id, t.basis
        """,
        level, community_id, subdistrict_id, district_id, as_of,
    )
    return [Candidate(**r) for r in rows]


async def select_summoned_unit_ids(conn: Conn, *, whistle_id: int, level: str | None = None) -> list[int]:
    rows = await conn.fetch(
        """
        SELECT unit_id FROM whistle_summon
        WHERE whistle_id = $1 AND ($2::text IS NULL OR level = $2) ORDER BY unit_id
        """,
        whistle_id, level,
    )
    return [int(r["unit_id"]) for r in rows]


async def insert_summons(
    conn: Conn, *, whistle_id: int, level: str, unit_ids: list[int], bases: list[str], at: datetime
) -> list[int]:
    """Summon these units; the ids of those summoned now (a unit already summoned is skipped)."""
    rows = await conn.fetch(
        """
        INSERT INTO whistle_summon (whistle_id, unit_id, level, basis, summoned_at)
        SELECT $1, u.unit_id, $2, u.basis, $5
        FROM unnest($3::bigint[], $4::text[]) AS u(unit_id, basis)
        ON CONFLICT (whistle_id, unit_id) DO NOTHING
        RETURNING unit_id
        """,
        whistle_id, level, unit_ids, bases, at,
    )
    return sorted(int(r["unit_id"]) for r in rows)


async def update_whistle_level(
    conn: Conn, *, whistle_id: int, level: str, level_deadline_at: datetime, at: datetime
) -> None:
    await conn.execute(
        """
        UPDATE whistle SET level = $2, level_deadline_at = $3, updated_at = $4
        WHERE id = $1 AND status <> 'closed'
        """,
        whistle_id, level, level_deadline_at, at,
    )


async def update_whistle_status(
    conn: Conn,
    *,
    whistle_id: int,
    status: str,
    from_statuses: list[str],
    shortfall: int,
    parked_reason: str | None,
    at: datetime,
) -> str | None:
    """Move the whistle to `status` when it is in one of `from_statuses`; the status it had, or
    None when it was not moved (already there, or a later state)."""
    previous: str | None = await conn.fetchval(
        """
        UPDATE whistle w SET status = $2, shortfall = $4, parked_reason = $5, updated_at = $6
        FROM (SELECT id, status FROM whistle WHERE id = $1 FOR UPDATE) old
        WHERE w.id = old.id AND old.status = ANY($3::text[]) AND old.status <> $2
        RETURNING old.status
        """,
        whistle_id, status, from_statuses, shortfall, parked_reason, at,
    )
    return previous


async def close_whistle(conn: Conn, *, whistle_id: int, summary: str, at: datetime) -> str | None:
    """办结; the status it had, or None when it was already closed."""
    previous: str | None = await conn.fetchval(
        """
        UPDATE whistle w SET status = 'closed', summary = $2, closed_at = $3, updated_at = $3
        FROM (SELECT id, status FROM whistle WHERE id = $1 FOR UPDATE) old
        WHERE w.id = old.id AND old.status <> 'closed'
        RETURNING old.status
        """,
        whistle_id, summary, at,
    )
    return previous


async def mark_urged(conn: Conn, *, whistle_id: int, unit_ids: list[int], at: datetime) -> tuple[list[int], list[int]]:
    """Stamp the still-silent units among `unit_ids` as urged, once; (urged now, urged ever)."""
    now_rows = await conn.fetch(
        """
        UPDATE whistle_summon SET urged_at = $3
        WHERE whistle_id = $1 AND unit_id = ANY($2::bigint[]) AND status = 'summoned' AND urged_at IS NULL
        RETURNING unit_id
        """,
        whistle_id, unit_ids, at,
    )
    ever_rows = await conn.fetch(
        """
        SELECT unit_id FROM whistle_summon
        WHERE whistle_id = $1 AND unit_id = ANY($2::bigint[]) AND urged_at IS NOT NULL ORDER BY unit_id
        """,
        whistle_id, unit_ids,
    )
    return sorted(int(r["unit_id"]) for r in now_rows), [int(r["unit_id"]) for r in ever_rows]


async def record_answer(
    conn: Conn,
    *,
    whistle_id: int,
    unit_id: int,
    accept: bool,
    people: int,
    resources: list[dict[str, Any]],
    eta: datetime | None,
    contact_name: str | None,
    contact_phone: str | None,
    decline_reason: str | None,
    answered_by: str,
    at: datetime,
) -> bool:
    """Record a unit's answer on its summons; False when the summons was not waiting for one."""
    done: int | None = await conn.fetchval(
        """
        UPDATE whistle_summon
        SET status = $3, people = $4, resources = $5, eta = $6, contact_name = $7, contact_phone = $8,
            decline_reason = $9, answered_by = $10, answered_at = $11
        WHERE whistle_id = $1 AND unit_id = $2 AND status = 'summoned'
        RETURNING id
        """,
        whistle_id, unit_id, "answered" if accept else "declined", people if accept else 0, resources,
        eta, contact_name, contact_phone, decline_reason, answered_by, at,
    )
    return done is not None


async def record_arrival(
    conn: Conn, *, whistle_id: int, unit_id: int, people: int, at: datetime
) -> bool:
    done: int | None = await conn.fetchval(
        """
        UPDATE whistle_summon SET status = 'arrived', arrived_people = $3, arrived_at = $4
        WHERE whistle_id = $1 AND unit_id = $2 AND status = 'answered'
        RETURNING id
        """,
        whistle_id, unit_id, people, at,
    )
    return done is not None


@dataclass(frozen=True, slots=True)
class SummonStateRow:
    """Where a unit's summons stands after an answer or an arrival."""

    status: str
    people: int | None
    arrived_people: int | None


async def select_summon(conn: Conn, *, whistle_id: int, unit_id: int) -> SummonStateRow | None:
    row = await conn.fetchrow(
        "SELECT status, people, arrived_people FROM whistle_summon WHERE whistle_id = $1 AND unit_id = $2",
        whistle_id, unit_id,
    )
    return None if row is None else SummonStateRow(**row)


async def select_summons(conn: Conn, *, whistle_id: int) -> list[SummonView]:
    rows = await conn.fetch(
        """
        SELECT ws.unit_id, u.name AS unit_name, ws.level, ws.basis, ws.status, ws.summoned_at,
               ws.urged_at, ws.people, ws.resources, ws.eta, ws.contact_name, ws.contact_phone,
               ws.decline_reason, ws.answered_by, ws.answered_at, ws.arrived_people, ws.arrived_at
        FROM whistle_summon ws JOIN reporting_unit u ON u.id = ws.unit_id
        WHERE ws.whistle_id = $1 ORDER BY ws.summoned_at, ws.unit_id
        """,
        whistle_id,
    )
    return [SummonView(**r) for r in rows]


async def select_answered_unit_ids(conn: Conn, *, whistle_id: int) -> list[int]:
    rows = await conn.fetch(
        """
        SELECT unit_id FROM whistle_summon
        WHERE whistle_id = $1 AND status IN ('answered', 'arrived') ORDER BY unit_id
        """,
        whistle_id,
    )
    return [int(r["unit_id"]) for r in rows]


async def select_unit_names(conn: Conn, *, unit_ids: list[int]) -> dict[int, str]:
    rows = await conn.fetch("SELECT id, name FROM reporting_unit WHERE id = ANY($1::bigint[])", unit_ids)
    return {int(r["id"]): str(r["name"]) for r in rows}


async def insert_event(
    conn: Conn,
    *,
    whistle_id: int,
    kind: str,
    unit_id: int | None,
    actor: str,
    detail: dict[str, Any],
    at: datetime,
    dedupe: str | None = None,
) -> bool:
    """Append to the whistle's history; False when an event with this dedupe key exists."""
    inserted: int | None = await conn.fetchval(
        """
        INSERT INTO whistle_event (whistle_id, kind, unit_id, actor, detail, dedupe, at)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (whistle_id, dedupe) DO NOTHING
        RETURNING id
        """,
        whistle_id, kind, unit_id, actor, detail, dedupe, at,
    )
    return inserted is not None


async def insert_events(
    conn: Conn, *, whistle_id: int, kind: str, unit_ids: list[int], actor: str, detail: dict[str, Any],
    at: datetime,
) -> None:
    """One event per unit (summoned, urged), set-based; callers pass only units new this time."""
    await conn.execute(
        """
        INSERT INTO whistle_event (whistle_id, kind, unit_id, actor, detail, at)
        SELECT $1, $2, u, $4, $5, $6 FROM unnest($3::bigint[]) AS u
        """,
        whistle_id, kind, unit_ids, actor, detail, at,
    )


async def select_events(conn: Conn, *, whistle_id: int) -> list[WhistleEventView]:
    rows = await conn.fetch(
        "SELECT kind, unit_id, actor, detail, at FROM whistle_event WHERE whistle_id = $1 ORDER BY id",
        whistle_id,
    )
    return [WhistleEventView(**r) for r in rows]


async def any_whistle(conn: Conn) -> bool:
    """Whether any whistle was ever blown."""
    found: bool = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM whistle)")
    return found
