"""Seed data for the registration tests: a small city with committed rows (workflows read them).

Collected by pytest but defines no tests; the registration test modules import from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from db.member_registration import insert_member_registration
from db.pool import Conn
from db.registration_cohort import create_cohort
from tests import places
from tests.conftest import unique
from tests.waiting import until


@dataclass
class City:
    district_id: int
    subdistrict_id: int
    communities: list[int]
    grids: dict[int, int]            # community -> a grid in it
    units: list[int]
    members: list[int] = field(default_factory=list)


async def seed_city(conn: Conn, *, communities: int = 2, units: int = 1) -> City:
    """A district with one street, `communities` communities each with one grid, and units."""
    tag = unique()
    district_id = await places.add_district(conn)
    subdistrict_id = await places.add_subdistrict(conn, district_id, f"街道{tag}")
    city = City(district_id, subdistrict_id, [], {}, [])
    for i in range(communities):
        community_id = await places.add_community(conn, subdistrict_id, f"社区{tag}-{i}")
        city.communities.append(community_id)
        city.grids[community_id] = await places.add_grid(conn, community_id, f"网格{i}")
    for i in range(units):
        city.units.append(await places.add_unit(conn, f"单位{tag}-{i}", party_org=f"党支部{tag}-{i}",
                                                community_id=city.communities[0]))
    return city


async def add_member(conn: Conn, city: City, *, community_index: int = 0, unit_index: int | None = 0,
                     with_grid: bool = True) -> int:
    community_id = city.communities[community_index]
    member_id = await places.add_member(
        conn, community_id=community_id, grid_id=city.grids[community_id] if with_grid else None,
        unit_id=None if unit_index is None else city.units[unit_index])
    city.members.append(member_id)
    return member_id


async def import_cohort(conn: Conn, city: City, member_ids: list[int], *, at: datetime) -> tuple[int, list[int]]:
    """What the roster importer does: one cohort, one `submitted` registration per member."""
    cohort_id = await create_cohort(conn, source="import", size=len(member_ids))
    ids = []
    for member_id in member_ids:
        home = await conn.fetchrow("SELECT home_community_id, home_grid_id FROM member WHERE id = $1", member_id)
        assert home is not None
        row = await insert_member_registration(
            conn, member_id=member_id, community_id=home["home_community_id"], grid_id=home["home_grid_id"],
            cohort_id=cohort_id, submitted_at=at,
        )
        ids.append(row.id)
    return cohort_id, ids


async def reminders(conn: Conn, subject: tuple[str, str, int]) -> list[dict[str, Any]]:
    """Reminder rows of one (ladder, subject_kind, subject_id), in the order they were sent."""
    ladder, subject_kind, subject_id = subject
    rows = await conn.fetch(
        """SELECT cycle, step, recipient_kind, recipient_id FROM reminder
           WHERE ladder = $1 AND subject_kind = $2 AND subject_id = $3 ORDER BY id""",
        ladder, subject_kind, subject_id,
    )
    return [dict(r) for r in rows]


async def reminders_sent(conn: Conn, subject: tuple[str, str, int], count: int) -> list[dict[str, Any]]:
    """The reminder rows of `subject` once there are `count` of them (the workflow sends them a
    moment after its timer fires)."""
    return await until(lambda: reminders(conn, subject), lambda rows: len(rows) == count)
