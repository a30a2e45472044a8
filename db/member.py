"""Queries on member, including the set-based bulk path of a roster import.

The bulk path: rows are COPYed into a TEMP staging table, names are resolved to ids by joins
(each distinct place and unit name once, then hash joins back), problems come back as one
result set, and the good rows go into member, member_registration and registration_event with
one `INSERT ... SELECT` statement. As a superuser (the embedded stack) the per-row foreign-key
triggers of that statement are replaced by one set-based lock of the rows it points at
(lock_stage_references). The staging tables are dropped at commit; the caller owns the
transaction.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from typing import Any

from db import aggregates as aggregates_db
from db.pool import Conn

OPEN_STATUSES = ("submitted", "confirmed", "active", "paused")

STAGE_COLUMNS = (
    "row_no", "name", "gender", "phone", "id_number", "unit_name", "community_name",
    "subdistrict_name", "district_name", "grid_name", "skills", "free_slots",
)


@dataclass(frozen=True)
class MemberRow:
    """A member's employer and home, as a unit transfer reads and changes them (no personal data)."""

    id: int
    name: str
    unit_id: int | None
    employer_name: str | None
    home_community_id: int | None


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
            -- joined as the parser left them (domain.roster.MemberRecord): plain text COPYs
            -- several times cheaper than arrays; split back in resolve_member_stage
            skills           text NOT NULL,
            free_slots       text NOT NULL
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
        WITH split AS (
            SELECT row_no, name, gender, phone, id_number, unit_name, community_name,
                   subdistrict_name, district_name, grid_name,
                   string_to_array(skills, E'\\x1f') AS skills,
                   string_to_array(free_slots, ',')::smallint[] AS free_slots
            FROM roster_member_stage
        )
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
        FROM split s
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


async def fk_triggers_replaceable(conn: Conn) -> bool:
    """Whether this session may write the import's rows with the per-row FK triggers off.

    Only a superuser may set session_replication_role, and it switches off every ordinary
    trigger, so it is used only while member, member_registration and registration_event have
    no trigger of their own (the internal ones are the foreign-key checks) other than the
    maintained aggregates' (aggregate_*), which the fast path rebuilds after its statement.
    """
    allowed: bool = await conn.fetchval(
        """
        SELECT current_setting('is_superuser') = 'on'
           AND NOT EXISTS (
               SELECT 1 FROM pg_trigger
               WHERE tgrelid IN ('member'::regclass, 'member_registration'::regclass,
                                 'registration_event'::regclass)
                 AND NOT tgisinternal AND tgname NOT LIKE 'aggregate\\_%')
        """
    )
    return allowed


async def lock_stage_references(conn: Conn, *, cohort_id: int) -> bool:
    """The set-based form of the foreign-key checks of the rows the import is about to write.

    Locks FOR KEY SHARE (what each per-row FK check takes) every community, grid and unit the
    resolved rows point at, every existing member about to be registered, and the cohort, each
    once. The locks last until
    commit, so none of them can be deleted or re-keyed before the rows that point at them are
    committed. Returns False when one of them is gone (deleted since it was resolved).
    """
    intact: bool = await conn.fetchval(
        """
        WITH wanted_community AS (
            SELECT DISTINCT community_id AS id FROM roster_member_resolved
        ), wanted_grid AS (
            SELECT DISTINCT grid_id AS id FROM roster_member_resolved WHERE grid_id IS NOT NULL
        ), wanted_unit AS (
            SELECT DISTINCT unit_id AS id FROM roster_member_resolved
        ), wanted_member AS (
            -- only the existing members about to be registered (a re-import locks none)
            SELECT DISTINCT r.member_id AS id FROM roster_member_resolved r
            WHERE r.member_id IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM member_registration mr
                WHERE mr.member_id = r.member_id
                  AND mr.status IN ('submitted', 'confirmed', 'active', 'paused')
            )
        ), locked_community AS (
            SELECT id FROM community WHERE id IN (SELECT id FROM wanted_community) FOR KEY SHARE
        ), locked_grid AS (
            SELECT id FROM grid WHERE id IN (SELECT id FROM wanted_grid) FOR KEY SHARE
        ), locked_unit AS (
            SELECT id FROM reporting_unit WHERE id IN (SELECT id FROM wanted_unit) FOR KEY SHARE
        ), locked_member AS (
            SELECT id FROM member WHERE id IN (SELECT id FROM wanted_member) FOR KEY SHARE
        ), locked_cohort AS (
            SELECT id FROM registration_cohort WHERE id = $1 FOR KEY SHARE
        )
        SELECT (SELECT count(*) FROM wanted_community) = (SELECT count(*) FROM locked_community)
           AND (SELECT count(*) FROM wanted_grid) = (SELECT count(*) FROM locked_grid)
           AND (SELECT count(*) FROM wanted_unit) = (SELECT count(*) FROM locked_unit)
           AND (SELECT count(*) FROM wanted_member) = (SELECT count(*) FROM locked_member)
           AND (SELECT count(*) FROM locked_cohort) = 1
        """,
        cohort_id,
    )
    return intact


async def insert_members_and_registrations_from_stage(
    conn: Conn, *, cohort_id: int, actor: str, reason: str, references_locked: bool
) -> tuple[int, int]:
    """Insert the new members and submit their registrations; returns (members, registrations).

    Every resolved row whose ID number is new becomes a member; every new member, and every
    existing one without an open registration, gets a registration in `submitted` in the home
    community (home grid proposed) with its first status-history row. Members that already
    have an open registration are left as they are (so a second import of the same file is a
    no-op). One statement: the new members' ids and places come from the RETURNING of their
    insert, so nothing is joined back by ID number.

    `references_locked`: lock_stage_references returned True in this transaction, so the
    per-row FK triggers are switched off for this one statement. They would only re-check, one
    row at a time, references just resolved and locked; on a 1,000,000-row import they are more
    than half the time of the writes. Constraints, unique indexes and NOT NULLs stay on.
    Otherwise (any role) the FK triggers run, and the maintained aggregates' statement triggers
    skip this statement (db.aggregates.bulk_statements); the tables they feed are rebuilt once
    after it, in this transaction (db.aggregates.settle). The caller owns the transaction.
    """
    # set_config(..., true) is transaction-local: an error rolls it back with the statement.
    if references_locked:
        await conn.execute("SELECT set_config('session_replication_role', 'replica', true)")
    else:
        # The ordinary path (any role): FK triggers on, the aggregates' statement triggers skipped
        # and their tables rebuilt once below, before this transaction commits. What the skipped
        # registration trigger would have locked first, locked here: the existing members about to
        # be registered (a concurrent writer of their registrations then waits for this commit
        # before it reads their state); new members are nobody else's until then.
        await conn.execute(
            """
            SELECT count(*) FROM (
                SELECT 1 FROM member WHERE id IN (
                    SELECT r.member_id FROM roster_member_resolved r
                    WHERE r.member_id IS NOT NULL AND NOT EXISTS (
                        SELECT 1 FROM member_registration mr
                        WHERE mr.member_id = r.member_id
                          AND mr.status IN ('submitted', 'confirmed', 'active', 'paused')))
                ORDER BY id FOR NO KEY UPDATE) locked
            """
        )
    async with contextlib.nullcontext() if references_locked else aggregates_db.bulk_statements(conn):
        row = await conn.fetchrow(
            """
            WITH new_member AS (
                INSERT INTO member (name, gender, phone, id_number, unit_id, employer_name,
                                    home_community_id, home_grid_id, skills, free_slots)
                SELECT name, gender, phone, id_number, unit_id, unit_name, community_id, grid_id,
                       skills, free_slots
                FROM roster_member_resolved
                WHERE member_id IS NULL
                -- in ID-number order the unique index grows at its right edge (and member ids
                -- follow, so do the registration indexes on member_id): ~10% less index work
                ORDER BY id_number
                ON CONFLICT (id_number) DO NOTHING
                RETURNING id, home_community_id, home_grid_id
            ), registered AS (
                INSERT INTO member_registration (member_id, community_id, grid_id, cohort_id, status)
                SELECT id, home_community_id, home_grid_id, $1::bigint, 'submitted' FROM new_member
                UNION ALL
                SELECT r.member_id, r.community_id, r.grid_id, $1::bigint, 'submitted'
                FROM roster_member_resolved r
                WHERE r.member_id IS NOT NULL AND NOT EXISTS (
                    SELECT 1 FROM member_registration mr
                    WHERE mr.member_id = r.member_id
                      AND mr.status IN ('submitted', 'confirmed', 'active', 'paused')
                )
                ON CONFLICT (member_id) WHERE status IN ('submitted', 'confirmed', 'active', 'paused')
                DO NOTHING
                RETURNING id
            ), history AS (
                INSERT INTO registration_event (registration_kind, registration_id, from_status,
                                                to_status, actor, reason)
                SELECT 'member', id, NULL, 'submitted', $2, $3 FROM registered
            )
            SELECT (SELECT count(*) FROM new_member) AS members,
                   (SELECT count(*) FROM registered) AS registrations
            """,
            cohort_id, actor, reason,
        )
    if references_locked:
        await conn.execute("SELECT set_config('session_replication_role', 'origin', true)")
        await aggregates_db.rebuild(conn)   # the aggregates' triggers were off with the FK checks
    else:
        await aggregates_db.settle(conn)    # only the tables the skipped triggers feed
    assert row is not None
    members, submitted = int(row["members"]), int(row["registrations"])
    if submitted:
        await conn.execute("UPDATE registration_cohort SET size = $2 WHERE id = $1", cohort_id, submitted)
    return members, submitted


async def select_member_for_update(conn: Conn, *, member_id: int) -> MemberRow | None:
    """The member, locked for the caller's transaction (a unit transfer changes the employer)."""
    row = await conn.fetchrow(
        """
        SELECT id, name, unit_id, employer_name, home_community_id FROM member WHERE id = $1 FOR UPDATE
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
        RETURNING m.id, m.name, m.unit_id, m.employer_name, m.home_community_id
        """,
        member_id, unit_id,
    )
    return MemberRow(**dict(row)) if row else None


async def select_home_place(conn: Conn, *, member_id: int) -> tuple[int, int] | None:
    """(community, district) where a member lives, or None for an unknown member."""
    row = await conn.fetchrow(
        "SELECT m.home_community_id, s.district_id FROM member m JOIN community c ON c.id = m.home_community_id"
        " JOIN subdistrict s ON s.id = c.subdistrict_id WHERE m.id = $1",
        member_id,
    )
    return None if row is None else (int(row["home_community_id"]), int(row["district_id"]))
