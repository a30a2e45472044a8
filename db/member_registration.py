"""Queries on member_registration (个人报到), the rows the cohort workflows look after."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.pool import Conn
from domain.scope import HierarchyPath
from schemas.registration import MemberRegistrationOut

# Registration plus what scope checks and placement need: the community's place in the
# hierarchy, the member's employer unit and home grid (and the home grid's community).
_SELECT_WITH_PATH = """
    SELECT mr.id, mr.member_id, mr.community_id, mr.grid_id, mr.cohort_id, mr.status, mr.reason,
           mr.submitted_at, mr.confirmed_at, mr.valid_until, s.id AS subdistrict_id, s.district_id, m.unit_id, m.home_grid_id,
           hg.community_id AS home_grid_community_id
    FROM member_registration mr
    JOIN member m ON m.id = mr.member_id
    JOIN community c ON c.id = mr.community_id
    JOIN subdistrict s ON s.id = c.subdistrict_id
    LEFT JOIN grid hg ON hg.id = m.home_grid_id
"""


@dataclass(frozen=True, slots=True)
class PlacedRegistrationRow:
    """A registration (as the API shows it) with where it sits (its community's place in the
    hierarchy, the member and their employer unit, as scope checks read it) and the member's home
    grid (with the home grid's community)."""

    registration: MemberRegistrationOut
    path: HierarchyPath
    home_grid_id: int | None
    home_grid_community_id: int | None


def _placed(row: Any) -> PlacedRegistrationRow:
    return PlacedRegistrationRow(
        registration=MemberRegistrationOut.model_validate(dict(row)),
        path=HierarchyPath(district_id=row["district_id"], subdistrict_id=row["subdistrict_id"],
                           community_id=row["community_id"], unit_id=row["unit_id"], member_id=row["member_id"]),
        home_grid_id=row["home_grid_id"], home_grid_community_id=row["home_grid_community_id"])


async def insert_member_registration(
    conn: Conn,
    *,
    member_id: int,
    community_id: int,
    grid_id: int | None,
    cohort_id: int,
    submitted_at: datetime,
) -> MemberRegistrationOut:
    row = await conn.fetchrow(
        """
        INSERT INTO member_registration (member_id, community_id, grid_id, cohort_id, status,
                                         submitted_at, updated_at)
        VALUES ($1, $2, $3, $4, 'submitted', $5, $5)
        RETURNING id, member_id, community_id, grid_id, cohort_id, status, reason, submitted_at,
                  confirmed_at, valid_until
        """,
        member_id, community_id, grid_id, cohort_id, submitted_at,
    )
    assert row is not None
    return MemberRegistrationOut(**row)


async def select_registrations_for_update(conn: Conn, *, ids: Sequence[int]) -> list[PlacedRegistrationRow]:
    """The registrations with their hierarchy path, locked for the caller's transaction."""
    rows = await conn.fetch(
        _SELECT_WITH_PATH + " WHERE mr.id = ANY($1::bigint[]) ORDER BY mr.id FOR UPDATE OF mr",
        list(ids),
    )
    return [_placed(r) for r in rows]


async def select_open_registration_for_member(conn: Conn, *, member_id: int) -> PlacedRegistrationRow | None:
    row = await conn.fetchrow(
        _SELECT_WITH_PATH
        + " WHERE mr.member_id = $1 AND mr.status IN ('submitted', 'confirmed', 'active', 'paused')"
        + " FOR UPDATE OF mr",
        member_id,
    )
    return None if row is None else _placed(row)


async def select_registration(conn: Conn, *, registration_id: int) -> PlacedRegistrationRow | None:
    row = await conn.fetchrow(_SELECT_WITH_PATH + " WHERE mr.id = $1", registration_id)
    return None if row is None else _placed(row)


@dataclass(frozen=True, slots=True)
class MemberHomeRow:
    """Where a member lives (community, grid and the grid's community) and works."""

    id: int
    unit_id: int | None
    home_community_id: int | None
    home_grid_id: int | None
    home_grid_community_id: int | None


async def select_member_home(conn: Conn, *, member_id: int) -> MemberHomeRow | None:
    """Where a member lives and works: the defaults of a self-submitted registration."""
    row = await conn.fetchrow(
        """
        SELECT m.id, m.unit_id, m.home_community_id, m.home_grid_id,
               hg.community_id AS home_grid_community_id
        FROM member m LEFT JOIN grid hg ON hg.id = m.home_grid_id
        WHERE m.id = $1
        """,
        member_id,
    )
    return None if row is None else MemberHomeRow(**row)


async def select_grid_community_id(conn: Conn, *, grid_id: int) -> int | None:
    community_id: int | None = await conn.fetchval(
        "SELECT community_id FROM grid WHERE id = $1", grid_id
    )
    return community_id


async def update_registrations(
    conn: Conn,
    *,
    ids: Sequence[int],
    statuses: Sequence[str],
    grid_ids: Sequence[int | None],
    confirmed_ats: Sequence[datetime | None],
    valid_untils: Sequence[datetime | None],
    reasons: Sequence[str | None],
    updated_at: datetime,
) -> list[MemberRegistrationOut]:
    """Write new state for many registrations in one statement."""
    rows = await conn.fetch(
        """
        UPDATE member_registration mr
        SET status = u.status, grid_id = u.grid_id, confirmed_at = u.confirmed_at,
            valid_until = u.valid_until, reason = u.reason, updated_at = $7
        FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::timestamptz[], $5::timestamptz[],
                    $6::text[]) AS u(id, status, grid_id, confirmed_at, valid_until, reason)
        WHERE mr.id = u.id
        RETURNING mr.id, mr.member_id, mr.community_id, mr.grid_id, mr.cohort_id, mr.status,
                  mr.reason, mr.submitted_at, mr.confirmed_at, mr.valid_until
        """,
        list(ids), list(statuses), list(grid_ids), list(confirmed_ats), list(valid_untils),
        list(reasons), updated_at,
    )
    return sorted((MemberRegistrationOut(**r) for r in rows), key=lambda r: r.id)


async def select_cohort_status(conn: Conn, *, cohort_id: int) -> tuple[int, int, datetime | None]:
    """(open registrations, submitted ones, earliest valid_until of active ones)."""
    row = await conn.fetchrow(
        """
        SELECT count(*) FILTER (WHERE status IN ('submitted', 'confirmed', 'active', 'paused')) AS open,
               count(*) FILTER (WHERE status = 'submitted') AS pending,
               min(valid_until) FILTER (WHERE status = 'active') AS next_deadline
        FROM member_registration WHERE cohort_id = $1
        """,
        cohort_id,
    )
    assert row is not None
    return int(row["open"]), int(row["pending"]), row["next_deadline"]


async def lapse_due(
    conn: Conn, *, cohort_id: int, deadline: datetime, at: datetime, actor: str, reason: str
) -> int:
    """Lapse the cohort's active registrations not renewed past `deadline`, with history and audit."""
    lapsed: int = await conn.fetchval(
        """
        WITH lapsed AS (
            UPDATE member_registration SET status = 'lapsed', updated_at = $3
            WHERE cohort_id = $1 AND status = 'active' AND valid_until <= $2
            RETURNING id, valid_until
        ), ev AS (
            INSERT INTO registration_event (registration_kind, registration_id, from_status,
                                            to_status, actor, reason, at)
            SELECT 'member', id, 'active', 'lapsed', $4, $5, $3 FROM lapsed
        ), au AS (
            INSERT INTO audit_log (at, actor, action, subject_kind, subject_id, before, after)
            SELECT $3, $4, 'lapse', 'member_registration', id,
                   jsonb_build_object('status', 'active', 'valid_until', valid_until),
                   jsonb_build_object('status', 'lapsed', 'valid_until', valid_until)
            FROM lapsed
        )
        SELECT count(*) FROM lapsed
        """,
        cohort_id, deadline, at, actor, reason,
    )
    return lapsed


async def set_submitted_at(conn: Conn, *, ids: Sequence[int], submitted_ats: Sequence[datetime]) -> int:
    """Date still-submitted registrations back to when they were handed in (a roster standing for
    submissions made over past months, as the demo's history does); their `submitted` history rows
    move with them. Only registrations still `submitted` move; returns how many did."""
    moved: int = await conn.fetchval(
        """
        WITH src AS (
            SELECT * FROM unnest($1::bigint[], $2::timestamptz[]) AS s(id, at)
        ), upd AS (
            UPDATE member_registration mr SET submitted_at = src.at, updated_at = src.at
            FROM src WHERE mr.id = src.id AND mr.status = 'submitted'
            RETURNING mr.id, src.at
        ), ev AS (
            UPDATE registration_event e SET at = upd.at
            FROM upd WHERE e.registration_kind = 'member' AND e.registration_id = upd.id
              AND e.to_status = 'submitted'
        )
        SELECT count(*)::int FROM upd
        """,
        list(ids), list(submitted_ats),
    )
    return moved


async def select_first_active(conn: Conn, *, limit: int) -> list[tuple[int, int]]:
    """(member, community) of the first `limit` members with an active registration, by member id."""
    rows = await conn.fetch(
        "SELECT member_id, community_id FROM member_registration WHERE status = 'active'"
        " ORDER BY member_id LIMIT $1", limit)
    return [(int(r["member_id"]), int(r["community_id"])) for r in rows]


@dataclass(frozen=True, slots=True)
class OwnRegistrationRow:
    """One of a member's registrations with the names the phone shows."""

    id: int
    community_id: int
    community_name: str
    grid_id: int | None
    grid_name: str | None
    status: str
    reason: str | None
    submitted_at: datetime
    confirmed_at: datetime | None
    valid_until: datetime | None
    certificate_number: str | None


async def select_own_registrations(conn: Conn, *, member_id: int) -> list[OwnRegistrationRow]:
    """A member's registrations, newest first, with the community's and grid's names and the
    certificate number once one was issued."""
    rows = await conn.fetch(
        """
        SELECT mr.id, mr.community_id, c.name AS community_name, mr.grid_id, g.name AS grid_name,
               mr.status, mr.reason, mr.submitted_at, mr.confirmed_at, mr.valid_until,
               rc.number AS certificate_number
        FROM member_registration mr
        JOIN community c ON c.id = mr.community_id
        LEFT JOIN grid g ON g.id = mr.grid_id
        LEFT JOIN registration_certificate rc ON rc.registration_id = mr.id
        WHERE mr.member_id = $1
        ORDER BY mr.submitted_at DESC, mr.id DESC
        LIMIT 50
        """,
        member_id,
    )
    return [OwnRegistrationRow(**r) for r in rows]


@dataclass(frozen=True, slots=True)
class MemberHomeNamesRow:
    """Where a member lives, by id and name (all None when the member is not known)."""

    home_community_id: int | None = None
    home_community_name: str | None = None
    home_grid_id: int | None = None
    home_grid_name: str | None = None


async def select_member_home_names(conn: Conn, *, member_id: int) -> MemberHomeNamesRow | None:
    """Where a member lives, by id and name: what 我要报到 proposes."""
    row = await conn.fetchrow(
        """
        SELECT m.home_community_id, hc.name AS home_community_name, m.home_grid_id, hg.name AS home_grid_name
        FROM member m
        LEFT JOIN community hc ON hc.id = m.home_community_id
        LEFT JOIN grid hg ON hg.id = m.home_grid_id
        WHERE m.id = $1
        """,
        member_id,
    )
    return None if row is None else MemberHomeNamesRow(**row)
