"""The member's own tasks through the API (what the phone's 任务 tab reads): GET /me/tasks lists
the offers made to the member and the tasks they hold, with the offer's deadline, their scans and
report and, once verified, their points; GET /me/tasks/{id} one of them. Only the member's own;
other roles are refused. Claimable tasks come nearest first."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from activities.dispatch import DispatchActivities
from db import task as task_db
from db.pool import Pool
from domain import task_rules
from schemas.auth import Role, ScopeKind
from tests import places
from tests.api_fixtures import api_http_fixture, bearer  # noqa: F401 - the api_http fixture
from tests.test_dispatch_workflow import TOKEN, add_member, make_city
from workflows.task import TaskWorkflow


async def _mine(http: httpx.AsyncClient, who: dict[str, str], task_id: int) -> dict[str, Any] | None:
    rows = (await http.get("/me/tasks", headers=who)).json()
    found = [r for r in rows if r["task"]["id"] == task_id]
    return found[0] if found else None


async def test_my_tasks_follow_the_offer_through_the_scans(
    pool: Pool, client: Client, api_http: httpx.AsyncClient, task_queue: str
) -> None:
    city = await make_city(pool)
    member, neighbour = [await add_member(pool, city, grid_id=g) for g in (city.grid_id, city.neighbour_grid_id)]
    staff, me, them = [await bearer(pool, role, kind, scope) for role, kind, scope in (
        (Role.community_staff, ScopeKind.community, city.community_id), (Role.member, ScopeKind.member, member),
        (Role.member, ScopeKind.member, neighbour))]

    start = datetime.now(UTC) + timedelta(days=1)
    async with Worker(client, task_queue=task_queue, workflows=[TaskWorkflow],
                      activities=DispatchActivities(pool).all()):
        r = await api_http.post("/tasks", headers=staff, json={
            "grid_id": city.grid_id, "category": "助老助残", "title": "陪同就医", "headcount": 1,
            "window_start": start.isoformat(), "window_end": (start + timedelta(hours=2)).isoformat()})
        assert r.status_code == 201, r.text
        task_id, token = r.json()["task"]["id"], r.json()["qr_token"]
        mine = None
        for _ in range(100):
            mine = await _mine(api_http, me, task_id)
            if mine:
                break
            await asyncio.sleep(0.1)
        assert mine is not None and mine["offer"]["status"] == "offered" and mine["assignment"] is None
        assert datetime.fromisoformat(mine["offer"]["expires_at"]) > datetime.now(UTC)
        assert mine["task"]["title"] == "陪同就医" and mine["points"] is None

        # Only one's own: the neighbour had no offer (the member in the task's grid came first).
        assert await _mine(api_http, them, task_id) is None
        missing = await api_http.get(f"/me/tasks/{2**62}", headers=them)
        foreign = await api_http.get(f"/me/tasks/{task_id}", headers=them)
        assert foreign.status_code == missing.status_code == 404
        assert foreign.json()["message"] == f"任务 {task_id} 不存在"
        for other in (staff, await bearer(pool, Role.subdistrict, ScopeKind.subdistrict, city.subdistrict_id)):
            refused = await api_http.get("/me/tasks", headers=other)
            assert refused.status_code == 403 and refused.json()["message"] == "仅党员本人可以查看自己的任务"
            assert (await api_http.get(f"/me/tasks/{task_id}", headers=other)).status_code == 403

        r = await api_http.post(f"/tasks/{task_id}/answer", json={"member_id": member, "accept": True}, headers=me)
        assert r.status_code == 200, r.text
        one = (await api_http.get(f"/me/tasks/{task_id}", headers=me)).json()
        assert one["offer"]["status"] == "accepted" and one["assignment"]["status"] == "accepted"
        assert one["assignment"]["source"] == "offer" and one["assignment"]["checked_in_at"] is None

        r = await api_http.post(f"/tasks/{task_id}/check-in", json={"member_id": member, "token": token}, headers=me)
        assert r.status_code == 200, r.text
        one = (await api_http.get(f"/me/tasks/{task_id}", headers=me)).json()
        assert one["assignment"]["status"] == "checked_in" and one["assignment"]["checked_in_at"]
        r = await api_http.post(f"/tasks/{task_id}/check-out", headers=me,
                                json={"member_id": member, "token": token, "report": "陪同挂号取药"})
        assert r.status_code == 200, r.text
        one = (await api_http.get(f"/me/tasks/{task_id}", headers=me)).json()
        assert one["assignment"]["status"] == "checked_out" and one["assignment"]["report"] == "陪同挂号取药"
        assert one["assignment"]["hours"] is not None and one["points"] is None
        r = await api_http.post(f"/tasks/{task_id}/cancel", json={"reason": "测试结束"}, headers=staff)
        assert r.status_code == 409   # served already: the workflow refuses; nothing else to clean


async def test_claimable_tasks_come_nearest_first(pool: Pool, api_http: httpx.AsyncClient) -> None:
    """The member's home grid first, then its neighbour, then the rest of the community, whatever
    their start times; staff see theirs soonest first."""
    city = await make_city(pool)
    member = await add_member(pool, city, grid_id=city.grid_id)
    async with pool.acquire() as conn:
        far = await places.add_grid(conn, city.community_id, "远")
    now = datetime.now(UTC)
    made = {}
    for name, grid, days in (("far", far, 1), ("next", city.neighbour_grid_id, 2), ("home", city.grid_id, 3)):
        async with pool.acquire() as conn:
            made[name] = await task_db.insert_task(
                conn, need_id=None, community_id=city.community_id, grid_id=grid, title=f"岗位{name}",
                category="文明创建", mode="post", headcount=2, required_skills=[],
                window_start=now + timedelta(days=days), window_end=now + timedelta(days=days, hours=2),
                place="", points_per_hour=10, category_bonus=0, rating_bonus=2, points_cap=100, redeemable=False,
                qr_token_hash=task_rules.hash_qr_token(TOKEN), created_by="test", at=now)
    me = await bearer(pool, Role.member, ScopeKind.member, member)
    listed = [t["id"] for t in (await api_http.get("/tasks/claimable", headers=me)).json()
              if t["id"] in made.values()]
    assert listed == [made["home"], made["next"], made["far"]]
    staff = await bearer(pool, Role.community_staff, ScopeKind.community, city.community_id)
    listed = [t["id"] for t in (await api_http.get("/tasks/claimable", headers=staff)).json()
              if t["id"] in made.values()]
    assert listed == [made["far"], made["next"], made["home"]]
