"""Queries on the hierarchy: district → subdistrict → community → grid, and grid adjacency.

The bulk upserts take arrays (one round trip per level) and return the ids of every name they
were given, new or old, so a roster import resolves names without a query per row.
"""

from __future__ import annotations

from dataclasses import dataclass

from db.pool import Conn
from domain.scope import HierarchyPath


@dataclass(frozen=True)
class PlaceRow:
    """A community with its ancestors (community fields None for a subdistrict without any)."""

    district_id: int
    district_name: str
    subdistrict_id: int | None
    subdistrict_name: str | None
    community_id: int | None
    community_name: str | None


@dataclass(frozen=True)
class GridRow:
    id: int
    name: str
    branch_name: str | None
    community_id: int
    subdistrict_id: int
    district_id: int


async def select_places(conn: Conn) -> list[PlaceRow]:
    """Every district, subdistrict and community with its ancestors' names."""
    rows = await conn.fetch(
        """
        SELECT d.id AS district_id, d.name AS district_name,
               sd.id AS subdistrict_id, sd.name AS subdistrict_name,
               c.id AS community_id, c.name AS community_name
        FROM district d
        LEFT JOIN subdistrict sd ON sd.district_id = d.id
        LEFT JOIN community c ON c.subdistrict_id = sd.id
        ORDER BY d.id, sd.id, c.id
        """
    )
    return [PlaceRow(**dict(r)) for r in rows]


async def select_grids(conn: Conn) -> list[GridRow]:
    """Every grid with its community, subdistrict and district ids."""
    rows = await conn.fetch(
        """
        SELECT g.id, g.name, g.branch_name, g.community_id, c.subdistrict_id, sd.district_id
        FROM grid g
        JOIN community c ON c.id = g.community_id
        JOIN subdistrict sd ON sd.id = c.subdistrict_id
        ORDER BY g.id
        """
    )
    return [GridRow(**dict(r)) for r in rows]


async def upsert_districts(conn: Conn, *, names: list[str]) -> tuple[dict[str, int], int]:
    """(name → id for every name, how many were new)."""
    inserted = await conn.fetchval(
        """
        WITH ins AS (
            INSERT INTO district (name) SELECT DISTINCT unnest($1::text[])
            ON CONFLICT (name) DO NOTHING RETURNING id
        ) SELECT count(*) FROM ins
        """,
        names,
    )
    rows = await conn.fetch("SELECT id, name FROM district WHERE name = ANY($1::text[])", names)
    return {r["name"]: r["id"] for r in rows}, int(inserted)


async def upsert_subdistricts(
    conn: Conn, *, district_ids: list[int], names: list[str]
) -> tuple[dict[tuple[int, str], int], int]:
    """((district_id, name) → id for every pair given, how many were new)."""
    inserted = await conn.fetchval(
        """
        WITH ins AS (
            INSERT INTO subdistrict (district_id, name)
            SELECT DISTINCT * FROM unnest($1::bigint[], $2::text[])
            ON CONFLICT (district_id, name) DO NOTHING RETURNING id
        ) SELECT count(*) FROM ins
        """,
        district_ids, names,
    )
    rows = await conn.fetch(
        """
        SELECT s.id, s.district_id, s.name FROM subdistrict s
        JOIN unnest($1::bigint[], $2::text[]) AS want(district_id, name)
          ON want.district_id = s.district_id AND want.name = s.name
        """,
        district_ids, names,
    )
    return {(r["district_id"], r["name"]): r["id"] for r in rows}, int(inserted)


async def upsert_communities(
    conn: Conn, *, subdistrict_ids: list[int], names: list[str]
) -> tuple[dict[tuple[int, str], int], int]:
    """((subdistrict_id, name) → id for every pair given, how many were new)."""
    inserted = await conn.fetchval(
        """
        WITH ins AS (
            INSERT INTO community (subdistrict_id, name)
            SELECT DISTINCT * FROM unnest($1::bigint[], $2::text[])
            ON CONFLICT (subdistrict_id, name) DO NOTHING RETURNING id
        ) SELECT count(*) FROM ins
        """,
        subdistrict_ids, names,
    )
    rows = await conn.fetch(
        """
        SELECT c.id, c.subdistrict_id, c.name FROM community c
        JOIN unnest($1::bigint[], $2::text[]) AS want(subdistrict_id, name)
          ON want.subdistrict_id = c.subdistrict_id AND want.name = c.name
        """,
        subdistrict_ids, names,
    )
    return {(r["subdistrict_id"], r["name"]): r["id"] for r in rows}, int(inserted)


async def upsert_grids(
    conn: Conn, *, community_ids: list[int], names: list[str], branch_names: list[str | None]
) -> tuple[dict[tuple[int, str], int], int]:
    """((community_id, name) → id for every pair given, how many were new).

    An existing grid keeps its branch name unless the file names one (a blank cell never
    erases what is recorded).
    """
    inserted = await conn.fetchval(
        """
        WITH ins AS (
            INSERT INTO grid (community_id, name, branch_name)
            SELECT DISTINCT ON (community_id, name) * FROM unnest($1::bigint[], $2::text[], $3::text[])
                AS t(community_id, name, branch_name)
            ON CONFLICT (community_id, name) DO UPDATE SET branch_name = EXCLUDED.branch_name
                WHERE EXCLUDED.branch_name IS NOT NULL
                  AND grid.branch_name IS DISTINCT FROM EXCLUDED.branch_name
            RETURNING (xmax = 0) AS is_new
        ) SELECT count(*) FILTER (WHERE is_new) FROM ins
        """,
        community_ids, names, branch_names,
    )
    rows = await conn.fetch(
        """
        SELECT g.id, g.community_id, g.name FROM grid g
        JOIN unnest($1::bigint[], $2::text[]) AS want(community_id, name)
          ON want.community_id = g.community_id AND want.name = g.name
        """,
        community_ids, names,
    )
    return {(r["community_id"], r["name"]): r["id"] for r in rows}, int(inserted)


async def insert_grid_adjacency(conn: Conn, *, grid_ids: list[int], neighbour_ids: list[int]) -> int:
    """Store each pair in both directions (lookups are one index scan); returns rows added."""
    inserted = await conn.fetchval(
        """
        WITH pairs AS (
            SELECT a, b FROM unnest($1::bigint[], $2::bigint[]) AS t(a, b) WHERE a <> b
        ), ins AS (
            INSERT INTO grid_adjacency (grid_id, neighbour_id)
            SELECT DISTINCT a, b FROM (SELECT a, b FROM pairs UNION SELECT b, a FROM pairs) both_ways
            ON CONFLICT DO NOTHING RETURNING 1
        ) SELECT count(*) FROM ins
        """,
        grid_ids, neighbour_ids,
    )
    return int(inserted)


async def select_neighbour_ids(conn: Conn, *, grid_id: int) -> list[int]:
    rows = await conn.fetch(
        "SELECT neighbour_id FROM grid_adjacency WHERE grid_id = $1 ORDER BY neighbour_id", grid_id
    )
    return [r["neighbour_id"] for r in rows]


@dataclass(frozen=True, slots=True)
class GridLabelRow:
    """A grid's own and its community's names (what a resident sees after scanning a code)."""

    grid_name: str
    community_id: int
    community_name: str


async def select_grid_label(conn: Conn, *, grid_id: int) -> GridLabelRow | None:
    row = await conn.fetchrow(
        """
        SELECT g.name AS grid_name, c.id AS community_id, c.name AS community_name
        FROM grid g JOIN community c ON c.id = g.community_id WHERE g.id = $1
        """,
        grid_id,
    )
    return None if row is None else GridLabelRow(**row)


async def select_community_path(conn: Conn, *, community_id: int) -> HierarchyPath | None:
    """Where a community sits (its subdistrict and district), for scope checks; None if there is none."""
    row = await conn.fetchrow(
        """
        SELECT c.id AS community_id, c.subdistrict_id, s.district_id
        FROM community c JOIN subdistrict s ON s.id = c.subdistrict_id WHERE c.id = $1
        """,
        community_id,
    )
    return None if row is None else HierarchyPath(**row)
