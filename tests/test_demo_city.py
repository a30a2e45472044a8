"""The demo city generator: big enough, well formed, and the same for the same seed."""

from __future__ import annotations

import re
from collections import Counter

from demo.city import FULL, SMALL, generate_city, id_check_digit

_PHONE = re.compile(r"^1[3-9]\d{9}$")


def test_full_city_meets_the_demo_sizes() -> None:
    """The full demo city has at least 2 districts, 6 subdistricts, 30 communities, 300 grids,
    200 units and 5,000 members."""
    city = generate_city(7, FULL)
    assert len(city.districts) >= 2
    assert len(city.subdistricts) >= 6
    assert len(city.communities) >= 30
    assert len(city.grids) >= 300
    assert len(city.units) >= 200
    assert len(city.members) >= 5000


def test_adjacency_is_symmetric_and_every_grid_has_a_neighbour() -> None:
    """Grid adjacency holds both directions, no self-loops, and no grid is isolated."""
    city = generate_city(7, FULL)
    for a, b in city.adjacency:
        assert a != b
        assert (b, a) in city.adjacency
    assert {a for a, _ in city.adjacency} == set(range(len(city.grids)))
    crossing = [(a, b) for a, b in city.adjacency if city.grids[a].community != city.grids[b].community]
    assert crossing, "some grids border a grid of another community"


def test_people_have_valid_and_distinct_identifiers() -> None:
    """Every ID number has a correct GB 11643 check digit and matching gender digit; IDs and phones
    are unique and phones are valid mainland mobile numbers."""
    city = generate_city(11, FULL)
    for m in city.members:
        assert len(m.id_number) == 18
        assert m.id_number[17] == id_check_digit(m.id_number[:17])
        assert (int(m.id_number[16]) % 2 == 1) == (m.gender == "男")
        assert _PHONE.match(m.phone)
        assert city.grids[m.home_grid].community == m.home_community
        assert m.skills and m.free_slots and all(0 <= s < 21 for s in m.free_slots)
    assert len({m.id_number for m in city.members}) == len(city.members)
    assert len({m.phone for m in city.members} | {u.contact_phone for u in city.units}) == len(
        city.members
    ) + len(city.units)


def test_names_are_unique_where_the_schema_requires_it() -> None:
    """Unit and community names are unique city-wide, grid names per subdistrict."""
    city = generate_city(3, FULL)
    assert len({u.name for u in city.units}) == len(city.units)
    assert len({c.name for c in city.communities}) == len(city.communities)
    subdistrict_of = [c.subdistrict for c in city.communities]
    assert max(Counter((subdistrict_of[g.community], g.name) for g in city.grids).values()) == 1


def test_known_check_digit() -> None:
    """The check digit matches the worked example of GB 11643 (11010519491231002X)."""
    assert id_check_digit("11010519491231002") == "X"


def test_same_seed_same_city_other_seed_other_city() -> None:
    """Generation is deterministic for a seed and differs across seeds."""
    assert generate_city(5, SMALL) == generate_city(5, SMALL)
    assert generate_city(5, SMALL).members != generate_city(6, SMALL).members
