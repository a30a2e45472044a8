"""Dispatch through the HTTP API on the real dev server: need → verify → task → offer → accept →
scan → rate → verify → points, with role and scope refusals on the way."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from activities.dispatch import DispatchActivities
from db.pool import Pool
from domain import task_rules
from schemas.auth import Role, ScopeKind
from tests.api_fixtures import api_http_fixture, bearer  # noqa: F401 - the api_http fixture
from tests.test_dispatch_workflow import add_member, make_city
from workflows.task import TaskWorkflow


async def test_a_need_flows_to_points_through_the_api(pool: Pool, client: Client, api_http: httpx.AsyncClient,
                                                      task_queue: str) -> None:
    """A verified need becomes a task; the offered member accepts, scans in and out, the resident's
    rating and the community's verification credit points; refusals come back as 409/403 in Chinese."""
    city = await make_city(pool)
    member = await add_member(pool, city, grid_id=city.grid_id)
    outsider = await add_member(pool, city, grid_id=city.far_grid_id, community_id=city.other_community_id)
    staff = await bearer(pool, Role.community_staff, ScopeKind.community, city.community_id)
    other_staff = await bearer(pool, Role.community_staff, ScopeKind.community, city.other_community_id)
    me = await bearer(pool, Role.member, ScopeKind.member, member)
    them = await bearer(pool, Role.member, ScopeKind.member, outsider)

    need = {"category": "助老助残", "grid_id": city.grid_id, "urgency": "red", "description": "独居老人需陪同就医",
            "resident_name": "王大爷", "resident_phone": "13911112222"}
    r = await api_http.post("/needs", json=need, headers=staff)
    assert r.status_code == 201, r.text
    need_id = r.json()["id"]
    assert r.json()["likely_duplicate"] is False
    again = await api_http.post("/needs", json=need, headers=staff)
    assert again.json()["likely_duplicate"] is True and again.json()["duplicate_of"] == need_id
    assert (await api_http.post("/needs", json=need, headers=other_staff)).status_code == 404   # as if absent
    r = await api_http.post(f"/needs/{need_id}/decision", json={"approve": True}, headers=staff)
    assert r.json()["status"] == "verified"

    start = datetime.now(UTC) + timedelta(days=1)
    async with Worker(client, task_queue=task_queue, workflows=[TaskWorkflow],
                      activities=DispatchActivities(pool).all()):
        r = await api_http.post("/tasks", headers=staff, json={
            "need_id": need_id, "title": "陪同就医", "headcount": 1, "window_start": start.isoformat(),
            "window_end": (start + timedelta(hours=2)).isoformat(), "place": "3号楼"})
        assert r.status_code == 201, r.text
        task_id, token = r.json()["task"]["id"], r.json()["qr_token"]
        offers: list[dict[str, object]] = []
        for _ in range(100):
            # until the offer is made the task is not the member's: 404, like any task of others
            seen = await api_http.get(f"/tasks/{task_id}/offers", headers=me)
            assert seen.status_code in (200, 404), seen.text
            offers = seen.json() if seen.status_code == 200 else []
            if offers:
                break
            await asyncio.sleep(0.1)
        assert offers and offers[0]["member_id"] == member and "proximity" in offers[0]["score_parts"]  # type: ignore[operator]

        fit = (await api_http.get(f"/tasks/{task_id}/fit/{outsider}", headers=staff)).json()
        assert fit["eligible"] is False and "未在本社区报到" in fit["reasons"] and fit["offers"] == []
        fit = (await api_http.get(f"/tasks/{task_id}/fit/{member}", headers=me)).json()
        assert fit["eligible"] is True and fit["offers"][0]["wave"] == 1
        # a task not offered to a member, not theirs, not claimable by them: as if it did not exist
        missing = await api_http.get(f"/tasks/{2**62}", headers=them)
        for resp in (await api_http.get(f"/tasks/{task_id}", headers=them),
                     await api_http.get(f"/tasks/{task_id}/fit/{outsider}", headers=them),
                     await api_http.get(f"/tasks/{task_id}/fit/{member}", headers=them),
                     await api_http.post(f"/tasks/{task_id}/answer", json={"member_id": outsider, "accept": True},
                                     headers=them)):
            assert resp.status_code == 404 and resp.json()["code"] == missing.json()["code"] == "not_found"
            assert resp.json()["message"] == f"任务 {task_id} 不存在"
        assert (await api_http.get(f"/tasks/{task_id}", headers=me)).status_code == 200
        r = await api_http.post(f"/tasks/{task_id}/answer", json={"member_id": outsider, "accept": True}, headers=me)
        assert r.status_code == 403
        r = await api_http.post(f"/tasks/{task_id}/answer", json={"member_id": member, "accept": True}, headers=me)
        assert r.status_code == 200 and r.json()["status"] == "accepted", r.text

        r = await api_http.post(f"/tasks/{task_id}/check-in", json={"member_id": member, "token": "wrong"}, headers=me)
        assert r.status_code == 409 and r.json()["message"] == task_rules.REFUSAL_BAD_TOKEN
        r = await api_http.post(f"/tasks/{task_id}/check-in", json={"member_id": member, "token": token}, headers=me)
        assert r.json()["status"] == "checked_in", r.text
        rows = (await api_http.get("/ledger", params={"grid_id": city.grid_id}, headers=staff)).json()
        assert [row["task_id"] for row in rows] == [task_id] and rows[0]["holders"] == [member]
        assert (await api_http.get("/ledger", headers=me)).json()[0]["task_id"] == task_id
        r = await api_http.post(f"/tasks/{task_id}/check-out", headers=me,
                            json={"member_id": member, "token": token, "report": "已送回家"})
        assert r.json()["status"] == "checked_out", r.text

        for _ in range(100):
            r = await api_http.post(f"/tasks/{task_id}/rating", json={"score": 5, "comment": "很满意"}, headers=staff)
            if r.status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert r.status_code == 200 and r.json()["follow_up"] is False, r.text
        r = await api_http.post(f"/tasks/{task_id}/verify", json={"note": "已核实"}, headers=staff)
        assert r.status_code == 200 and r.json()["points_credited"] == 1, r.text
        handle = client.get_workflow_handle(f"task-{task_id}")
        await handle.result()

    rows = (await api_http.get("/ledger", params={"grid_id": city.grid_id, "status": "closed"}, headers=staff)).json()
    assert [row["task_id"] for row in rows] == [task_id]
    history = (await api_http.get(f"/tasks/{task_id}/history", headers=staff)).json()
    kinds = [h["kind"] for h in history]
    assert kinds[0] == "created" and "offer_accepted" in kinds and "checked_out" in kinds
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT status FROM need WHERE id = $1", need_id) == "closed"
        assert await conn.fetchval("SELECT count(*) FROM evaluation_points WHERE task_id = $1", task_id) == 1


async def test_members_find_and_claim_open_tasks_and_needs_are_listed_by_scope(
    pool: Pool, client: Client, api_http: httpx.AsyncClient, task_queue: str
) -> None:
    """A claim-mode task shows up for members registered in its community, a claim takes a slot,
    and the need list follows the staff member's scope with the phone masked above the community."""
    city = await make_city(pool)
    member = await add_member(pool, city, grid_id=city.grid_id)
    outsider = await add_member(pool, city, grid_id=city.far_grid_id, community_id=city.other_community_id)
    staff = await bearer(pool, Role.community_staff, ScopeKind.community, city.community_id)
    street = await bearer(pool, Role.subdistrict, ScopeKind.subdistrict, city.subdistrict_id)
    other_staff = await bearer(pool, Role.community_staff, ScopeKind.community, city.other_community_id)
    me = await bearer(pool, Role.member, ScopeKind.member, member)
    them = await bearer(pool, Role.member, ScopeKind.member, outsider)

    r = await api_http.post("/needs", headers=staff, json={
        "category": "物资微心愿", "grid_id": city.grid_id, "description": "想要一台收音机",
        "resident_phone": "13955556666", "donor_name": "张三", "donor_anonymous": True})
    need_id = r.json()["id"]
    mine = (await api_http.get("/needs", headers=staff)).json()
    assert need_id in [n["id"] for n in mine]
    seen = [n for n in (await api_http.get("/needs", headers=street)).json() if n["id"] == need_id]
    assert seen and seen[0]["resident_phone"] == "139****6666" and seen[0]["donor_name"] == "匿名爱心人士"
    assert need_id not in [n["id"] for n in (await api_http.get("/needs", headers=other_staff)).json()]

    start = datetime.now(UTC) + timedelta(days=1)
    async with Worker(client, task_queue=task_queue, workflows=[TaskWorkflow],
                      activities=DispatchActivities(pool).all()):
        r = await api_http.post("/tasks", headers=staff, json={
            "grid_id": city.grid_id, "category": "文明创建", "title": "文明劝导岗", "mode": "post",
            "headcount": 2, "window_start": start.isoformat(),
            "window_end": (start + timedelta(hours=3)).isoformat()})
        assert r.status_code == 201, r.text
        task_id = r.json()["task"]["id"]
        for _ in range(100):
            listed = (await api_http.get("/tasks/claimable", headers=me)).json()
            if task_id in [t["id"] for t in listed]:
                break
            await asyncio.sleep(0.1)
        assert task_id in [t["id"] for t in listed]
        assert task_id not in [t["id"] for t in (await api_http.get("/tasks/claimable", headers=them)).json()]
        r = await api_http.post(f"/tasks/{task_id}/claim", json={"member_id": member}, headers=me)
        assert r.status_code == 200 and r.json() == {"assignment_id": r.json()["assignment_id"], "filled": 1,
                                                      "headcount": 2}, r.text
        r = await api_http.post(f"/tasks/{task_id}/claim", json={"member_id": member}, headers=me)
        assert r.status_code == 409 and r.json()["message"] == task_rules.REFUSAL_ALREADY_ASSIGNED
        r = await api_http.post(f"/tasks/{task_id}/cancel", json={"reason": "活动改期"}, headers=staff)
        assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
