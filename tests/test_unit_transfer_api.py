"""Transfer between employer units 转单位 through the API: the happy path, the Chinese refusals,
and the scope rules (a unit sees only requests leaving it or addressed to it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from db.pool import Pool
from schemas.auth import SYSTEM_ACTOR, Role, ScopeKind
from services import registration as member_service
from services.tokens import issue_token
from tests.api_fixtures import api_http_fixture  # noqa: F401
from tests.test_registration_seed import City, add_member, import_cohort, seed_city
from tests.test_unit_transfer_workflow import transfer_titles


@dataclass
class World:
    """A committed city of its own: communities c0, c1; units u0, u1, u2; member m0 (lives in c0,
    works in u0, registration active) and m1 (lives in c1, works in u1, registration submitted)."""

    city: City
    other_city: City
    m0: int
    m1: int
    registrations: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


async def build_world(pool: Pool) -> World:
    async with pool.acquire() as conn, conn.transaction():
        city = await seed_city(conn, communities=2, units=3)
        other = await seed_city(conn, communities=1, units=1)
        m0 = await add_member(conn, city, community_index=0, unit_index=0)
        m1 = await add_member(conn, city, community_index=1, unit_index=1)
        await conn.execute("UPDATE member SET phone = '13812345678', name = '张三丰' || id WHERE id = $1", m0)
        await conn.execute("UPDATE grid SET branch_name = '第一网格党支部' WHERE id = $1",
                           city.grids[city.communities[0]])
        _, (r0, r1) = await import_cohort(conn, city, [m0, m1], at=datetime.now(UTC))
        world = World(city, other, m0, m1, {"m0": r0, "m1": r1})
        actors = {
            "unit0": (Role.unit_admin, ScopeKind.unit, city.units[0]),
            "unit1": (Role.unit_admin, ScopeKind.unit, city.units[1]),
            "unit2": (Role.unit_admin, ScopeKind.unit, city.units[2]),
            "staff0": (Role.community_staff, ScopeKind.community, city.communities[0]),
            "staff1": (Role.community_staff, ScopeKind.community, city.communities[1]),
            "member0": (Role.member, ScopeKind.member, m0),
            "member1": (Role.member, ScopeKind.member, m1),
            "org_city": (Role.org_department, ScopeKind.city, None),
            "org_district": (Role.org_department, ScopeKind.district, city.district_id),
            "org_other": (Role.org_department, ScopeKind.district, other.district_id),
        }
        for name, (role, kind, scope_id) in actors.items():
            _, world.tokens[name] = await issue_token(conn, role=role, scope_kind=kind, scope_id=scope_id,
                                                      label=f"转单位测试{name}")
    async with pool.acquire() as conn:
        await member_service.confirm_registrations(conn, SYSTEM_ACTOR, [world.registrations["m0"]])
    return world


async def _start(http: httpx.AsyncClient, world: World, actor: str, member_id: int, to_unit: int,
                 **extra: object) -> httpx.Response:
    return await http.post("/unit-transfers", headers=world.auth(actor),
                           json={"member_id": member_id, "to_unit_id": to_unit, **extra})


async def test_unit_admin_asks_target_accepts_member_moves_registration_stays(
    api_http: httpx.AsyncClient, pool: Pool
) -> None:
    """u0's admin asks, u1's admin accepts: the member works at u1, the community registration is
    untouched, the audit keeps before/after, all three are told, and u1's statistics count them."""
    world = await build_world(pool)
    u0, u1 = world.city.units[0], world.city.units[1]
    resp = await _start(api_http, world, "unit0", world.m0, u1, note="调入新单位")
    assert resp.status_code == 201, resp.text
    transfer = resp.json()
    assert (transfer["status"], transfer["from_unit_id"], transfer["to_unit_id"]) == ("pending", u0, u1)
    assert await transfer_titles(pool, "unit", u1) == ["转单位申请待确认"]

    resp = await api_http.post(f"/unit-transfers/{transfer['id']}/accept", headers=world.auth("unit0"))
    assert resp.status_code == 403 and "转入单位" in resp.json()["message"]
    resp = await api_http.post(f"/unit-transfers/{transfer['id']}/accept", headers=world.auth("unit1"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "accepted" and resp.json()["decided_by"].startswith("unit_admin:")

    async with pool.acquire() as conn:
        member = await conn.fetchrow("SELECT unit_id, employer_name FROM member WHERE id = $1", world.m0)
        unit1_name = await conn.fetchval("SELECT name FROM reporting_unit WHERE id = $1", u1)
        registration = await conn.fetchrow("SELECT status, community_id FROM member_registration WHERE id = $1",
                                           world.registrations["m0"])
        audit = await conn.fetchrow("SELECT before, after FROM audit_log WHERE subject_kind = 'member'"
                                    " AND subject_id = $1 AND action = 'member.unit_transfer'", world.m0)
    assert member is not None and registration is not None
    assert (member["unit_id"], member["employer_name"]) == (u1, unit1_name)
    assert (registration["status"], registration["community_id"]) == ("active", world.city.communities[0])
    assert audit is not None
    assert (audit["before"]["unit_id"], audit["after"]["unit_id"]) == (u0, u1)
    assert audit["after"]["employer_name"] == unit1_name
    assert await transfer_titles(pool, "unit", u0) == ["转单位已完成"]
    assert await transfer_titles(pool, "unit", u1) == ["转单位申请待确认", "转单位已完成"]
    assert await transfer_titles(pool, "member", world.m0) == ["转单位已完成"]

    stats = await api_http.get("/statistics/registration", params={"level": "unit"}, headers=world.auth("unit1"))
    assert stats.status_code == 200
    [row] = [i for i in stats.json()["items"] if i["id"] == u1]
    assert (row["members"], row["active"]) == (2, 1)  # m1 (submitted) and now m0 (active)
    stats = await api_http.get("/statistics/registration", params={"level": "unit"}, headers=world.auth("unit0"))
    assert [i for i in stats.json()["items"] if i["id"] == u0 and i["members"] > 0] == []


async def test_refusals_are_chinese_and_fitting(api_http: httpx.AsyncClient, pool: Pool) -> None:
    """Same unit, unknown unit, a second pending request, an actor out of scope, community staff,
    a refusal without a reason and a decision on a closed request are each refused in Chinese."""
    world = await build_world(pool)
    u0, u1, u2 = world.city.units
    same = await _start(api_http, world, "unit0", world.m0, u0)
    assert same.status_code == 409 and "无需转单位" in same.json()["message"]
    unknown = await _start(api_http, world, "unit0", world.m0, 2**62)
    assert unknown.status_code == 404 and "不存在" in unknown.json()["message"]
    foreign = await _start(api_http, world, "unit2", world.m0, u1)
    assert foreign.status_code == 404 and foreign.json() == {**unknown.json(), "message": foreign.json()["message"]}
    assert foreign.json()["message"] == f"党员 {world.m0} 不存在"
    staff = await _start(api_http, world, "staff0", world.m0, u1)
    assert staff.status_code == 403 and "党员本人" in staff.json()["message"]
    other_district = await _start(api_http, world, "org_other", world.m0, u1)
    assert other_district.status_code == 404 and other_district.json() == foreign.json()
    first = await _start(api_http, world, "unit0", world.m0, u1)
    assert first.status_code == 201
    second = await _start(api_http, world, "member0", world.m0, u2)
    assert second.status_code == 409 and "待处理" in second.json()["message"]
    tid = first.json()["id"]
    blank = await api_http.post(f"/unit-transfers/{tid}/refuse", headers=world.auth("unit1"), json={"reason": " "})
    assert blank.status_code == 422 and "原因" in blank.json()["message"]
    refused = await api_http.post(f"/unit-transfers/{tid}/refuse", headers=world.auth("unit1"),
                                  json={"reason": "编制已满"})
    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    assert refused.json()["decision_reason"] == "编制已满"
    assert await transfer_titles(pool, "member", world.m0) == ["转单位申请被拒绝"]
    late = await api_http.post(f"/unit-transfers/{tid}/accept", headers=world.auth("unit1"))
    assert late.status_code == 409 and "已被拒绝" in late.json()["message"]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT unit_id FROM member WHERE id = $1", world.m0) == u0


async def test_org_department_decides_in_one_step_others_may_not(api_http: httpx.AsyncClient, pool: Pool) -> None:
    """An organization department moves a member at once (`decide_now`); a unit admin asking for
    the same is refused, and no pending request is left behind."""
    world = await build_world(pool)
    u1, u2 = world.city.units[1], world.city.units[2]
    refused = await _start(api_http, world, "unit1", world.m1, u2, decide_now=True)
    assert refused.status_code == 403 and "组织部门" in refused.json()["message"]
    done = await _start(api_http, world, "org_district", world.m1, u2, decide_now=True)
    assert done.status_code == 201, done.text
    assert done.json()["status"] == "accepted"
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT unit_id FROM member WHERE id = $1", world.m1) == u2
    assert await transfer_titles(pool, "unit", u1) == ["转单位已完成"]


async def test_member_asks_and_withdraws(api_http: httpx.AsyncClient, pool: Pool) -> None:
    """A member asks for their own move and withdraws it; the target unit is told it was withdrawn
    and the target cannot withdraw it for them."""
    world = await build_world(pool)
    u2 = world.city.units[2]
    resp = await _start(api_http, world, "member0", world.m0, u2)
    assert resp.status_code == 201
    tid = resp.json()["id"]
    assert (await api_http.post(f"/unit-transfers/{tid}/cancel", headers=world.auth("unit2"))).status_code == 403
    resp = await api_http.post(f"/unit-transfers/{tid}/cancel", headers=world.auth("member0"), json={"reason": "不去了"})
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    assert await transfer_titles(pool, "unit", u2) == ["转单位申请待确认", "转单位申请已撤回"]


async def test_scope_of_reads_and_actions(api_http: httpx.AsyncClient, pool: Pool) -> None:
    """A unit admin sees requests leaving or reaching their unit only; an unrelated unit, another
    community's staff, another member and another district get 404 on the item and nothing in lists."""
    world = await build_world(pool)
    u0, u1, u2 = world.city.units
    tid = (await _start(api_http, world, "unit0", world.m0, u1)).json()["id"]
    for actor in ("unit0", "unit1", "staff0", "member0", "org_city", "org_district"):
        item = await api_http.get(f"/unit-transfers/{tid}", headers=world.auth(actor))
        assert item.status_code == 200, (actor, item.text)
        listed = await api_http.get("/unit-transfers", headers=world.auth(actor), params={"limit": 500})
        assert tid in {i["id"] for i in listed.json()["items"]}, actor
    for actor in ("unit2", "staff1", "member1", "org_other"):
        item = await api_http.get(f"/unit-transfers/{tid}", headers=world.auth(actor))
        assert item.status_code == 404 and item.json()["code"] == "not_found", actor
        listed = await api_http.get("/unit-transfers", headers=world.auth(actor), params={"limit": 500})
        assert tid not in {i["id"] for i in listed.json()["items"]}, actor
    for action in ("accept", "cancel"):
        resp = await api_http.post(f"/unit-transfers/{tid}/{action}", headers=world.auth("unit2"))
        assert resp.status_code == 404, action
    resp = await api_http.post(f"/unit-transfers/{tid}/refuse", headers=world.auth("unit2"), json={"reason": "x"})
    assert resp.status_code == 404
    # A filter naming another unit cannot widen a unit's scope.
    listed = await api_http.get("/unit-transfers", headers=world.auth("unit2"), params={"unit_id": u0})
    assert listed.json()["items"] == [] and listed.json()["total"] == 0
    pending = await api_http.get("/unit-transfers", headers=world.auth("unit1"), params={"status": "pending"})
    assert [i["id"] for i in pending.json()["items"]] == [tid]
    del u2


async def test_target_units_by_name_for_those_who_may_ask(api_http: httpx.AsyncClient, pool: Pool) -> None:
    """The request form's unit lookup: names contain the text, a unit admin's own unit is left out,
    only id, name and party organisation are given; staff who cannot ask are refused."""
    world = await build_world(pool)
    u0, u1, u2 = world.city.units
    async with pool.acquire() as conn:
        names = {r["id"]: r["name"] for r in await conn.fetch(
            "SELECT id, name FROM reporting_unit WHERE id = ANY($1::bigint[])", [u0, u1, u2])}
    resp = await api_http.get("/unit-transfers/target-units", headers=world.auth("unit0"),
                              params={"name": names[u1], "limit": 50})
    assert resp.status_code == 200, resp.text
    assert [u["id"] for u in resp.json()] == [u1]
    assert set(resp.json()[0]) == {"id", "name", "unit_party_org"}
    own = await api_http.get("/unit-transfers/target-units", headers=world.auth("unit0"),
                             params={"name": names[u0]})
    assert own.json() == []
    by_org = await api_http.get("/unit-transfers/target-units", headers=world.auth("org_city"),
                                params={"name": names[u0]})
    assert [u["id"] for u in by_org.json()] == [u0]
    refused = await api_http.get("/unit-transfers/target-units", headers=world.auth("staff0"))
    assert refused.status_code == 403 and "申请转单位" in refused.json()["message"]


async def test_routes_need_a_token(api_http: httpx.AsyncClient) -> None:
    """Without a bearer token every transfer route answers 401."""
    assert (await api_http.get("/unit-transfers")).status_code == 401
    assert (await api_http.post("/unit-transfers", json={"member_id": 1, "to_unit_id": 2})).status_code == 401
    assert (await api_http.post("/unit-transfers/1/accept")).status_code == 401
