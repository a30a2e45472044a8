"""Personal data: phone and ID number in full only for the member's own community, unit and self."""

from __future__ import annotations

import httpx
import pytest

from db.pool import Pool
from domain.pii import mask_id_number
from domain.privacy import may_see_personal_data
from domain.scope import HierarchyPath
from schemas.auth import Actor, Role, ScopeKind
from tests.api_fixtures import (  # noqa: F401
    A1_PHONE,
    ApiCity,
    api_city_fixture,
    api_http_fixture,
)


@pytest.mark.parametrize(
    ("actor", "full"),
    [("org_city", False), ("org_d1", False), ("sub_s1", False), ("staff_a", True),
     ("unit_a", True), ("member_a1", True)],
)
async def test_member_phone_masked_unless_entitled(
    api_http: httpx.AsyncClient, api_city: ApiCity, actor: str, full: bool
) -> None:
    """org_department and subdistrict see 138****5678; a1's community, unit and a1 see it whole."""
    a1 = api_city.members["a1"]
    resp = await api_http.get(f"/members/{a1.id}", headers=api_city.auth(actor))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    if full:
        assert body["phone"] == A1_PHONE
        assert body["id_number"] == a1.id_number
    else:
        assert body["phone"] == "138****5678"
        assert body["id_number"] == mask_id_number(a1.id_number)


async def test_unit_admin_sees_full_data_only_of_own_employees(
    api_http: httpx.AsyncClient, api_city: ApiCity
) -> None:
    """Unit B's admin sees its employees in full (a2 living in A, b1 living in B) and nothing of
    anyone else's employees, not even b2 who lives in B: absent from the list, 404 by id."""
    resp = await api_http.get("/members", headers=api_city.auth("unit_b"), params={"limit": 500})
    by_id = {i["id"]: i for i in resp.json()["items"]}
    for key in ("a2", "b1"):
        assert by_id[api_city.members[key].id]["phone"] == api_city.members[key].phone
    for key in ("a1", "a3", "b2"):
        other = api_city.members[key]
        assert other.id not in by_id
        one = await api_http.get(f"/members/{other.id}", headers=api_city.auth("unit_b"))
        assert one.status_code == 404 and other.phone not in one.text


async def test_list_masks_for_org_department(api_http: httpx.AsyncClient, api_city: ApiCity) -> None:
    """The member list shown to a district organization department never carries a full number."""
    resp = await api_http.get("/members", headers=api_city.auth("org_d1"), params={"limit": 500})
    phones = {m.phone for m in api_city.members.values()}
    assert resp.json()["items"]
    for item in resp.json()["items"]:
        assert item["phone"] not in phones
        assert "****" in item["phone"]


def test_privacy_rule_requires_matching_scope() -> None:
    """Community staff of another community, or a member looking at someone else, are not entitled."""
    path = HierarchyPath(community_id=1, unit_id=2, member_id=3)
    other_staff = Actor(role=Role.community_staff, scope_kind=ScopeKind.community, scope_id=9, label="x")
    other_member = Actor(role=Role.member, scope_kind=ScopeKind.member, scope_id=4, label="x")
    city = Actor(role=Role.org_department, scope_kind=ScopeKind.city, label="x")
    assert not may_see_personal_data(other_staff, path)
    assert not may_see_personal_data(other_member, path)
    assert not may_see_personal_data(city, path)
    assert may_see_personal_data(
        Actor(role=Role.unit_admin, scope_kind=ScopeKind.unit, scope_id=2, label="x"), path
    )


async def test_unit_contact_phone_masked_outside_unit_and_community(
    api_http: httpx.AsyncClient, api_city: ApiCity
) -> None:
    """A unit's contact phone is full for its community's staff and its admin, masked for others."""
    unit_a = api_city.unit["A"]
    for actor, expected in [("staff_a", "13900001111"), ("unit_a", "13900001111"),
                            ("org_city", "139****1111"), ("sub_s1", "139****1111")]:
        resp = await api_http.get(f"/units/{unit_a}", headers=api_city.auth(actor))
        assert resp.json()["contact_phone"] == expected, actor


async def test_audit_snapshots_are_masked(
    api_http: httpx.AsyncClient, api_city: ApiCity, pool: Pool
) -> None:
    """Phone and ID numbers inside audit before/after snapshots reach the reader masked."""
    a1 = api_city.members["a1"]
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO audit_log (actor, action, subject_kind, subject_id, before, after)"
            " VALUES ('test', 'member.update', 'member', $1, $2, $3)",
            a1.id, {"phone": a1.phone}, {"note": f"证件 {a1.id_number}", "ids": [a1.phone]},
        )
    resp = await api_http.get(
        "/audit", headers=api_city.auth("org_city"),
        params={"subject_kind": "member", "subject_id": a1.id},
    )
    entry = resp.json()["items"][0]
    assert entry["before"] == {"phone": "138****5678"}
    assert a1.id_number not in str(entry["after"]) and a1.phone not in str(entry["after"])
