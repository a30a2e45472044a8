"""Read models of the directory: hierarchy, units, members and registrations, scope-filtered.

Every list query takes the caller's `ScopeFilter` as $1..$5 (district, subdistrict, community,
unit, member; NULL means unrestricted) and the `PlaceFilter` asked for right after it (district,
subdistrict, community, then what the list can be narrowed by), tests both with the SQL function
`in_place` (db/migrations/0020_in_place.sql) and returns one page plus the total, the page's LIMIT
and OFFSET as its last two parameters (`_fetch_page`). The page is built as
`total LEFT JOIN LATERAL (page)` so an empty page still carries the total in one round trip; rows
whose `id` is NULL are that placeholder and are dropped by `split_page`. Rows come back as the
read models of schemas/directory.py, unmasked: the service masks personal data by role.

Where a subject sits: a member by home community and employer unit; a unit by the community where
it is located; a registration by the community it registers with (plus the member's unit).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

import asyncpg
from pydantic import BaseModel

from db.pool import Conn
from domain.scope import HierarchyPath, PlaceFilter, ScopeFilter
from schemas import directory as read_models
from schemas.api import Page

M = TypeVar("M", bound=BaseModel)


def _scope_args(scope: ScopeFilter) -> tuple[int | None, ...]:
    return (scope.district_id, scope.subdistrict_id, scope.community_id, scope.unit_id, scope.member_id)


def _area(where: HierarchyPath) -> tuple[int | None, int | None, int | None]:
    return where.district_id, where.subdistrict_id, where.community_id


def split_page(rows: Sequence[asyncpg.Record]) -> tuple[int, list[asyncpg.Record]]:
    """(total, item rows) from a page query's result."""
    total = int(rows[0]["total"]) if rows else 0
    return total, [r for r in rows if r["id"] is not None]


async def _fetch_page(
    conn: Conn, model: type[M], query: str, *args: object, limit: int, offset: int
) -> Page[M]:
    """Run a page query (LIMIT and OFFSET its last two parameters) into one page of `model`."""
    total, rows = split_page(await conn.fetch(query, *args, limit, offset))
    return Page(items=[model.model_validate(dict(r)) for r in rows], total=total, limit=limit,
                offset=offset)


async def scope_subject_exists(conn: Conn, *, scope_kind: str, scope_id: int) -> bool:
    """True when the hierarchy node, unit or member a token would be scoped to exists."""
    found: bool = await conn.fetchval(
        """
        SELECT CASE $1::text
            WHEN 'district' THEN EXISTS (SELECT 1 FROM district WHERE id = $2)
            WHEN 'subdistrict' THEN EXISTS (SELECT 1 FROM subdistrict WHERE id = $2)
            WHEN 'community' THEN EXISTS (SELECT 1 FROM community WHERE id = $2)
            WHEN 'unit' THEN EXISTS (SELECT 1 FROM reporting_unit WHERE id = $2)
            WHEN 'member' THEN EXISTS (SELECT 1 FROM member WHERE id = $2)
            WHEN 'provider' THEN EXISTS (SELECT 1 FROM exchange_provider WHERE id = $2)
            ELSE false
        END
        """,
        scope_kind, scope_id,
    )
    return found


async def select_scope_name(conn: Conn, *, scope_kind: str, scope_id: int) -> str | None:
    """The name of the hierarchy node, unit or member a token or account is scoped to."""
    name: str | None = await conn.fetchval(
        """
        SELECT CASE $1::text
            WHEN 'district' THEN (SELECT name FROM district WHERE id = $2)
            WHEN 'subdistrict' THEN (SELECT name FROM subdistrict WHERE id = $2)
            WHEN 'community' THEN (SELECT name FROM community WHERE id = $2)
            WHEN 'unit' THEN (SELECT name FROM reporting_unit WHERE id = $2)
            WHEN 'member' THEN (SELECT name FROM member WHERE id = $2)
            WHEN 'provider' THEN (SELECT name FROM exchange_provider WHERE id = $2)
        END
        """,
        scope_kind, scope_id,
    )
    return name


async def select_scope_path(conn: Conn, *, scope_kind: str, scope_id: int) -> HierarchyPath:
    """Where a scope node sits; ids of a node that does not exist are None.

    A member by home community and unit, a unit by the community where it is located.
    """
    row = await conn.fetchrow(
        """
        WITH node AS (
            SELECT CASE $1::text WHEN 'member' THEN $2 END AS member_id,
                   CASE $1::text WHEN 'unit' THEN $2 WHEN 'member' THEN m.unit_id END AS unit_id,
                   CASE $1::text WHEN 'community' THEN $2 WHEN 'unit' THEN u.community_id
                                 WHEN 'member' THEN m.home_community_id
                                 WHEN 'provider' THEN p.community_id END AS community_id,
                   CASE $1::text WHEN 'subdistrict' THEN $2 END AS subdistrict_id,
                   CASE $1::text WHEN 'district' THEN $2 END AS district_id
            FROM (SELECT 1) one
            LEFT JOIN member m ON $1::text = 'member' AND m.id = $2
            LEFT JOIN reporting_unit u ON $1::text = 'unit' AND u.id = $2
            LEFT JOIN exchange_provider p ON $1::text = 'provider' AND p.id = $2
        )
        SELECT n.member_id, n.unit_id, c.id AS community_id,
               coalesce(s.id, n.subdistrict_id) AS subdistrict_id,
               coalesce(s.district_id, sd.district_id, n.district_id) AS district_id
        FROM node n
        LEFT JOIN community c ON c.id = n.community_id
        LEFT JOIN subdistrict s ON s.id = c.subdistrict_id
        LEFT JOIN subdistrict sd ON sd.id = n.subdistrict_id
        """,
        scope_kind, scope_id,
    )
    return HierarchyPath(**dict(row)) if row else HierarchyPath()


# --- hierarchy -------------------------------------------------------------------------------
# Hierarchy reads filter only by district / subdistrict / community scope: a unit admin or a
# member needs the whole map to choose the community they register with.

async def select_districts(
    conn: Conn, *, scope: ScopeFilter, name: str | None, limit: int, offset: int
) -> Page[read_models.District]:
    return await _fetch_page(
        conn, read_models.District,
        """
        WITH matched AS MATERIALIZED (
            SELECT d.id FROM district d
            WHERE ($1::bigint IS NULL OR d.id = $1)
              AND ($2::bigint IS NULL OR d.id = (SELECT district_id FROM subdistrict WHERE id = $2))
              AND ($3::bigint IS NULL OR d.id = (
                    SELECT s.district_id FROM community c JOIN subdistrict s ON s.id = c.subdistrict_id
                    WHERE c.id = $3))
              AND ($4::text IS NULL OR strpos(d.name, $4) > 0)
        ), total AS (SELECT count(*) AS total FROM matched)
        SELECT total.total, p.* FROM total LEFT JOIN LATERAL (
            SELECT d.id, d.name FROM matched JOIN district d USING (id)
            ORDER BY d.id LIMIT $5 OFFSET $6
        ) p ON true
        """,
        *_area(scope), name, limit=limit, offset=offset,
    )


async def select_subdistricts(
    conn: Conn, *, scope: ScopeFilter, place: PlaceFilter, name: str | None, limit: int, offset: int
) -> Page[read_models.Subdistrict]:
    """Narrowed by district only."""
    return await _fetch_page(
        conn, read_models.Subdistrict,
        """
        WITH matched AS MATERIALIZED (
            SELECT s.id FROM subdistrict s
            WHERE ($1::bigint IS NULL OR s.district_id = $1)
              AND ($2::bigint IS NULL OR s.id = $2)
              AND ($3::bigint IS NULL OR s.id = (SELECT subdistrict_id FROM community WHERE id = $3))
              AND ($4::bigint IS NULL OR s.district_id = $4)
              AND ($5::text IS NULL OR strpos(s.name, $5) > 0)
        ), total AS (SELECT count(*) AS total FROM matched)
        SELECT total.total, p.* FROM total LEFT JOIN LATERAL (
            SELECT s.id, s.name, s.district_id FROM matched JOIN subdistrict s USING (id)
            ORDER BY s.id LIMIT $6 OFFSET $7
        ) p ON true
        """,
        *_area(scope), place.district_id, name, limit=limit, offset=offset,
    )


async def select_communities(
    conn: Conn, *, scope: ScopeFilter, place: PlaceFilter, name: str | None, limit: int, offset: int
) -> Page[read_models.Community]:
    return await _fetch_page(
        conn, read_models.Community,
        """
        WITH matched AS MATERIALIZED (
            SELECT c.id FROM community c JOIN subdistrict s ON s.id = c.subdistrict_id
            WHERE in_place(s.district_id, c.subdistrict_id, c.id, NULL, NULL, $1, $2, $3, NULL, NULL)
              AND in_place(s.district_id, c.subdistrict_id, c.id, NULL, NULL, $4, $5, $6, NULL, NULL)
              AND ($7::text IS NULL OR strpos(c.name, $7) > 0)
        ), total AS (SELECT count(*) AS total FROM matched)
        SELECT total.total, p.* FROM total LEFT JOIN LATERAL (
            SELECT c.id, c.name, c.subdistrict_id, s.district_id
            FROM matched JOIN community c USING (id) JOIN subdistrict s ON s.id = c.subdistrict_id
            ORDER BY c.id LIMIT $8 OFFSET $9
        ) p ON true
        """,
        *_area(scope), *_area(place), name, limit=limit, offset=offset,
    )


async def select_grids(
    conn: Conn, *, scope: ScopeFilter, place: PlaceFilter, name: str | None, limit: int, offset: int
) -> Page[read_models.Grid]:
    return await _fetch_page(
        conn, read_models.Grid,
        """
        WITH matched AS MATERIALIZED (
            SELECT g.id FROM grid g
            JOIN community c ON c.id = g.community_id JOIN subdistrict s ON s.id = c.subdistrict_id
            WHERE in_place(s.district_id, c.subdistrict_id, g.community_id, NULL, NULL, $1, $2, $3, NULL, NULL)
              AND in_place(s.district_id, c.subdistrict_id, g.community_id, NULL, NULL, $4, $5, $6, NULL, NULL)
              AND ($7::text IS NULL OR strpos(g.name, $7) > 0)
        ), total AS (SELECT count(*) AS total FROM matched)
        SELECT total.total, p.* FROM total LEFT JOIN LATERAL (
            SELECT g.id, g.name, g.branch_name, g.community_id,
                   ARRAY(SELECT a.neighbour_id FROM grid_adjacency a
                         WHERE a.grid_id = g.id ORDER BY a.neighbour_id) AS neighbour_ids
            FROM matched JOIN grid g USING (id)
            ORDER BY g.id LIMIT $8 OFFSET $9
        ) p ON true
        """,
        *_area(scope), *_area(place), name, limit=limit, offset=offset,
    )


# --- units and members -----------------------------------------------------------------------

async def select_units(
    conn: Conn, *, scope: ScopeFilter, place: PlaceFilter, name: str | None = None,
    status: str | None = None, limit: int, offset: int,
) -> Page[read_models.Unit]:
    """Units in scope; a member sees its own employer unit. `status` is the latest registration's."""
    return await _fetch_page(
        conn, read_models.Unit,
        """
        WITH matched AS MATERIALIZED (
            SELECT u.id FROM reporting_unit u
            LEFT JOIN community c ON c.id = u.community_id
            LEFT JOIN subdistrict s ON s.id = c.subdistrict_id
            WHERE in_place(s.district_id, c.subdistrict_id, u.community_id, u.id, NULL, $1, $2, $3, $4, NULL)
              AND ($5::bigint IS NULL OR u.id = (SELECT unit_id FROM member WHERE id = $5))
              AND in_place(s.district_id, c.subdistrict_id, u.community_id, u.id, NULL, $6, $7, $8, $9, NULL)
              AND ($10::text IS NULL OR strpos(u.name, $10) > 0)
              AND ($11::text IS NULL OR (
                    SELECT r.status FROM unit_registration r WHERE r.unit_id = u.id
                    ORDER BY r.id DESC LIMIT 1) = $11)
        ), total AS (SELECT count(*) AS total FROM matched)
        SELECT total.total, p.* FROM total LEFT JOIN LATERAL (
            SELECT u.id, u.name, u.unit_party_org, u.kind, u.community_id, c.subdistrict_id,
                   s.district_id, u.contact_name, u.contact_phone, u.created_at,
                   (SELECT count(*) FROM member m WHERE m.unit_id = u.id) AS member_count,
                   (SELECT r.status FROM unit_registration r WHERE r.unit_id = u.id
                    ORDER BY r.id DESC LIMIT 1) AS registration_status
            FROM matched JOIN reporting_unit u USING (id)
            LEFT JOIN community c ON c.id = u.community_id
            LEFT JOIN subdistrict s ON s.id = c.subdistrict_id
            ORDER BY u.id LIMIT $12 OFFSET $13
        ) p ON true
        """,
        *_scope_args(scope), *_area(place), place.unit_id, name, status, limit=limit, offset=offset,
    )


async def select_members(
    conn: Conn, *, scope: ScopeFilter, place: PlaceFilter, name: str | None = None,
    name_prefix: str | None = None, status: str | None = None, limit: int, offset: int,
) -> Page[read_models.Member]:
    """Members in scope with their latest registration; `status` filters on that registration."""
    return await _fetch_page(
        conn, read_models.Member,
        """
        WITH matched AS MATERIALIZED (
            SELECT m.id FROM member m
            LEFT JOIN community c ON c.id = m.home_community_id
            LEFT JOIN subdistrict s ON s.id = c.subdistrict_id
            WHERE in_place(s.district_id, c.subdistrict_id, m.home_community_id, m.unit_id, m.id, $1, $2, $3, $4, $5)
              AND in_place(s.district_id, c.subdistrict_id, m.home_community_id, m.unit_id, m.id,
                           $6, $7, $8, $9, $10)
              AND ($11::bigint IS NULL OR m.home_grid_id = $11)
              AND ($12::text IS NULL OR strpos(m.name, $12) > 0)
              AND ($13::text IS NULL OR starts_with(m.name, $13))
              AND ($14::text IS NULL OR (
                    SELECT r.status FROM member_registration r WHERE r.member_id = m.id
                    ORDER BY r.id DESC LIMIT 1) = $14)
        ), total AS (SELECT count(*) AS total FROM matched)
        SELECT total.total, p.* FROM total LEFT JOIN LATERAL (
            SELECT m.id, m.name, m.gender, m.phone, m.id_number, m.unit_id, u.name AS unit_name,
                   m.employer_name, m.home_community_id, m.home_grid_id, c.subdistrict_id,
                   s.district_id, m.skills, m.free_slots::int[] AS free_slots, m.created_at,
                   r.id AS registration_id, r.status AS registration_status
            FROM matched JOIN member m USING (id)
            LEFT JOIN reporting_unit u ON u.id = m.unit_id
            LEFT JOIN community c ON c.id = m.home_community_id
            LEFT JOIN subdistrict s ON s.id = c.subdistrict_id
            LEFT JOIN LATERAL (
                SELECT r.id, r.status FROM member_registration r WHERE r.member_id = m.id
                ORDER BY r.id DESC LIMIT 1
            ) r ON true
            ORDER BY m.id LIMIT $15 OFFSET $16
        ) p ON true
        """,
        *_scope_args(scope), *_area(place), place.unit_id, place.member_id, place.grid_id, name,
        name_prefix, status, limit=limit, offset=offset,
    )


# --- registrations ---------------------------------------------------------------------------

async def select_member_registrations(
    conn: Conn, *, scope: ScopeFilter, place: PlaceFilter, registration_id: int | None = None,
    name: str | None = None, status: str | None = None, limit: int, offset: int,
) -> Page[read_models.MemberRegistration]:
    """Member registrations in scope, placed by the community they register with."""
    return await _fetch_page(
        conn, read_models.MemberRegistration,
        """
        WITH matched AS MATERIALIZED (
            SELECT r.id FROM member_registration r
            JOIN member m ON m.id = r.member_id
            JOIN community c ON c.id = r.community_id
            JOIN subdistrict s ON s.id = c.subdistrict_id
            WHERE in_place(s.district_id, c.subdistrict_id, r.community_id, m.unit_id, r.member_id, $1, $2, $3, $4, $5)
              AND in_place(s.district_id, c.subdistrict_id, r.community_id, m.unit_id, r.member_id,
                           $6, $7, $8, $9, $10)
              AND ($11::bigint IS NULL OR r.grid_id = $11)
              AND ($12::bigint IS NULL OR r.id = $12)
              AND ($13::text IS NULL OR strpos(m.name, $13) > 0)
              AND ($14::text IS NULL OR r.status = $14)
        ), total AS (SELECT count(*) AS total FROM matched)
        SELECT total.total, p.* FROM total LEFT JOIN LATERAL (
            SELECT r.id, r.member_id, m.name AS member_name, m.unit_id, r.community_id, r.grid_id,
                   r.cohort_id, r.status, r.reason, r.submitted_at, r.confirmed_at, r.valid_until,
                   r.updated_at
            FROM matched JOIN member_registration r USING (id) JOIN member m ON m.id = r.member_id
            ORDER BY r.id LIMIT $15 OFFSET $16
        ) p ON true
        """,
        *_scope_args(scope), *_area(place), place.unit_id, place.member_id, place.grid_id,
        registration_id, name, status, limit=limit, offset=offset,
    )


async def select_unit_registrations(
    conn: Conn, *, scope: ScopeFilter, place: PlaceFilter, name: str | None = None,
    status: str | None = None, limit: int, offset: int,
) -> Page[read_models.UnitRegistration]:
    """Unit registrations in scope, placed by the community the unit registers with."""
    return await _fetch_page(
        conn, read_models.UnitRegistration,
        """
        WITH matched AS MATERIALIZED (
            SELECT r.id FROM unit_registration r
            JOIN reporting_unit u ON u.id = r.unit_id
            JOIN community c ON c.id = r.community_id
            JOIN subdistrict s ON s.id = c.subdistrict_id
            WHERE in_place(s.district_id, c.subdistrict_id, r.community_id, r.unit_id, NULL, $1, $2, $3, $4, NULL)
              AND ($5::bigint IS NULL OR r.unit_id = (SELECT unit_id FROM member WHERE id = $5))
              AND in_place(s.district_id, c.subdistrict_id, r.community_id, r.unit_id, NULL, $6, $7, $8, $9, NULL)
              AND ($10::text IS NULL OR strpos(u.name, $10) > 0)
              AND ($11::text IS NULL OR r.status = $11)
        ), total AS (SELECT count(*) AS total FROM matched)
        SELECT total.total, p.* FROM total LEFT JOIN LATERAL (
            SELECT r.id, r.unit_id, u.name AS unit_name, r.community_id, r.status, r.reason,
                   r.agreement_id, r.submitted_at, r.decided_at, r.valid_until
            FROM matched JOIN unit_registration r USING (id) JOIN reporting_unit u ON u.id = r.unit_id
            ORDER BY r.id LIMIT $12 OFFSET $13
        ) p ON true
        """,
        *_scope_args(scope), *_area(place), place.unit_id, name, status, limit=limit, offset=offset,
    )


async def select_registration_events(
    conn: Conn, *, registration_kind: str, registration_id: int
) -> list[read_models.RegistrationEvent]:
    rows = await conn.fetch(
        """
        SELECT id, registration_kind, registration_id, from_status, to_status, actor, reason, at
        FROM registration_event
        WHERE registration_kind = $1 AND registration_id = $2
        ORDER BY at, id
        """,
        registration_kind, registration_id,
    )
    return [read_models.RegistrationEvent.model_validate(dict(r)) for r in rows]


# --- audit -----------------------------------------------------------------------------------

async def select_audit_log(
    conn: Conn, *, scope: ScopeFilter, subject_kind: str | None, subject_id: int | None,
    actor: str | None, action: str | None, since: datetime | None = None,
    until: datetime | None = None, limit: int, offset: int,
) -> Page[read_models.AuditEntry]:
    """Newest first. A scoped reader (a district) sees the entries whose subject lies in its area:
    the subject's communities by kind (a member by home community and employer unit, a transfer
    by the member and both units), a campaign when its scope names the area. Subjects with no
    place (tokens, accounts) are seen only city-wide."""
    return await _fetch_page(
        conn, read_models.AuditEntry,
        """
        WITH matched AS MATERIALIZED (
            SELECT a.id FROM audit_log a
            WHERE ($1::text IS NULL OR a.subject_kind = $1)
              AND ($2::bigint IS NULL OR a.subject_id = $2)
              AND ($3::text IS NULL OR a.actor = $3)
              AND ($4::text IS NULL OR a.action = $4)
              AND ($5::timestamptz IS NULL OR a.at >= $5)
              AND ($6::timestamptz IS NULL OR a.at < $6)
              AND (($7::bigint IS NULL AND $8::bigint IS NULL AND $9::bigint IS NULL)
                   OR EXISTS (
                       SELECT 1 FROM (
                            SELECT community_id FROM member_registration WHERE a.subject_kind = 'member_registration' AND id = a.subject_id
                            UNION ALL SELECT community_id FROM unit_registration WHERE a.subject_kind = 'unit_registration' AND id = a.subject_id
                            UNION ALL SELECT community_id FROM task WHERE a.subject_kind = 'task' AND id = a.subject_id
                            UNION ALL SELECT community_id FROM need WHERE a.subject_kind = 'need' AND id = a.subject_id
                            UNION ALL SELECT community_id FROM service_record WHERE a.subject_kind = 'service_record' AND id = a.subject_id
                            UNION ALL SELECT community_id FROM whistle WHERE a.subject_kind = 'whistle' AND id = a.subject_id
                            UNION ALL SELECT community_id FROM reporting_unit WHERE a.subject_kind = 'reporting_unit' AND id = a.subject_id
                            UNION ALL SELECT m.home_community_id FROM member m WHERE a.subject_kind = 'member' AND m.id = a.subject_id
                            UNION ALL SELECT u.community_id FROM member m JOIN reporting_unit u ON u.id = m.unit_id
                                WHERE a.subject_kind = 'member' AND m.id = a.subject_id
                            UNION ALL SELECT m.home_community_id FROM unit_transfer t JOIN member m ON m.id = t.member_id
                                WHERE a.subject_kind = 'unit_transfer' AND t.id = a.subject_id
                            UNION ALL SELECT u.community_id FROM unit_transfer t
                                JOIN reporting_unit u ON u.id = t.from_unit_id OR u.id = t.to_unit_id
                                WHERE a.subject_kind = 'unit_transfer' AND t.id = a.subject_id
                       ) placed(community_id)
                       JOIN community c ON c.id = placed.community_id
                       JOIN subdistrict s ON s.id = c.subdistrict_id
                       WHERE in_place(s.district_id, s.id, c.id, NULL, NULL, $7, $8, $9, NULL, NULL))
                   OR (a.subject_kind = 'campaign' AND EXISTS (
                       SELECT 1 FROM campaign k WHERE k.id = a.subject_id
                         AND ($7 = ANY(k.scope_district_ids) OR $8 = ANY(k.scope_subdistrict_ids)
                              OR $9 = ANY(k.scope_community_ids)))))
        ), total AS (SELECT count(*) AS total FROM matched)
        SELECT total.total, p.* FROM total LEFT JOIN LATERAL (
            SELECT a.id, a.at, a.actor, a.action, a.subject_kind, a.subject_id, a.before, a.after
            FROM matched JOIN audit_log a USING (id)
            ORDER BY a.id DESC LIMIT $10 OFFSET $11
        ) p ON true
        """,
        subject_kind, subject_id, actor, action, since, until, *_area(scope), limit=limit, offset=offset,
    )
