"""Queries on need 需求 and the need_category catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Conn
from domain.scope import HierarchyPath
from schemas.dispatch import NeedCategory, NeedView


@dataclass(frozen=True, slots=True)
class GridPlaceRow:
    """Where a grid sits: its community, subdistrict and district."""

    grid_id: int
    community_id: int
    subdistrict_id: int
    district_id: int

    @property
    def path(self) -> HierarchyPath:
        """The place as scope checks read it."""
        return HierarchyPath(district_id=self.district_id, subdistrict_id=self.subdistrict_id,
                             community_id=self.community_id)


async def select_category(conn: Conn, *, name: str) -> NeedCategory | None:
    row = await conn.fetchrow(
        """
        SELECT name, red_hours, yellow_hours, blue_hours, category_bonus::float AS category_bonus
        FROM need_category WHERE name = $1 AND active
        """,
        name,
    )
    return None if row is None else NeedCategory(**row)


async def select_categories(conn: Conn) -> list[NeedCategory]:
    rows = await conn.fetch(
        """
        SELECT name, red_hours, yellow_hours, blue_hours, category_bonus::float AS category_bonus
        FROM need_category WHERE active ORDER BY name
        """
    )
    return [NeedCategory(**r) for r in rows]


async def select_grid_community(conn: Conn, *, grid_id: int) -> int | None:
    community_id: int | None = await conn.fetchval("SELECT community_id FROM grid WHERE id = $1", grid_id)
    return community_id


async def select_recent_same_need(
    conn: Conn, *, grid_id: int, category: str, resident_phone: str, since: datetime
) -> int | None:
    """The latest need of the same resident, category and grid since `since` (duplicate check)."""
    need_id: int | None = await conn.fetchval(
        """
        SELECT id FROM need
        WHERE grid_id = $1 AND category = $2 AND resident_phone = $3 AND created_at >= $4
          AND status <> 'rejected'
        ORDER BY created_at DESC LIMIT 1
        """,
        grid_id, category, resident_phone, since,
    )
    return need_id


async def insert_need(
    conn: Conn,
    *,
    category: str,
    community_id: int,
    grid_id: int,
    urgency: str,
    deadline_at: datetime,
    description: str,
    resident_name: str | None,
    resident_phone: str | None,
    donor_name: str | None,
    donor_anonymous: bool,
    duplicate_of: int | None,
    created_by: str,
    at: datetime,
) -> NeedView:
    row = await conn.fetchrow(
        """
        INSERT INTO need (category, community_id, grid_id, urgency, deadline_at, description,
                          resident_name, resident_phone, donor_name, donor_anonymous, duplicate_of,
                          likely_duplicate, created_by, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::bigint, $11::bigint IS NOT NULL, $12, $13, $13)
        RETURNING id, category, community_id, grid_id, urgency, deadline_at, description,
                  resident_name, resident_phone, donor_name, donor_anonymous, status, reject_reason,
                  duplicate_of, likely_duplicate, created_by, created_at
        """,
        category, community_id, grid_id, urgency, deadline_at, description, resident_name,
        resident_phone, donor_name, donor_anonymous, duplicate_of, created_by, at,
    )
    assert row is not None
    return NeedView(**row)


async def select_need(conn: Conn, *, need_id: int) -> NeedView | None:
    row = await conn.fetchrow(
        """
        SELECT id, category, community_id, grid_id, urgency, deadline_at, description,
               resident_name, resident_phone, donor_name, donor_anonymous, status, reject_reason,
               duplicate_of, likely_duplicate, created_by, created_at
        FROM need WHERE id = $1 FOR UPDATE
        """,
        need_id,
    )
    return None if row is None else NeedView(**row)


async def update_need_status(
    conn: Conn, *, need_id: int, from_statuses: list[str], status: str, reason: str | None,
    at: datetime,
) -> bool:
    """Move the need when it is in one of `from_statuses`; True when it moved."""
    moved: bool = await conn.fetchval(
        """
        WITH upd AS (
            UPDATE need SET status = $3, reject_reason = coalesce($4, reject_reason),
                            decided_at = CASE WHEN $3 IN ('verified', 'rejected') THEN $5 ELSE decided_at END,
                            verified_committed_at = CASE WHEN $3 = 'verified' THEN clock_timestamp()
                                                         ELSE verified_committed_at END,
                            updated_at = $5
            WHERE id = $1 AND status = ANY($2::text[]) RETURNING 1
        )
        SELECT EXISTS (SELECT 1 FROM upd)
        """,
        need_id, from_statuses, status, reason, at,
    )
    return moved


async def select_needs(
    conn: Conn, *, community_id: int | None, subdistrict_id: int | None, district_id: int | None,
    status: str | None, limit: int,
) -> list[NeedView]:
    """Needs within a scope (all three None: the city), newest first."""
    rows = await conn.fetch(
        """
        SELECT n.id, n.category, n.community_id, n.grid_id, n.urgency, n.deadline_at, n.description,
               n.resident_name, n.resident_phone, n.donor_name, n.donor_anonymous, n.status,
               n.reject_reason, n.duplicate_of, n.likely_duplicate, n.created_by, n.created_at
        FROM need n JOIN community c ON c.id = n.community_id JOIN subdistrict s ON s.id = c.subdistrict_id
        WHERE ($1::bigint IS NULL OR n.community_id = $1) AND ($2::bigint IS NULL OR c.subdistrict_id = $2)
          AND ($3::bigint IS NULL OR s.district_id = $3) AND ($4::text IS NULL OR n.status = $4)
        ORDER BY n.id DESC LIMIT $5
        """,
        community_id, subdistrict_id, district_id, status, limit,
    )
    return [NeedView(**r) for r in rows]


async def select_grid_place(conn: Conn, *, grid_id: int) -> GridPlaceRow | None:
    """The grid's community, subdistrict and district (scope checks for needs and tasks)."""
    row = await conn.fetchrow(
        """
        SELECT g.id AS grid_id, g.community_id, c.subdistrict_id, s.district_id
        FROM grid g JOIN community c ON c.id = g.community_id JOIN subdistrict s ON s.id = c.subdistrict_id
        WHERE g.id = $1
        """,
        grid_id,
    )
    return None if row is None else GridPlaceRow(**row)


async def insert_closed_needs(
    conn: Conn,
    *,
    categories: list[str],
    community_ids: list[int],
    grid_ids: list[int],
    urgencies: list[str],
    deadline_ats: list[datetime],
    descriptions: list[str],
    resident_names: list[str | None],
    resident_phones: list[str | None],
    donor_names: list[str | None],
    donor_anonymous: list[bool],
    created_by: list[str],
    created_ats: list[datetime],
    decided_ats: list[datetime],
    closed_ats: list[datetime],
) -> list[int]:
    """Needs after their whole life (placed, verified, turned into a task, struck off when the task
    closed), set-based, for history written after the fact; their ids in the order given."""
    rows = await conn.fetch(
        """
        INSERT INTO need (category, community_id, grid_id, urgency, deadline_at, description,
                          resident_name, resident_phone, donor_name, donor_anonymous, status,
                          created_by, created_at, decided_at, updated_at)
        SELECT category, community_id, grid_id, urgency, deadline_at, description, resident_name,
               resident_phone, donor_name, donor_anonymous, 'closed', created_by, created_at,
               decided_at, closed_at
        FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::timestamptz[], $6::text[],
                    $7::text[], $8::text[], $9::text[], $10::boolean[], $11::text[],
                    $12::timestamptz[], $13::timestamptz[], $14::timestamptz[])
             WITH ORDINALITY AS s(category, community_id, grid_id, urgency, deadline_at, description,
                                  resident_name, resident_phone, donor_name, donor_anonymous,
                                  created_by, created_at, decided_at, closed_at, ord)
        ORDER BY ord
        RETURNING id
        """,
        categories, community_ids, grid_ids, urgencies, deadline_ats, descriptions, resident_names,
        resident_phones, donor_names, donor_anonymous, created_by, created_ats, decided_ats, closed_ats,
    )
    # Identity values are drawn in insertion order, which ORDER BY ord fixes.
    return sorted(int(r["id"]) for r in rows)


# ---------------------------------------------------------------- the resident's follow link


@dataclass(frozen=True, slots=True)
class FollowedNeedRow:
    """What the follow link reads: states and dates, never the resident's name or phone."""

    id: int
    category: str
    status: str
    reject_reason: str | None
    created_at: datetime
    decided_at: datetime | None
    task_window_start: datetime | None
    task_closed_at: datetime | None


async def set_follow_token_hash(conn: Conn, *, need_id: int, token_hash: str) -> None:
    await conn.execute("UPDATE need SET follow_token_hash = $2 WHERE id = $1", need_id, token_hash)


async def select_followed_need(conn: Conn, *, token_hash: str) -> FollowedNeedRow | None:
    """The need behind a follow token, with its task's time and close (the latest task made from it)."""
    row = await conn.fetchrow(
        """
        SELECT n.id, n.category, n.status, n.reject_reason, n.created_at, n.decided_at,
               t.window_start AS task_window_start, t.closed_at AS task_closed_at
        FROM need n
        LEFT JOIN LATERAL (SELECT window_start, closed_at FROM task WHERE need_id = n.id
                           ORDER BY id DESC LIMIT 1) t ON true
        WHERE n.follow_token_hash = $1
        """,
        token_hash,
    )
    return None if row is None else FollowedNeedRow(**row)
