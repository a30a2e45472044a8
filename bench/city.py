"""The benches' one home for seeding a city: its places and units through the product's bulk
paths (db/hierarchy.py and db/reporting_unit.py, as a roster import writes them), and the rest
by COPY (CSV built from generators, so a 1,000,000-row table never sits in memory as rows)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from db import hierarchy as hierarchy_db
from db import reporting_unit as unit_db
from db.pool import Conn

# Rows per COPY: bounds the CSV buffer a seeder holds at once.
COPY_CHUNK = 200_000


@dataclass(frozen=True, slots=True)
class City:
    """What a seeder needs of the places it made, in creation order."""

    district_ids: list[int]
    subdistrict_ids: list[int]
    community_ids: list[int]
    grids: list[tuple[int, int]]   # (grid id, its community's id)
    unit_ids: list[int]


async def copy_csv(conn: Conn, table: str, columns: list[str], rows: Iterable[str]) -> None:
    """COPY CSV lines (each ending in a newline) into `table`, COPY_CHUNK lines at a time."""
    lines = iter(rows)
    while chunk := list(islice(lines, COPY_CHUNK)):
        await conn.copy_to_table(table, source=io.BytesIO("".join(chunk).encode("utf-8")),
                                 columns=columns, format="csv")


async def reset_sequences(conn: Conn, tables: Iterator[str] | list[str]) -> None:
    """Move each table's id sequence past the ids a COPY wrote explicitly."""
    for table in tables:
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")  # noqa: S608


async def seed_places(
    conn: Conn, *, districts: int, subdistricts_per_district: int, communities_per_subdistrict: int,
    grids_per_community: int, units: int, district_names: list[str] | None = None,
) -> City:
    """Districts 区1.., subdistricts 街道1.., communities 社区1.. (community i in subdistrict
    i // communities_per_subdistrict), grids 网格1.. (every seventh without a branch name) and units
    单位1.. located round-robin in the communities."""
    names = district_names or [f"区{d}" for d in range(1, districts + 1)]
    by_district, _ = await hierarchy_db.upsert_districts(conn, names=names)
    sub_keys = [(by_district[names[s // subdistricts_per_district]], f"街道{s + 1}")
                for s in range(districts * subdistricts_per_district)]
    by_sub, _ = await hierarchy_db.upsert_subdistricts(
        conn, district_ids=[d for d, _ in sub_keys], names=[n for _, n in sub_keys])
    communities = len(sub_keys) * communities_per_subdistrict
    community_keys = [(by_sub[sub_keys[c // communities_per_subdistrict]], f"社区{c + 1}")
                      for c in range(communities)]
    by_community, _ = await hierarchy_db.upsert_communities(
        conn, subdistrict_ids=[s for s, _ in community_keys], names=[n for _, n in community_keys])
    community_ids = [by_community[key] for key in community_keys]
    grid_keys = [(community_ids[g // grids_per_community], f"网格{g + 1}")
                 for g in range(communities * grids_per_community)]
    by_grid, _ = await hierarchy_db.upsert_grids(
        conn, community_ids=[c for c, _ in grid_keys], names=[n for _, n in grid_keys],
        branch_names=[None if (g + 1) % 7 == 0 else f"支部{g + 1}" for g in range(len(grid_keys))])
    unit_names = [f"单位{u}" for u in range(1, units + 1)]
    await unit_db.insert_units(
        conn, names=unit_names, party_orgs=[f"单位党组织{u}" for u in range(1, units + 1)],
        kinds=["agency"] * units, community_ids=[community_ids[u % communities] for u in range(units)],
        contact_names=[None] * units, contact_phones=[None] * units)
    by_unit = await unit_db.select_units_by_name(conn, names=unit_names)
    return City(district_ids=[by_district[n] for n in names], subdistrict_ids=[by_sub[k] for k in sub_keys],
                community_ids=community_ids, grids=[(by_grid[key], key[0]) for key in grid_keys],
                unit_ids=[by_unit[n].id for n in unit_names])
