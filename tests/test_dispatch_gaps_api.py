"""The residents' doors and the rejected verification through the HTTP API on the real dev server:
a grid's need-placing code 点单码 and a task's rating code 评价码 work without a bearer token and
refuse wrong, replaced, expired and spent codes in Chinese; only staff issue them."""

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


async def test_residents_place_needs_with_their_grids_code(pool: Pool, api_http: httpx.AsyncClient) -> None:
    """Staff issue a grid's code; a resident places needs with it and no token, the duplicate check
    applies, the need waits for 核查 in the community's list; a replaced or wrong code is refused."""
    city = await make_city(pool)
    member = await add_member(pool, city, grid_id=city.grid_id)
    staff = await bearer(pool, Role.community_staff, ScopeKind.community, city.community_id)
    other_staff = await bearer(pool, Role.community_staff, ScopeKind.community, city.other_community_id)
    me = await bearer(pool, Role.member, ScopeKind.member, member)

    assert (await api_http.post(f"/grids/{city.grid_id}/need-code", headers=me)).status_code == 403
    assert (await api_http.post(f"/grids/{city.grid_id}/need-code", headers=other_staff)).status_code == 404
    assert (await api_http.post(f"/grids/{city.grid_id}/need-code")).status_code == 401
    r = await api_http.post(f"/grids/{city.grid_id}/need-code", headers=staff)
    assert r.status_code == 201, r.text
    code = r.json()["code"]

    need = {"code": code, "category": "助老助残", "description": "家中水管漏水, 老人独居",
            "resident_name": "李奶奶", "resident_phone": "13711113333"}
    r = await api_http.post("/resident/needs", json=need)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["status"] == "submitted" and first["likely_duplicate"] is False
    assert set(first) == {"need_id", "status", "deadline_at", "likely_duplicate", "message", "follow_token"}
    r = await api_http.post("/resident/needs", json=need)
    assert r.json()["likely_duplicate"] is True and str(first["need_id"]) in r.json()["message"]
    listed = {n["id"]: n for n in (await api_http.get("/needs", params={"status": "submitted"}, headers=staff)).json()}
    placed = listed[first["need_id"]]
    assert placed["grid_id"] == city.grid_id and placed["created_by"].startswith("resident:grid_code:")
    assert placed["resident_phone"] == "13711113333"
    r = await api_http.post(f"/needs/{first['need_id']}/decision", json={"approve": True}, headers=staff)
    assert r.json()["status"] == "verified"

    bad_category = await api_http.post("/resident/needs", json=need | {"category": "不存在的类别"})
    assert bad_category.status_code in (400, 422) and "不在目录中" in bad_category.json()["message"]
    r = await api_http.post(f"/grids/{city.grid_id}/need-code", headers=staff)
    new_code = r.json()["code"]
    old = await api_http.post("/resident/needs", json=need)
    assert old.status_code == 404 and old.json()["message"] == task_rules.REFUSAL_BAD_NEED_CODE
    wrong = await api_http.post("/resident/needs", json=need | {"code": "sbd_need_guess"})
    assert wrong.status_code == 404 and wrong.json()["message"] == task_rules.REFUSAL_BAD_NEED_CODE
    assert (await api_http.post("/resident/needs", json=need | {"code": new_code})).status_code == 201


async def test_resident_rates_once_with_the_tasks_code_and_a_rejected_verification_pays_later(
    pool: Pool, client: Client, api_http: httpx.AsyncClient, task_queue: str
) -> None:
    """A task made from a need gives staff the resident's rating code (members never see it); the
    resident rates once with it and no token; wrong, replaced, expired and spent codes are refused
    in Chinese; staff then reject the verification (no points) and pass it after follow-up."""
    city = await make_city(pool)
    member = await add_member(pool, city, grid_id=city.grid_id)
    staff = await bearer(pool, Role.community_staff, ScopeKind.community, city.community_id)
    me = await bearer(pool, Role.member, ScopeKind.member, member)
    r = await api_http.post("/needs", headers=staff, json={
        "category": "助老助残", "grid_id": city.grid_id, "description": "陪同就医", "resident_phone": "13622224444"})
    need_id = r.json()["id"]
    await api_http.post(f"/needs/{need_id}/decision", json={"approve": True}, headers=staff)

    start = datetime.now(UTC) + timedelta(days=1)
    async with Worker(client, task_queue=task_queue, workflows=[TaskWorkflow],
                      activities=DispatchActivities(pool).all()):
        r = await api_http.post("/tasks", headers=staff, json={
            "need_id": need_id, "title": "陪同就医", "window_start": start.isoformat(),
            "window_end": (start + timedelta(hours=2)).isoformat()})
        assert r.status_code == 201, r.text
        task_id, qr, code = r.json()["task"]["id"], r.json()["qr_token"], r.json()["resident_rating_code"]
        assert code and r.json()["resident_rating_expires_at"]
        assert (await api_http.post(f"/tasks/{task_id}/rating-code", headers=me)).status_code == 403

        wrong = await api_http.post("/resident/rating", json={"code": "guess", "score": 5})
        assert wrong.status_code == 404 and wrong.json()["message"] == task_rules.REFUSAL_BAD_RATING_CODE
        early = await api_http.post("/resident/rating", json={"code": code, "score": 5})
        assert early.status_code == 409 and early.json()["message"] == task_rules.REFUSAL_NOT_DONE

        for _ in range(100):
            offers = await api_http.get(f"/tasks/{task_id}/offers", headers=me)   # 404 until offered
            if offers.status_code == 200 and offers.json():
                break
            await asyncio.sleep(0.1)
        seen = (await api_http.get(f"/tasks/{task_id}", headers=me)).json()
        assert seen["id"] == task_id and code not in str(seen) and "resident_rating_code" not in seen
        # answered the moment the offer is in the database, maybe before the workflow has it: the
        # service hands it over (services/dispatch.py answer_offer) instead of refusing
        r = await api_http.post(f"/tasks/{task_id}/answer", json={"member_id": member, "accept": True}, headers=me)
        assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
        r = await api_http.post(f"/tasks/{task_id}/check-in", json={"member_id": member, "token": qr}, headers=me)
        assert r.status_code == 200, r.text
        r = await api_http.post(f"/tasks/{task_id}/check-out", json={"member_id": member, "token": qr}, headers=me)
        assert r.json()["status"] == "checked_out", r.text

        for _ in range(100):   # the task is done a moment after the check-out
            rated = await api_http.post("/resident/rating", json={"code": code, "score": 4, "comment": "小伙子很耐心"})
            if rated.status_code != 409 or rated.json()["message"] != task_rules.REFUSAL_NOT_DONE:
                break
            await asyncio.sleep(0.1)
        assert rated.status_code == 200 and rated.json()["score"] == 4, rated.text
        spent = await api_http.post("/resident/rating", json={"code": code, "score": 1})
        assert spent.status_code == 409 and spent.json()["message"] == task_rules.REFUSAL_RATING_CODE_USED

        r = await api_http.post(f"/tasks/{task_id}/rating-code", headers=staff)
        assert r.status_code == 201, r.text
        new_code = r.json()["code"]
        replaced = await api_http.post("/resident/rating", json={"code": code, "score": 1})
        assert replaced.status_code == 404 and replaced.json()["message"] == task_rules.REFUSAL_BAD_RATING_CODE
        async with pool.acquire() as conn:
            await conn.execute("UPDATE resident_rating_token SET expires_at = now() - interval '1 minute' "
                               "WHERE task_id = $1", task_id)
        expired = await api_http.post("/resident/rating", json={"code": new_code, "score": 1})
        assert expired.status_code == 409 and expired.json()["message"] == task_rules.REFUSAL_RATING_CODE_EXPIRED
        async with pool.acquire() as conn:
            await conn.execute("UPDATE resident_rating_token SET expires_at = now() + interval '1 day' "
                               "WHERE task_id = $1", task_id)
        twice = await api_http.post("/resident/rating", json={"code": new_code, "score": 1})
        assert twice.status_code == 409 and twice.json()["message"] == task_rules.REFUSAL_ALREADY_RATED

        no_reason = await api_http.post(f"/tasks/{task_id}/verify/reject", json={"reason": ""}, headers=staff)
        assert no_reason.status_code == 422
        assert (await api_http.post(f"/tasks/{task_id}/verify/reject", json={"reason": "未完成"},
                                headers=me)).status_code == 403
        r = await api_http.post(f"/tasks/{task_id}/verify/reject", json={"reason": "居民反映未送达医院"}, headers=staff)
        assert r.status_code == 200 and r.json() == {"status": "follow_up", "rejections": 1}, r.text
        ledger = (await api_http.get("/ledger", params={"status": "follow_up", "grid_id": city.grid_id},
                                 headers=staff)).json()
        assert [row["task_id"] for row in ledger] == [task_id]
        r = await api_http.post(f"/tasks/{task_id}/verify", json={"note": "已回访整改"}, headers=staff)
        assert r.status_code == 200 and r.json()["points_credited"] == 1, r.text
        await client.get_workflow_handle(f"task-{task_id}").result()

    history = (await api_http.get(f"/tasks/{task_id}/history", headers=staff)).json()
    rejected = [h for h in history if h["kind"] == "verification_rejected"]
    assert [h["detail"]["reason"] for h in rejected] == ["居民反映未送达医院"]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT comment FROM resident_rating WHERE task_id = $1", task_id) == "小伙子很耐心"
        assert await conn.fetchval("SELECT count(*) FROM evaluation_points WHERE task_id = $1", task_id) == 1
