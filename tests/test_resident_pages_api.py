"""The public reads behind the residents' mobile pages, through the HTTP API on the real stack: a
grid's code opens its place and categories, a placed need is followed by its token through 核查,
task and close, a rating code is opened before rating, and the community's public board 晒单 lists
the closed service with counts and the rating but no one's name or phone. Wrong, replaced, spent
and expired codes are refused in Chinese; the board's paging is bounded and its reads braked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from activities.dispatch import DispatchActivities
from api.app import create_app
from api.rate_limits import PER_ADDRESS_READS, PublicBrakes
from db.pool import Pool
from domain import need_rules, task_rules
from schemas.auth import Role, ScopeKind
from services.tokens import hash_token
from tests import places
from tests.api_fixtures import api_http_fixture, bearer  # noqa: F401 - the api_http fixture
from tests.serving import serve_task
from tests.test_dispatch_workflow import ALL_SLOTS, add_member, make_city
from tests.waiting import until
from workflows.task import TaskWorkflow

RESIDENT_NAME, RESIDENT_PHONE = "王阿姨", "13899990001"
MEMBER_NAME, MEMBER_PHONE = "赵党员", "13677770002"


async def _follow(http: httpx.AsyncClient, token: str) -> dict[str, object]:
    r = await http.post("/resident/need-follow", json={"code": token})
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


async def test_a_need_followed_from_the_code_to_the_board(pool: Pool, client: Client, api_http: httpx.AsyncClient,
                                                          task_queue: str) -> None:
    city = await make_city(pool)
    async with pool.acquire() as conn:
        member = await places.add_member(conn, community_id=city.community_id, grid_id=city.grid_id,
                                         free_slots=ALL_SLOTS, name=MEMBER_NAME, phone=MEMBER_PHONE)
        await places.register_member(conn, member, community_id=city.community_id, grid_id=city.grid_id,
                                     confirmed_at=datetime.now(UTC))
    staff = await bearer(pool, Role.community_staff, ScopeKind.community, city.community_id)
    me = await bearer(pool, Role.member, ScopeKind.member, member)
    code = (await api_http.post(f"/grids/{city.grid_id}/need-code", headers=staff)).json()["code"]

    opened = await api_http.post("/resident/need-code/open", json={"code": code})
    assert opened.status_code == 200, opened.text
    assert opened.json()["grid_name"] == "g" and opened.json()["community_id"] == city.community_id
    assert opened.json()["community_name"] == "甲社区"
    assert "助老助残" in opened.json()["categories"]
    assert opened.json()["micro_wish_category"] in opened.json()["categories"]

    r = await api_http.post("/resident/needs", json={
        "code": code, "category": "助老助残", "description": "帮忙更换楼道灯泡",
        "resident_name": RESIDENT_NAME, "resident_phone": RESIDENT_PHONE})
    assert r.status_code == 201, r.text
    need_id, follow = r.json()["need_id"], r.json()["follow_token"]
    assert follow.startswith("sbd_follow_") and len(follow) > 30
    async with pool.acquire() as conn:   # only the hash is kept
        assert await conn.fetchval("SELECT follow_token_hash <> $2 FROM need WHERE id = $1", need_id, follow)

    state = await _follow(api_http, follow)
    assert state["status"] == "submitted" and state["status_label"] == "待社区核查"
    assert state["category"] == "助老助残" and state["need_id"] == need_id and state["decided_at"] is None
    assert set(state) == {"need_id", "status", "status_label", "next_step", "category", "placed_at", "decided_at",
                          "decision_text", "service_at", "closed_at"}

    r = await api_http.post(f"/needs/{need_id}/decision", headers=staff,
                            json={"approve": True, "reason": "已核实, 本周安排 (联系电话 13811112222)"})
    assert r.status_code == 200, r.text
    state = await _follow(api_http, follow)
    assert state["status"] == "verified" and state["decided_at"] is not None
    assert state["decision_text"] == "已核实, 本周安排 (联系电话 138****2222)"   # a phone in it is masked

    start = datetime.now(UTC) + timedelta(days=1)
    async with Worker(client, task_queue=task_queue, workflows=[TaskWorkflow],
                      activities=DispatchActivities(pool).all()):
        r = await api_http.post("/tasks", headers=staff, json={
            "need_id": need_id, "title": f"为{RESIDENT_NAME}更换灯泡", "window_start": start.isoformat(),
            "window_end": (start + timedelta(hours=2)).isoformat()})
        assert r.status_code == 201, r.text
        task_id, qr, rating_code = r.json()["task"]["id"], r.json()["qr_token"], r.json()["resident_rating_code"]
        state = await _follow(api_http, follow)
        assert state["status"] == "converted" and state["service_at"] is not None

        early = await api_http.post("/resident/rating-code/open", json={"code": rating_code})
        assert early.status_code == 200 and early.json()["ready"] is False, early.text
        assert early.json()["community_name"] == "甲社区" and early.json()["category"] == "助老助残"

        await serve_task(api_http, me, member_id=member, task_id=task_id, qr_token=qr)
        ready = await until(lambda: api_http.post("/resident/rating-code/open", json={"code": rating_code}),
                            lambda resp: resp.status_code == 200 and resp.json()["ready"] is True)
        assert ready.json()["task_id"] == task_id
        rated = await api_http.post("/resident/rating", json={"code": rating_code, "score": 5, "comment": "很及时"})
        assert rated.status_code == 200, rated.text
        spent = await api_http.post("/resident/rating-code/open", json={"code": rating_code})
        assert spent.status_code == 409 and spent.json()["message"] == task_rules.REFUSAL_RATING_CODE_USED
        r = await api_http.post(f"/tasks/{task_id}/verify", json={}, headers=staff)
        assert r.status_code == 200, r.text
        await client.get_workflow_handle(f"task-{task_id}").result()

    state = await _follow(api_http, follow)
    assert state["status"] == "closed" and state["status_label"] == "已办结" and state["closed_at"] is not None

    board = await until(lambda: api_http.get(f"/resident/board/{city.community_id}"),
                        lambda resp: resp.status_code == 200 and resp.json()["total"] >= 1)
    body = board.json()
    assert body["community_name"] == "甲社区"
    item = next(i for i in body["items"] if i["task_id"] == task_id)
    assert item["category"] == "助老助残" and item["grid_name"] == "g"
    assert item["members"] == 1 and item["rating"] == 5 and item["rating_defaulted"] is False
    for personal in (RESIDENT_NAME, RESIDENT_PHONE, MEMBER_NAME, MEMBER_PHONE, "13811112222", "更换灯泡"):
        assert personal not in board.text and personal[:3] + "****" not in board.text
    other = await api_http.get(f"/resident/board/{city.other_community_id}")
    assert other.status_code == 200 and other.json()["total"] == 0 and other.json()["items"] == []


async def test_codes_that_do_not_work_are_refused_in_chinese(pool: Pool, api_http: httpx.AsyncClient) -> None:
    city = await make_city(pool)
    await add_member(pool, city, grid_id=city.grid_id)
    staff = await bearer(pool, Role.community_staff, ScopeKind.community, city.community_id)
    old = (await api_http.post(f"/grids/{city.grid_id}/need-code", headers=staff)).json()["code"]
    code = (await api_http.post(f"/grids/{city.grid_id}/need-code", headers=staff)).json()["code"]
    for wrong in (old, "sbd_need_guess"):
        r = await api_http.post("/resident/need-code/open", json={"code": wrong})
        assert r.status_code == 404 and r.json()["message"] == task_rules.REFUSAL_BAD_NEED_CODE
    r = await api_http.post("/resident/need-follow", json={"code": "sbd_follow_guess"})
    assert r.status_code == 404 and r.json()["message"] == need_rules.REFUSAL_BAD_FOLLOW_TOKEN
    r = await api_http.post("/resident/rating-code/open", json={"code": "sbd_rate_guess"})
    assert r.status_code == 404 and r.json()["message"] == task_rules.REFUSAL_BAD_RATING_CODE
    assert (await api_http.post("/resident/need-code/open", json={"code": ""})).status_code == 422
    assert (await api_http.post("/resident/need-code/open", json={"code": "x" * 201})).status_code == 422

    # a donor only on a micro-wish, where they may stay anonymous; nothing is written otherwise
    async with pool.acquire() as conn:
        before = await conn.fetchval("SELECT count(*) FROM need WHERE grid_id = $1", city.grid_id)
    r = await api_http.post("/resident/needs", json={"code": code, "category": "助老助残", "description": "买菜",
                                                     "donor_anonymous": True})
    assert r.status_code == 422 and r.json()["message"] == need_rules.REFUSAL_DONOR_NOT_MICRO_WISH
    r = await api_http.post("/resident/needs", json={"code": code, "category": "助老助残", "description": "买菜",
                                                     "resident_phone": "12345"})
    assert r.status_code == 422 and r.json()["message"] == need_rules.REFUSAL_BAD_PHONE
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM need WHERE grid_id = $1", city.grid_id) == before
    r = await api_http.post("/resident/needs", json={
        "code": code, "category": need_rules.MICRO_WISH_CATEGORY, "description": "孩子想要一套课外书",
        "donor_name": "某爱心企业", "donor_anonymous": True})
    assert r.status_code == 201, r.text
    listed = {n["id"]: n for n in (await api_http.get("/needs", headers=staff)).json()}
    assert listed[r.json()["need_id"]]["donor_name"] == "匿名爱心人士"
    state = await _follow(api_http, r.json()["follow_token"])
    assert "某爱心企业" not in str(state) and state["category"] == need_rules.MICRO_WISH_CATEGORY

    # the community rejects: the follow link shows its reason
    r2 = await api_http.post(f"/needs/{r.json()['need_id']}/decision", headers=staff,
                             json={"approve": False, "reason": "已由其他渠道解决"})
    assert r2.status_code == 200, r2.text
    state = await _follow(api_http, r.json()["follow_token"])
    assert state["status"] == "rejected" and state["decision_text"] == "已由其他渠道解决"


async def test_rating_code_expired_is_refused_when_opened(pool: Pool, api_http: httpx.AsyncClient) -> None:
    city = await make_city(pool)
    async with pool.acquire() as conn:
        task_id = await conn.fetchval(
            "INSERT INTO task (community_id, grid_id, title, category, mode, headcount, window_start, window_end,"
            " qr_token_hash, created_by, status) VALUES ($1, $2, '过期', '助老助残', 'dispatch', 1, now() - interval"
            " '3 days', now() - interval '2 days', 'x', 'test', 'done') RETURNING id", city.community_id, city.grid_id)
        await conn.execute(
            "INSERT INTO resident_rating_token (task_id, token_hash, expires_at, issued_by, issued_at)"
            " VALUES ($1, $2, now() - interval '1 minute', 'test', now() - interval '3 days')",
            task_id, hash_token(f"sbd_rate_expired_{task_id}"))
    r = await api_http.post("/resident/rating-code/open", json={"code": f"sbd_rate_expired_{task_id}"})
    assert r.status_code == 409 and r.json()["message"] == task_rules.REFUSAL_RATING_CODE_EXPIRED


async def _closed_task(pool: Pool, community_id: int, grid_id: int, *, closed_days_ago: int) -> int:
    async with pool.acquire() as conn:
        at = datetime.now(UTC) - timedelta(days=closed_days_ago)
        task_id: int = await conn.fetchval(
            "INSERT INTO task (community_id, grid_id, title, category, mode, headcount, window_start, window_end,"
            " qr_token_hash, created_by, status, closed_at) VALUES ($1, $2, '晒单', '环境整治', 'claim', 3, $3, $4,"
            " 'x', 'test', 'closed', $4) RETURNING id", community_id, grid_id, at - timedelta(hours=2), at)
        return task_id


async def test_board_pages_are_bounded_and_newest_first(pool: Pool, api_http: httpx.AsyncClient) -> None:
    city = await make_city(pool)
    ids = [await _closed_task(pool, city.community_id, city.grid_id, closed_days_ago=d) for d in (5, 1, 3)]
    r = await api_http.get(f"/resident/board/{city.community_id}", params={"limit": 2})
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 3 and [i["task_id"] for i in r.json()["items"]] == [ids[1], ids[2]]
    assert r.json()["items"][0]["members"] == 0 and r.json()["items"][0]["rating"] is None
    r = await api_http.get(f"/resident/board/{city.community_id}", params={"limit": 2, "offset": 2})
    assert [i["task_id"] for i in r.json()["items"]] == [ids[0]] and r.json()["offset"] == 2
    assert (await api_http.get(f"/resident/board/{city.community_id}", params={"limit": 51})).status_code == 422
    assert (await api_http.get(f"/resident/board/{city.community_id}", params={"offset": -1})).status_code == 422
    missing = await api_http.get("/resident/board/8000000000000")
    assert missing.status_code == 404 and missing.json()["message"] == need_rules.REFUSAL_COMMUNITY_MISSING


async def test_board_reads_are_braked_per_address(pool: Pool, client: Client) -> None:
    city = await make_city(pool)
    app = create_app(pool=pool, temporal_client=client)
    app.state.public_brakes = PublicBrakes(per_address_reads="3/minute")
    assert PER_ADDRESS_READS == "60/minute"
    transport = httpx.ASGITransport(app=app, client=("203.0.113.50", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        for _ in range(3):
            assert (await http.get(f"/resident/board/{city.community_id}")).status_code == 200
        r = await http.get(f"/resident/board/{city.community_id}")
        assert r.status_code == 429 and "频繁" in r.json()["message"] and int(r.headers["retry-after"]) >= 1
    other = httpx.ASGITransport(app=app, client=("198.51.100.51", 40000))
    async with httpx.AsyncClient(transport=other, base_url="http://api") as http:
        assert (await http.get(f"/resident/board/{city.community_id}")).status_code == 200
