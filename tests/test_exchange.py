"""The points exchange 积分兑换 against real Postgres and a real Temporal dev server: a merchant
admitted by community staff lists an item, members redeem with the redeemable ledger, the
provider confirms the one-time code, an uncollected redemption lapses and its points return.

Under retries and races: two redemptions of the last item at once (one wins, the other a clear
refusal), one member's two redemptions against a balance for one, a redeem retried with the same
request id (concurrently too), a confirmation retried; after each, the balance row equals the
sum of the ledger's lines and the evaluation ledger is untouched.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from activities.exchange import ExchangeActivities
from api.app import create_app
from db.pool import Pool
from schemas.auth import Role, ScopeKind
from schemas.exchange_contract import RedemptionWorkflowResult
from services.exchange import workflow_id
from tests.api_fixtures import ApiCity, _member, api_city_fixture, bearer  # noqa: F401
from tests.conftest import unique
from tests.record_histories import save_from_test
from tests.waiting import eventually
from workflows.exchange import RedemptionWorkflow


@pytest.fixture(name="http")
async def http_fixture(pool: Pool, client: Client, task_queue: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(pool=pool, temporal_client=client)
    app.state.task_queue = task_queue   # the redemptions' timers run on this test's worker
    async with Worker(client, task_queue=task_queue, workflows=[RedemptionWorkflow],
                      activities=ExchangeActivities(pool).all()), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


@dataclass
class Shop:
    provider_id: int
    headers: dict[str, str]


async def _merchant(http: httpx.AsyncClient, pool: Pool, city: ApiCity) -> Shop:
    resp = await http.post("/exchange/providers", headers=city.auth("staff_a"), json={
        "name": f"爱心超市{unique()}", "community_id": city.community["A"], "address": "幸福路1号",
        "contact_name": "王店主", "phone": "137" + uuid.uuid4().int.__str__()[:8]})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["setup_code"] and body["provider"]["kind"] == "merchant"
    provider_id = body["provider"]["id"]
    return Shop(provider_id, await bearer(pool, Role.provider, ScopeKind.provider, provider_id, label="商户"))


async def _member_with_points(pool: Pool, city: ApiCity, points: float) -> tuple[int, dict[str, str]]:
    """A new member living in community A with `points` redeemable (one ledger line)."""
    async with pool.acquire() as conn:
        member_id, _ = await _member(conn, name=f"兑换党员{unique()}", unit_id=city.unit["A"],
                                     community_id=city.community["A"], grid_id=city.grids["A"][0],
                                     phone="139" + uuid.uuid4().int.__str__()[:8])
        if points:
            await conn.execute(
                "INSERT INTO redeemable_points (member_id, service_key, points, parts, awarded_at)"
                " VALUES ($1, $2, $3, '{}', now())", member_id, f"test-credit:{uuid.uuid4()}", points)
    return member_id, await bearer(pool, Role.member, ScopeKind.member, member_id, label="党员")


async def _item(http: httpx.AsyncClient, city: ApiCity, shop: Shop, *, points: float, stock: int,
                valid_for: timedelta = timedelta(days=30), collect_hours: int = 72) -> dict[str, Any]:
    now = datetime.now(UTC)
    resp = await http.post("/exchange/items", headers=shop.headers, json={
        "name": f"大米5斤{unique()}", "points": points, "stock": stock, "valid_from": (now - timedelta(hours=1)).isoformat(),
        "valid_until": (now + valid_for).isoformat(), "collect_at": "爱心超市前台", "collect_hours": collect_hours,
        "community_id": city.community["A"]})
    assert resp.status_code == 201, resp.text
    item: dict[str, Any] = resp.json()
    return item


async def _redeem(http: httpx.AsyncClient, headers: dict[str, str], item_id: int,
                  request_id: str | None = None) -> httpx.Response:
    return await http.post(f"/exchange/items/{item_id}/redeem", headers=headers,
                           json={"request_id": request_id or uuid.uuid4().hex})


async def _ledger(pool: Pool, member_id: int) -> dict[str, Any]:
    """The member's balance row, the sum and lines of the redeemable ledger, the evaluation ledger's sum."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            """
            SELECT (SELECT balance::float FROM redeemable_balance WHERE member_id = $1) AS balance,
                   (SELECT coalesce(sum(points), 0)::float FROM redeemable_points WHERE member_id = $1) AS ledger,
                   (SELECT array_agg(points::float ORDER BY id) FROM redeemable_points WHERE member_id = $1) AS lines,
                   (SELECT count(*) FROM evaluation_points WHERE member_id = $1) AS evaluation_lines
            """, member_id)
    assert row is not None
    assert row["balance"] == row["ledger"], "the balance row equals the sum of the ledger's lines"
    assert row["evaluation_lines"] == 0, "redemption never touches the evaluation ledger"
    return dict(row)


async def _stock(http: httpx.AsyncClient, shop: Shop, item_id: int) -> int:
    resp = await http.get(f"/exchange/items/{item_id}", headers=shop.headers)
    assert resp.status_code == 200, resp.text
    stock: int = resp.json()["stock"]
    return stock


async def test_redeem_then_provider_confirms_once(http: httpx.AsyncClient, pool: Pool, api_city: ApiCity) -> None:
    shop = await _merchant(http, pool, api_city)
    item = await _item(http, api_city, shop, points=4, stock=3)
    member_id, member = await _member_with_points(pool, api_city, 10)

    listed = await http.get("/exchange/items", headers=member)
    assert item["id"] in [i["id"] for i in listed.json()["items"]]
    assert (await http.get("/exchange/balance", headers=member)).json() == {"balance": 10.0, "ledger_sum": 10.0}

    request_id = uuid.uuid4().hex
    first = await _redeem(http, member, item["id"], request_id)
    assert first.status_code == 201, first.text
    redeemed = first.json()
    assert len(redeemed["code"]) == 8 and redeemed["code"].isdigit()
    assert redeemed["balance"] == 6.0 and redeemed["redemption"]["state"] == "issued"
    # the call retried (its answer lost): the same redemption, a new code, no second debit
    retried = await _redeem(http, member, item["id"], request_id)
    assert retried.status_code == 201, retried.text
    assert retried.json()["redemption"]["id"] == redeemed["redemption"]["id"]
    old_code, code = redeemed["code"], retried.json()["code"]
    assert (await _ledger(pool, member_id))["lines"] == [10.0, -4.0]
    assert await _stock(http, shop, item["id"]) == 2

    # the provider sees the member's name masked, never the phone
    seen = await http.get("/exchange/redemptions", headers=shop.headers)
    mine = [r for r in seen.json()["items"] if r["id"] == redeemed["redemption"]["id"]]
    assert mine and "*" in mine[0]["member_name"] and mine[0]["member_id"] is None
    async with pool.acquire() as conn:
        person = await conn.fetchrow("SELECT name, phone FROM member WHERE id = $1", member_id)
    assert person is not None
    name, phone = person["name"], person["phone"]
    assert phone not in seen.text and name not in seen.text

    if old_code != code:   # the first answer's code stopped working when the retry drew a new one
        stale = await http.post("/exchange/confirm", headers=shop.headers, json={"code": old_code})
        assert stale.status_code == 404 and "兑换码无效" in stale.json()["message"]
    confirmed = await http.post("/exchange/confirm", headers=shop.headers, json={"code": code})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["state"] == "collected"
    again = await http.post("/exchange/confirm", headers=shop.headers, json={"code": code})
    assert again.status_code == 409 and again.json()["code"] == "already_collected", again.text
    assert "不能重复核销" in again.json()["message"]
    ledger = await _ledger(pool, member_id)
    assert ledger["lines"] == [10.0, -4.0] and ledger["balance"] == 6.0
    # after collection the redemption's timer has nothing left to do
    await client_result_is(http, redeemed["redemption"]["id"], "collected")

    # staff of community A see it (name whole) and the stock; community B's staff do not
    staff = await http.get("/exchange/redemptions", headers=api_city.auth("staff_a"),
                           params={"item_id": item["id"]})
    assert [r["member_name"] for r in staff.json()["items"]] == [name]
    stock_view = await http.get("/exchange/items", headers=api_city.auth("org_d1"), params={"limit": 500})
    assert [i["stock"] for i in stock_view.json()["items"] if i["id"] == item["id"]] == [2]
    foreign = await http.get("/exchange/redemptions", headers=api_city.auth("staff_b"),
                             params={"item_id": item["id"]})
    assert foreign.json()["total"] == 0
    assert (await http.get(f"/exchange/items/{item['id']}", headers=api_city.auth("staff_b"))).status_code == 404


async def client_result_is(http: httpx.AsyncClient, redemption_id: int, state: str) -> None:
    """The redemption's workflow ended, and how."""
    app = http._transport.app  # type: ignore[attr-defined]
    handle = app.state.temporal_client.get_workflow_handle(workflow_id(redemption_id),
                                                           result_type=RedemptionWorkflowResult)
    result = await asyncio.wait_for(handle.result(), 15)
    assert result.state == state


async def test_two_redemptions_of_the_last_item_at_once(http: httpx.AsyncClient, pool: Pool,
                                                        api_city: ApiCity) -> None:
    shop = await _merchant(http, pool, api_city)
    item = await _item(http, api_city, shop, points=3, stock=1)
    (m1, h1), (m2, h2) = [await _member_with_points(pool, api_city, 5) for _ in range(2)]
    answers = await asyncio.gather(_redeem(http, h1, item["id"]), _redeem(http, h2, item["id"]))
    assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
    lost = next(r for r in answers if r.status_code == 409)
    assert lost.json()["code"] == "out_of_stock" and "已兑完" in lost.json()["message"]
    assert await _stock(http, shop, item["id"]) == 0
    balances = sorted([(await _ledger(pool, m))["balance"] for m in (m1, m2)])
    assert balances == [2.0, 5.0]   # the winner paid once, the other nothing


async def test_one_balance_two_redemptions_at_once(http: httpx.AsyncClient, pool: Pool, api_city: ApiCity) -> None:
    """Enough points for one: the balance row serializes them; no negative balance."""
    shop = await _merchant(http, pool, api_city)
    items = [await _item(http, api_city, shop, points=6, stock=5) for _ in range(2)]
    member_id, member = await _member_with_points(pool, api_city, 10)
    answers = await asyncio.gather(*[_redeem(http, member, i["id"]) for i in items])
    assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
    lost = next(r for r in answers if r.status_code == 409)
    assert lost.json()["code"] == "insufficient_points" and "积分不足" in lost.json()["message"]
    ledger = await _ledger(pool, member_id)
    assert ledger["balance"] == 4.0 and ledger["lines"] == [10.0, -6.0]
    assert sorted([await _stock(http, shop, i["id"]) for i in items]) == [4, 5]


async def test_same_request_retried_at_once_debits_once(http: httpx.AsyncClient, pool: Pool,
                                                        api_city: ApiCity) -> None:
    shop = await _merchant(http, pool, api_city)
    item = await _item(http, api_city, shop, points=2, stock=5)
    member_id, member = await _member_with_points(pool, api_city, 10)
    request_id = uuid.uuid4().hex
    answers = await asyncio.gather(*[_redeem(http, member, item["id"], request_id) for _ in range(3)])
    assert [r.status_code for r in answers] == [201, 201, 201], [r.text for r in answers]
    assert len({r.json()["redemption"]["id"] for r in answers}) == 1
    ledger = await _ledger(pool, member_id)
    assert ledger["lines"] == [10.0, -2.0]
    assert await _stock(http, shop, item["id"]) == 4


async def test_not_enough_points_is_refused_and_changes_nothing(http: httpx.AsyncClient, pool: Pool,
                                                                api_city: ApiCity) -> None:
    shop = await _merchant(http, pool, api_city)
    item = await _item(http, api_city, shop, points=5, stock=2)
    member_id, member = await _member_with_points(pool, api_city, 2)
    resp = await _redeem(http, member, item["id"])
    assert resp.status_code == 409 and resp.json()["code"] == "insufficient_points", resp.text
    assert resp.json()["message"] == "可兑换积分不足: 需要 5 分, 现有 2 分"
    assert (await _ledger(pool, member_id))["lines"] == [2.0]
    assert await _stock(http, shop, item["id"]) == 2
    mine = await http.get("/exchange/redemptions", headers=member)
    assert mine.json()["total"] == 0


async def test_uncollected_redemption_expires_and_points_return(http: httpx.AsyncClient, pool: Pool,
                                                                api_city: ApiCity) -> None:
    """The item's window closes 3 s after the redemption: the workflow's timer lapses the code,
    the refund line returns the points, the stock goes back, the code no longer confirms."""
    shop = await _merchant(http, pool, api_city)
    item = await _item(http, api_city, shop, points=4, stock=1, valid_for=timedelta(seconds=3))
    member_id, member = await _member_with_points(pool, api_city, 5)
    resp = await _redeem(http, member, item["id"])
    assert resp.status_code == 201, resp.text
    redemption_id, code = resp.json()["redemption"]["id"], resp.json()["code"]
    assert (await _ledger(pool, member_id))["balance"] == 1.0

    async def expired() -> bool:
        mine = await http.get("/exchange/redemptions", headers=member)
        return bool(mine.json()["items"][0]["state"] == "expired")

    await eventually(expired, seconds=30, what="the redemption lapses")
    ledger = await _ledger(pool, member_id)
    assert ledger["lines"] == [5.0, -4.0, 4.0] and ledger["balance"] == 5.0
    assert await _stock(http, shop, item["id"]) == 1
    late = await http.post("/exchange/confirm", headers=shop.headers, json={"code": code})
    assert late.status_code == 409 and late.json()["code"] == "expired", late.text
    await client_result_is(http, redemption_id, "expired")
    app = http._transport.app  # type: ignore[attr-defined]
    await save_from_test(app.state.temporal_client.get_workflow_handle(workflow_id(redemption_id)),
                         "uncollected_expired_refunded")


async def test_co_building_unit_lists_from_its_resource_list(http: httpx.AsyncClient, pool: Pool,
                                                             api_city: ApiCity) -> None:
    async with pool.acquire() as conn:
        unit_id = await conn.fetchval(
            "INSERT INTO reporting_unit (name, unit_party_org, community_id) VALUES ($1, '党支部', $2) RETURNING id",
            f"共建单位{unique()}", api_city.community["A"])
        resource = await conn.fetchval("INSERT INTO resource_item (unit_id, category, description, quantity)"
                                       " VALUES ($1, '生活物资', '米面油', 20) RETURNING id", unit_id)
    unit = await bearer(pool, Role.unit_admin, ScopeKind.unit, unit_id, label="单位")
    now = datetime.now(UTC)
    body = {"name": "米面油", "points": 8, "stock": 5, "valid_from": now.isoformat(),
            "valid_until": (now + timedelta(days=10)).isoformat(), "collect_at": "单位门卫室",
            "district_id": api_city.district["A"], "resource_item_id": resource}
    refused = await http.post("/exchange/items", headers=unit, json=body)
    assert refused.status_code == 403 and "共建协议" in refused.json()["message"]
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO co_building_agreement (unit_id, community_id, valid_from, valid_until)"
                           " VALUES ($1, $2, $3, $4)", unit_id, api_city.community["A"], now - timedelta(days=1),
                           now + timedelta(days=300))
    resources = await http.get("/exchange/resources", headers=unit)
    assert resources.status_code == 200 and [(r["id"], r["description"]) for r in resources.json()["items"]] == [
        (resource, "米面油")]
    wrong = await http.post("/exchange/items", headers=unit, json={**body, "resource_item_id": None})
    assert wrong.status_code == 422 and "resource_item_id" in wrong.json()["message"]
    listed = await http.post("/exchange/items", headers=unit, json=body)
    assert listed.status_code == 201, listed.text
    stock = await http.post(f"/exchange/items/{listed.json()['id']}/stock", headers=unit, json={"stock": 9})
    assert stock.json()["stock"] == 9
    negative = await http.post(f"/exchange/items/{listed.json()['id']}/stock", headers=unit, json={"stock": -1})
    assert negative.status_code == 422 and "stock" in negative.text
    withdrawn = await http.post(f"/exchange/items/{listed.json()['id']}/withdraw", headers=unit)
    assert withdrawn.json()["status"] == "withdrawn"


async def test_merchant_account_is_confined_to_the_exchange(http: httpx.AsyncClient, pool: Pool,
                                                            api_city: ApiCity) -> None:
    shop = await _merchant(http, pool, api_city)
    for path in ("/members", "/units", "/tasks/claimable", "/ledger"):
        resp = await http.get(path, headers=shop.headers)
        assert resp.status_code == 403 and "积分兑换" in resp.json()["message"], (path, resp.text)
    assert (await http.get("/auth/me", headers=shop.headers)).json()["role"] == "provider"
    # an item naming no community or district is for the members of the merchant's own community
    now = datetime.now(UTC)
    own = await http.post("/exchange/items", headers=shop.headers, json={
        "name": "毛巾", "points": 1, "stock": 1, "valid_from": now.isoformat(),
        "valid_until": (now + timedelta(days=1)).isoformat(), "collect_at": "前台"})
    assert own.status_code == 201 and own.json()["community_id"] == api_city.community["A"], own.text
    # a community's staff admit merchants only in their own community
    resp = await http.post("/exchange/providers", headers=api_city.auth("staff_a"), json={
        "name": "外社区商户", "community_id": api_city.community["B"], "contact_name": "李", "phone": "13700000001"})
    assert resp.status_code == 404 and "community_id" in resp.json()["message"]


async def test_provider_changes_validity_and_issued_codes_keep_their_deadline(
        http: httpx.AsyncClient, pool: Pool, api_city: ApiCity) -> None:
    shop = await _merchant(http, pool, api_city)
    item = await _item(http, api_city, shop, points=2, stock=3)
    _, member = await _member_with_points(pool, api_city, 10)
    made = await _redeem(http, member, item["id"])
    assert made.status_code == 201, made.text
    now = datetime.now(UTC)
    until = now + timedelta(days=60)
    later: dict[str, object] = {"valid_from": (now - timedelta(hours=1)).isoformat(), "valid_until": until.isoformat(),
                                "collect_hours": 24}
    changed = await http.post(f"/exchange/items/{item['id']}/validity", headers=shop.headers, json=later)
    assert changed.status_code == 200, changed.text
    assert changed.json()["collect_hours"] == 24
    assert datetime.fromisoformat(changed.json()["valid_until"]) == until
    mine = (await http.get("/exchange/redemptions", headers=member)).json()["items"][0]
    assert mine["expires_at"] == made.json()["redemption"]["expires_at"], "an issued code keeps its deadline"
    backwards = await http.post(f"/exchange/items/{item['id']}/validity", headers=shop.headers,
                                json={**later, "valid_until": later["valid_from"]})
    assert backwards.status_code == 422 and "valid_until" in backwards.json()["message"], backwards.text
    assert [(e["loc"], "可兑换截止时间须晚于起始时间" in e["msg"]) for e in backwards.json()["errors"]] == [
        (["body", "valid_until"], True)]
    other = Shop(api_city.provider["B"], api_city.auth("provider_b"))
    foreign = await http.post(f"/exchange/items/{item['id']}/validity", headers=other.headers, json=later)
    assert foreign.status_code == 404
    # the window closed (ends before now): members no longer see it
    closed = await http.post(f"/exchange/items/{item['id']}/validity", headers=shop.headers, json={
        "valid_from": (now - timedelta(days=2)).isoformat(), "valid_until": (now - timedelta(days=1)).isoformat(),
        "collect_hours": 24})
    assert closed.status_code == 200, closed.text
    listed = await http.get("/exchange/items", headers=member, params={"limit": 500})
    assert item["id"] not in [i["id"] for i in listed.json()["items"]]
