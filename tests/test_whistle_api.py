"""吹哨报到 through the HTTP API on the real dev server: staff blow, a summoned unit's admin sees and
answers, the community marks arrival and closes; scope rules (who sees which whistle, who may act)
and the contact phone masked for those who do not coordinate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from activities.whistle import WhistleActivities
from api.app import create_app
from db.pool import Pool
from domain import whistle as rules
from schemas.auth import Role, ScopeKind
from services.tokens import issue_token
from tests.test_whistle_workflow import WhistleCity, make_city
from workflows.whistle import WhistleWorkflow

PHONE = "13812345678"


@pytest.fixture
async def http(pool: Pool, client: Client, task_queue: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(pool=pool, temporal_client=client)
    app.state.task_queue = task_queue   # workflows started by the API run on this test's worker
    async with Worker(client, task_queue=task_queue, workflows=[WhistleWorkflow],
                      activities=WhistleActivities(pool).all()), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


async def tokens(pool: Pool, city: WhistleCity) -> dict[str, dict[str, str]]:
    who = {
        "staff": (Role.community_staff, ScopeKind.community, city.community_id),
        "staff2": (Role.community_staff, ScopeKind.community, city.community2_id),
        "sub": (Role.subdistrict, ScopeKind.subdistrict, city.subdistrict_id),
        "located": (Role.unit_admin, ScopeKind.unit, city.located),
        "paired": (Role.unit_admin, ScopeKind.unit, city.paired),
        "far": (Role.unit_admin, ScopeKind.unit, city.far),
    }
    out = {}
    async with pool.acquire() as conn:
        for name, (role, kind, scope_id) in who.items():
            if not scope_id:
                continue   # a city built without units
            _, token = await issue_token(conn, role=role, scope_kind=kind, scope_id=scope_id, label=f"测试{name}")
            out[name] = {"Authorization": f"Bearer {token}"}
        member = await conn.fetchval("INSERT INTO member (name) VALUES ('党员') RETURNING id")
        _, token = await issue_token(conn, role=Role.member, scope_kind=ScopeKind.member, scope_id=member, label="党员")
        out["member"] = {"Authorization": f"Bearer {token}"}
    return out


async def detail(http: httpx.AsyncClient, whistle_id: int, auth: dict[str, str], *, responses: int = 0) -> dict[str, Any]:
    """The whistle's detail once at least `responses` units are summoned."""
    for _ in range(100):
        r = await http.get(f"/whistles/{whistle_id}", headers=auth)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if len(body["responses"]) >= responses:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {responses} units summoned")


def ids(page: httpx.Response) -> set[int]:
    assert page.status_code == 200, page.text
    return {int(w["id"]) for w in page.json()["items"]}


async def test_a_whistle_is_blown_answered_arrived_and_closed_through_the_api(
    pool: Pool, http: httpx.AsyncClient
) -> None:
    """Staff blow; each summoned unit's admin finds the summons in the unit's inbox, sees the whistle
    and answers only for their unit; the
    community sees the contact phone, others see it masked; arrival and closing are the community's."""
    city = await make_city(pool)
    t = await tokens(pool, city)
    body = {"community_id": city.community_id, "grid_id": city.grid_id, "title": "台风过后清理倒伏树木",
            "matter": "小区主路倒伏树木 6 棵, 需锯断清运", "urgency": "yellow", "people_needed": 4,
            "respond_by": (datetime.now(UTC) + timedelta(hours=3)).isoformat(),
            "resources_needed": [{"category": "工具器械", "quantity": 3, "note": "油锯"},
                                 {"category": "车辆", "quantity": 1}]}
    assert (await http.post("/whistles", json=body, headers=t["staff2"])).status_code == 404
    assert (await http.post("/whistles", json=body, headers=t["located"])).status_code == 403
    bad = await http.post("/whistles", json={**body, "resources_needed": [{"category": "飞机"}]}, headers=t["staff"])
    assert bad.status_code == 422
    r = await http.post("/whistles", json=body, headers=t["staff"])
    assert r.status_code == 201, r.text
    whistle_id = r.json()["id"]
    assert r.json()["status"] == "summoning" and r.json()["workflow_id"] == f"whistle-{whistle_id}"
    await detail(http, whistle_id, t["staff"], responses=2)
    inbox = (await http.get("/inbox", headers=t["located"], params={"limit": 500})).json()["items"]
    assert [n["category"] for n in inbox if "台风过后清理倒伏树木" in n["title"]] == ["whistle_summoned"]

    # Who sees it: the community, its subdistrict, the summoned units; not a neighbour community,
    # not a unit that was not summoned, not a member.
    for name in ("staff", "sub", "located", "paired"):
        assert whistle_id in ids(await http.get("/whistles", headers=t[name], params={"limit": 500})), name
    for name in ("staff2", "far"):
        assert whistle_id not in ids(await http.get("/whistles", headers=t[name], params={"limit": 500})), name
        assert (await http.get(f"/whistles/{whistle_id}", headers=t[name])).status_code == 404
    assert (await http.get("/whistles", headers=t["member"])).status_code == 403
    assert whistle_id in ids(await http.get("/whistles", headers=t["staff"], params={"unit_id": city.paired}))

    answer = {"unit_id": city.located, "accept": True, "people": 3, "contact_name": "李工", "contact_phone": PHONE,
              "eta": (datetime.now(UTC) + timedelta(minutes=45)).isoformat(),
              "resources": [{"category": "工具器械", "quantity": 2}]}
    r = await http.post(f"/whistles/{whistle_id}/answer", json={**answer, "unit_id": city.paired}, headers=t["located"])
    assert r.status_code == 403
    r = await http.post(f"/whistles/{whistle_id}/answer", json={**answer, "eta": None}, headers=t["located"])
    assert r.status_code == 422
    r = await http.post(f"/whistles/{whistle_id}/answer", json=answer, headers=t["located"])
    assert r.status_code == 200, r.text
    assert r.json() == {"unit_id": city.located, "status": "answered", "people_committed": 3, "people_needed": 4}
    again = await http.post(f"/whistles/{whistle_id}/answer", json=answer, headers=t["located"])
    assert again.status_code == 409 and again.json()["message"] == rules.REFUSAL_ALREADY_ANSWERED
    decline = {"unit_id": city.paired, "accept": False, "decline_reason": "人员均在抢修线路"}
    assert (await http.post(f"/whistles/{whistle_id}/answer", json=decline, headers=t["paired"])).status_code == 200

    def contact(d: dict[str, Any]) -> str:
        return str(next(s["contact_phone"] for s in d["responses"] if s["unit_id"] == city.located))

    assert contact(await detail(http, whistle_id, t["staff"])) == PHONE
    assert contact(await detail(http, whistle_id, t["located"])) == PHONE
    assert contact(await detail(http, whistle_id, t["sub"])) == "138****5678"
    assert contact(await detail(http, whistle_id, t["paired"])) == "138****5678"

    r = await http.post(f"/whistles/{whistle_id}/arrivals", json={"unit_id": city.located}, headers=t["located"])
    assert r.status_code == 403
    r = await http.post(f"/whistles/{whistle_id}/arrivals", json={"unit_id": city.located}, headers=t["staff"])
    assert r.status_code == 200 and r.json() == {"unit_id": city.located, "people": 3, "status": "on_site"}
    assert (await http.post(f"/whistles/{whistle_id}/close", json={"summary": "已清"}, headers=t["paired"])).status_code == 403
    r = await http.post(f"/whistles/{whistle_id}/close", json={"summary": "倒伏树木已全部清运"}, headers=t["staff"])
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text

    d = await detail(http, whistle_id, t["staff"])
    assert d["whistle"]["status"] == "closed" and d["whistle"]["summary"] == "倒伏树木已全部清运"
    assert d["whistle"]["people_committed"] == 3 and d["whistle"]["units_answered"] == 1
    by_unit = {s["unit_id"]: s for s in d["responses"]}
    assert by_unit[city.located]["status"] == "arrived" and by_unit[city.located]["arrived_people"] == 3
    assert by_unit[city.paired]["decline_reason"] == "人员均在抢修线路"
    kinds = [e["kind"] for e in d["history"]]
    assert kinds[0] == "blown" and kinds[-1] == "closed" and "declined" in kinds and "arrived" in kinds
    late = await http.post(f"/whistles/{whistle_id}/answer", json={**answer, "unit_id": city.paired},
                           headers=t["paired"])
    assert late.status_code == 409


async def test_a_whistle_nobody_can_answer_is_listed_as_parked_with_its_reason(
    pool: Pool, http: httpx.AsyncClient
) -> None:
    """With no unit anywhere to summon the whistle climbs at once and is parked; the parked list
    shows it with its reason, and the community can still close it."""
    city = await make_city(pool, with_units=False)
    t = await tokens(pool, city)
    r = await http.post("/whistles", headers=t["staff"], json={
        "community_id": city.community_id, "title": "独居老人家中漏水", "matter": "需水电工上门", "people_needed": 1})
    assert r.status_code == 201, r.text
    whistle_id = r.json()["id"]
    for _ in range(100):
        page = await http.get("/whistles", headers=t["sub"], params={"status": "parked"})
        parked = [w for w in page.json()["items"] if w["id"] == whistle_id]
        if parked:
            break
        await asyncio.sleep(0.1)
    assert parked and parked[0]["level"] == "district" and "无可召集" in parked[0]["parked_reason"]
    r = await http.post(f"/whistles/{whistle_id}/close", json={"summary": "社区自行联系物业维修"}, headers=t["staff"])
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text
