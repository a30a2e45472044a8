"""Queries on reporting_unit (报到单位)."""

from __future__ import annotations

from dataclasses import dataclass

from db.pool import Conn


@dataclass(frozen=True)
class UnitRow:
    id: int
    name: str
    unit_party_org: str
    kind: str
    community_id: int | None
    contact_name: str | None
    contact_phone: str | None


async def select_units_by_name(conn: Conn, *, names: list[str]) -> dict[str, UnitRow]:
    rows = await conn.fetch(
        """
        SELECT id, name, unit_party_org, kind, community_id, contact_name, contact_phone
        FROM reporting_unit WHERE name = ANY($1::text[])
        """,
        names,
    )
    return {r["name"]: UnitRow(**dict(r)) for r in rows}


async def insert_units(
    conn: Conn,
    *,
    names: list[str],
    party_orgs: list[str],
    kinds: list[str],
    community_ids: list[int],
    contact_names: list[str | None],
    contact_phones: list[str | None],
) -> int:
    """Insert the units not yet known by name; returns how many were new."""
    inserted = await conn.fetchval(
        """
        WITH ins AS (
            INSERT INTO reporting_unit (name, unit_party_org, kind, community_id, contact_name, contact_phone)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[])
            ON CONFLICT (name) DO NOTHING RETURNING id
        ) SELECT count(*) FROM ins
        """,
        names, party_orgs, kinds, community_ids, contact_names, contact_phones,
    )
    return int(inserted)


async def select_unit(conn: Conn, *, unit_id: int) -> UnitRow | None:
    row = await conn.fetchrow(
        """
        SELECT id, name, unit_party_org, kind, community_id, contact_name, contact_phone
        FROM reporting_unit WHERE id = $1
        """,
        unit_id,
    )
    return UnitRow(**dict(row)) if row else None


async def select_unit_names(conn: Conn, *, name: str | None, exclude_id: int | None, limit: int) -> list[dict[str, object]]:
    """Units by name (contains), id and names only: what a transfer request needs to pick a target."""
    rows = await conn.fetch(
        """
        SELECT id, name, unit_party_org FROM reporting_unit
        WHERE ($1::text IS NULL OR strpos(name, $1) > 0) AND ($2::bigint IS NULL OR id <> $2)
        ORDER BY name, id LIMIT $3
        """,
        name, exclude_id, limit,
    )
    return [dict(r) for r in rows]
