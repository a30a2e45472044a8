"""The rows a test city is built from: one home for the raw inserts every test city needs.

Each test module builds the small city its story needs (two communities with a neighbouring grid,
units located here and there...) out of these blocks, so the SQL for a district, a grid or a
member is written once. Names are made unique so tests sharing the session database stay apart.
"""

from __future__ import annotations

from datetime import datetime

from db.pool import Conn
from tests.conftest import unique


async def add_district(conn: Conn, name: str = "区") -> int:
    district_id: int = await conn.fetchval("INSERT INTO district (name) VALUES ($1) RETURNING id", unique(name))
    return district_id


async def add_subdistrict(conn: Conn, district_id: int, name: str = "街道") -> int:
    subdistrict_id: int = await conn.fetchval(
        "INSERT INTO subdistrict (district_id, name) VALUES ($1, $2) RETURNING id", district_id, name)
    return subdistrict_id


async def add_community(conn: Conn, subdistrict_id: int, name: str = "社区") -> int:
    community_id: int = await conn.fetchval(
        "INSERT INTO community (subdistrict_id, name) VALUES ($1, $2) RETURNING id", subdistrict_id, name)
    return community_id


async def add_grid(conn: Conn, community_id: int, name: str = "网格", *, branch_name: str | None = None) -> int:
    grid_id: int = await conn.fetchval(
        "INSERT INTO grid (community_id, name, branch_name) VALUES ($1, $2, $3) RETURNING id",
        community_id, name, branch_name)
    return grid_id


async def adjoin(conn: Conn, grid_a: int, grid_b: int) -> None:
    """Make two grids neighbours (adjacency is stored both ways)."""
    await conn.execute("INSERT INTO grid_adjacency VALUES ($1, $2), ($2, $1)", grid_a, grid_b)


async def add_unit(conn: Conn, name: str, *, community_id: int | None, party_org: str | None = None,
                   contact_name: str | None = None, contact_phone: str | None = None) -> int:
    """A reporting unit located in `community_id` (None: located outside the city's communities)."""
    unit_id: int = await conn.fetchval(
        """INSERT INTO reporting_unit (name, unit_party_org, community_id, contact_name, contact_phone)
           VALUES ($1, $2, $3, $4, $5) RETURNING id""",
        name, party_org or f"{name}党支部", community_id, contact_name, contact_phone)
    return unit_id


async def add_member(conn: Conn, *, community_id: int, grid_id: int | None, unit_id: int | None = None,
                     free_slots: list[int] | None = None, name: str = "党员", phone: str | None = None) -> int:
    """A member living in `community_id` (placed in `grid_id`), employed by `unit_id`."""
    member_id: int = await conn.fetchval(
        """INSERT INTO member (name, unit_id, home_community_id, home_grid_id, free_slots, phone)
           VALUES ($1, $2, $3, $4, coalesce($5, '{}'::smallint[]), $6) RETURNING id""",
        unique(name), unit_id, community_id, grid_id, free_slots, phone)
    return member_id


async def register_member(conn: Conn, member_id: int, *, community_id: int, grid_id: int | None,
                          status: str = "active", confirmed_at: datetime | None = None) -> int:
    """A member registration with `community_id` in `status`, confirmed at `confirmed_at` if given."""
    registration_id: int = await conn.fetchval(
        """INSERT INTO member_registration (member_id, community_id, grid_id, status, confirmed_at)
           VALUES ($1, $2, $3, $4, $5) RETURNING id""",
        member_id, community_id, grid_id, status, confirmed_at)
    return registration_id
