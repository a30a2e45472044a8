"""Queries on member, including the set-based bulk path of a roster import.

The bulk path: rows are COPYed into a TEMP staging table, names are resolved to ids by joins
(each distinct place and unit name once, then hash joins back), problems come back as one
result set, and the good rows go into member, member_registration and registration_event with
`INSERT ... SELECT`. The staging tables are dropped at commit; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from typing import Any

from db.pool import Conn

OPEN_STATUSES = ("submitted", "confirmed", "active", "paused")

STAGE_COLUMNS = (
    "row_no", "name", "gender", "phone", "id_number", "unit_name", "community_name",
    "subdistrict_name", "district_name", "grid_name", "skills", "free_slots",
)


@dataclass(frozen=True)
class MemberRow:
    id: int
    name: str
    gender: str | None
    phone: str | None
    id_number: str | None
    unit_id: int | None
    employer_name: str | None
    home_community_id: int | None
    home_grid_id: int | None
    skills: list[str]
    free_slots: list[int]


@dataclass(frozen=True)
class StageProblem:
    """A staged row that cannot be imported, and which of the joins failed for it."""

    row_no: int
    community_matches: int
    grid_missing: bool
    unit_missing: bool
    differs: bool
    out_of_scope: bool
    community_name: str
    subdistrict_name: str
    district_name: str
    grid_name: str
    unit_name: str


async def select_member(conn: Conn, *, member_id: int) -> MemberRow | None:
    row = await conn.fetchrow(
        """
        SELECT id, name, gender, phone, id_number, unit_id, employer_name, home_community_id,
               home_grid_id, skills, free_slots
        FROM member WHERE id = $1
        """,
        member_id,
    )
    return MemberRow(**dict(row)) if row else None


async def select_member_by_id_number(conn: Conn, *, id_number: str) -> MemberRow | None:
    row = await conn.fetchrow(
        """
        SELECT id, name, gender, phone, id_number, unit_id, employer_name, home_community_id,
               home_grid_id, skills, free_slots
        FROM member WHERE id_number = $1
        """,
        id_number,
    )
    return MemberRow(**dict(row)) if row else None


async def create_member_stage(conn: Conn) -> None:
    """The TEMP staging table of one import; it disappears at commit or rollback."""
    await conn.execute(
        """
        CREATE TEMP TABLE roster_member_stage (
            row_no           integer NOT NULL,
            name             text NOT NULL,
            gender           text,
            phone            text NOT NULL,
            id_number        text NOT NULL,
            unit_name        text NOT NULL,
            community_name   text NOT NULL,
            subdistrict_name text NOT NULL,   -- '' when the file has no 街道 (hashable, unlike NULL)
            district_name    text NOT NULL,
            grid_name        text NOT NULL,
            skills           text[] NOT NULL,
            free_slots       smallint[] NOT NULL
        ) ON COMMIT DROP
        """
    )


async def copy_member_stage(
    conn: Conn, *, records: Iterable[tuple[Any, ...]] | AsyncIterable[tuple[Any, ...]]
) -> None:
    """COPY rows (in STAGE_COLUMNS order) into the staging table."""
    await conn.copy_records_to_table("roster_member_stage", records=records, columns=STAGE_COLUMNS)


async def resolve_member_stage(conn: Conn) -> None:
    """Resolve community, grid, unit and existing member for every staged row (one temp table).

    Distinct place names are resolved once (a city has thousands of communities, a roster a
    million rows), then hash-joined back. A community name matching several communities
    (same name in two 街道) counts its matches so the row can ask for the 街道.
    """
    # TEMP tables are never auto-analyzed; without statistics the planner guesses a few rows
    # and picks nested loops, which on a million rows take minutes instead of seconds.
    await conn.execute("ANALYZE roster_member_stage")
    await conn.execute(
        """
        CREATE TEMP TABLE roster_place ON COMMIT DROP AS
        WITH wanted AS (
            SELECT DISTINCT community_name, subdistrict_name, district_name FROM roster_member_stage
        )
        SELECT w.community_name, w.subdistrict_name, w.district_name,
               count(c.id)::int AS matches, min(c.id) AS community_id,
               min(sd.id) AS subdistrict_id, min(sd.district_id) AS district_id
        FROM wanted w
        LEFT JOIN (community c
                   JOIN subdistrict sd ON sd.id = c.subdistrict_id
                   JOIN district d ON d.id = sd.district_id)
          ON c.name = w.community_name
         AND (w.subdistrict_name = '' OR sd.name = w.subdistrict_name)
         AND (w.district_name = '' OR d.name = w.district_name)
        GROUP BY w.community_name, w.subdistrict_name, w.district_name
        """
    )
    await conn.execute("ANALYZE roster_place")
    await conn.execute(
        """
        CREATE TEMP TABLE roster_member_resolved ON COMMIT DROP AS
        SELECT s.row_no, s.name, s.gender, s.phone, s.id_number, s.unit_name, s.community_name,
               s.subdistrict_name, s.district_name, s.grid_name, s.skills, s.free_slots,
               p.matches, p.community_id, p.subdistrict_id, p.district_id,
               g.id AS grid_id, u.id AS unit_id, m.id AS member_id,
               (m.id IS NOT NULL AND
                (m.name, m.gender, m.phone, m.unit_id, m.home_community_id, m.home_grid_id,
                 m.skills, m.free_slots)
                IS DISTINCT FROM
                (s.name, s.gender, s.phone, u.id, p.community_id, g.id, s.skills, s.free_slots)
               ) AS differs
        FROM roster_member_stage s
        JOIN roster_place p
          ON p.community_name = s.community_name AND p.subdistrict_name = s.subdistrict_name
         AND p.district_name = s.district_name
        LEFT JOIN grid g ON p.matches = 1 AND g.community_id = p.community_id AND g.name = s.grid_name
        LEFT JOIN reporting_unit u ON u.name = s.unit_name
        LEFT JOIN member m ON m.id_number = s.id_number
        """
    )
    await conn.execute("ANALYZE roster_member_resolved")


async def select_stage_problems(
    conn: Conn,
    *,
    scope_kind: str,
    scope_id: int | None,
) -> list[StageProblem]:
    """Every resolved row that cannot be imported, in row order.

    scope_kind is one of city / district / subdistrict / community / unit: a row outside the
    actor's part of the hierarchy is a problem of that row.
    """
    rows = await conn.fetch(
        """
        SELECT row_no, matches AS community_matches,
               (matches = 1 AND grid_name <> '' AND grid_id IS NULL) AS grid_missing,
               (unit_id IS NULL) AS unit_missing,
               differs,
               (matches = 1 AND NOT CASE $1::text
                    WHEN 'city' THEN true
                    WHEN 'district' THEN district_id = $2
                    WHEN 'subdistrict' THEN subdistrict_id = $2
                    WHEN 'community' THEN community_id = $2
                    WHEN 'unit' THEN unit_id IS NOT DISTINCT FROM $2
                    ELSE false END) AS out_of_scope,
               community_name, subdistrict_name, district_name, grid_name, unit_name
        FROM roster_member_resolved
        WHERE matches <> 1
           OR (grid_name <> '' AND grid_id IS NULL)
           OR unit_id IS NULL
           OR differs
           OR NOT CASE $1::text
                    WHEN 'city' THEN true
                    WHEN 'district' THEN district_id = $2
                    WHEN 'subdistrict' THEN subdistrict_id = $2
                    WHEN 'community' THEN community_id = $2
                    WHEN 'unit' THEN unit_id IS NOT DISTINCT FROM $2
                    ELSE false END
        ORDER BY row_no
        LIMIT 100000
        """,
        scope_kind, scope_id,
    )
    return [StageProblem(**dict(r)) for r in rows]


async def insert_members_from_stage(conn: Conn) -> int:
    """Insert the resolved rows whose ID number is new; returns how many."""
    status = await conn.execute(
        """
        INSERT INTO member (name, gender, phone, id_number, unit_id, employer_name,
                            home_community_id, home_grid_id, skills, free_slots)
        SELECT name, gender, phone, id_number, unit_id, unit_name, community_id, grid_id,
               skills, free_slots
        FROM roster_member_resolved
        WHERE member_id IS NULL
        ON CONFLICT (id_number) DO NOTHING
        """
    )
    return int(status.rsplit(" ", 1)[1])


async def insert_registrations_from_stage(conn: Conn, *, cohort_id: int, actor: str, reason: str) -> int:
    """Submit a registration in the home community for every staged member without an open one.

    The home grid is the proposed grid. Members that already have an open registration are
    left as they are (that is what makes a second import of the same file a no-op). Each new
    registration gets its first status-history row. Returns how many were submitted.
    """
    # One statement: the history rows come from the RETURNING of the registrations, so the
    # new rows are not read back.
    submitted: int = await conn.fetchval(
        """
        WITH registered AS (
            INSERT INTO member_registration (member_id, community_id, grid_id, cohort_id, status)
            SELECT m.id, r.community_id, r.grid_id, $1, 'submitted'
            FROM roster_member_resolved r
            JOIN member m ON m.id_number = r.id_number
            WHERE NOT EXISTS (
                SELECT 1 FROM member_registration mr
                WHERE mr.member_id = m.id AND mr.status IN ('submitted', 'confirmed', 'active', 'paused')
            )
            ON CONFLICT (member_id) WHERE status IN ('submitted', 'confirmed', 'active', 'paused')
            DO NOTHING
            RETURNING id
        ), history AS (
            INSERT INTO registration_event (registration_kind, registration_id, from_status, to_status,
                                            actor, reason)
            SELECT 'member', id, NULL, 'submitted', $2, $3 FROM registered
        )
        SELECT count(*) FROM registered
        """,
        cohort_id, actor, reason,
    )
    if submitted:
        await conn.execute("UPDATE registration_cohort SET size = $2 WHERE id = $1", cohort_id, submitted)
    return submitted


async def select_member_for_update(conn: Conn, *, member_id: int) -> MemberRow | None:
    """The member, locked for the caller's transaction (a unit transfer changes the employer)."""
    row = await conn.fetchrow(
        """
        SELECT id, name, gender, phone, id_number, unit_id, employer_name, home_community_id,
               home_grid_id, skills, free_slots
        FROM member WHERE id = $1 FOR UPDATE
        """,
        member_id,
    )
    return MemberRow(**dict(row)) if row else None


async def update_member_unit(conn: Conn, *, member_id: int, unit_id: int) -> MemberRow | None:
    """Move the member to another employer unit; the employer name follows the unit's name."""
    row = await conn.fetchrow(
        """
        UPDATE member m SET unit_id = u.id, employer_name = u.name
        FROM reporting_unit u WHERE m.id = $1 AND u.id = $2
        RETURNING m.id, m.name, m.gender, m.phone, m.id_number, m.unit_id, m.employer_name,
                  m.home_community_id, m.home_grid_id, m.skills, m.free_slots
        """,
        member_id, unit_id,
    )
    return MemberRow(**dict(row)) if row else None
