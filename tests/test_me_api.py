"""The member's own reads 我的 (/me/*): registrations with names and the reason a registration was
returned, re-registration when due, points in both ledgers line by line with each line's reason,
the certificate with its QR code. A member reads only their own; other roles are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from db import points as points_db
from db.pool import Pool
from schemas.auth import Role, ScopeKind
from tests import places
from tests.api_fixtures import ApiCity, api_city_fixture, api_http_fixture, bearer  # noqa: F401


async def _fresh_member(pool: Pool, api_city: ApiCity) -> tuple[int, dict[str, str]]:
    """A member of their own living in community A (grid A1), and their member token."""
    async with pool.acquire() as conn:
        member_id = await places.add_member(conn, community_id=api_city.community["A"],
                                            grid_id=api_city.grids["A"][0], unit_id=api_city.unit["A"],
                                            phone="13600007777")
    return member_id, await bearer(pool, Role.member, ScopeKind.member, member_id)


async def test_register_see_why_returned_and_register_again(
    api_http: httpx.AsyncClient, api_city: ApiCity, pool: Pool
) -> None:
    """A fresh member sees where they live (by name) and no registration; registers there; sees
    待确认; the community returns it with a reason; the member sees 已退回 and the reason."""
    member_id, me = await _fresh_member(pool, api_city)
    r = await api_http.get("/me/registrations", headers=me)
    assert r.status_code == 200, r.text
    mine = r.json()
    assert mine["items"] == []
    assert (mine["home_community_id"], mine["home_grid_id"]) == (api_city.community["A"], api_city.grids["A"][0])
    assert mine["home_community_name"] and mine["home_grid_name"]

    r = await api_http.post("/registrations/members", headers=me,
                            json={"member_id": member_id, "community_id": api_city.community["A"],
                                  "grid_id": api_city.grids["A"][1]})
    assert r.status_code == 201, r.text
    registration_id = r.json()["id"]
    [item] = (await api_http.get("/me/registrations", headers=me)).json()["items"]
    assert (item["id"], item["status"], item["status_label"]) == (registration_id, "submitted", "待确认")
    assert (item["community_name"], item["grid_id"]) == (mine["home_community_name"], api_city.grids["A"][1])
    assert item["renewal_due"] is False and item["certificate_number"] is None

    r = await api_http.post("/registrations/members/reject", headers=api_city.auth("staff_a"),
                            json={"ids": [registration_id], "reason": "请填写居住楼栋后再报到"})
    assert r.status_code == 200, r.text
    [item] = (await api_http.get("/me/registrations", headers=me)).json()["items"]
    assert (item["status"], item["status_label"], item["reason"]) == ("rejected", "已退回", "请填写居住楼栋后再报到")
    [note] = (await api_http.get("/inbox", headers=me)).json()["items"]
    assert note["title"] == "报到被退回" and "请填写居住楼栋后再报到" in note["body"]

    r = await api_http.post("/registrations/members", headers=me, json={"member_id": member_id})
    assert r.status_code == 201, r.text
    items = (await api_http.get("/me/registrations", headers=me)).json()["items"]
    assert [i["status"] for i in items] == ["submitted", "rejected"]   # newest first
    r = await api_http.post("/registrations/members/confirm", headers=api_city.auth("staff_a"),
                            json={"ids": [items[0]["id"]]})
    assert r.status_code == 200, r.text
    inbox = (await api_http.get("/inbox", headers=me)).json()["items"]
    assert [n["title"] for n in inbox] == ["报到已确认", "报到被退回"]
    assert "报到证" in inbox[0]["body"]


async def test_renewal_due_within_thirty_days_or_lapsed(
    api_http: httpx.AsyncClient, api_city: ApiCity, pool: Pool
) -> None:
    """An active registration is due for re-registration 30 days before it runs out, not before;
    renewing it through the existing route moves it out of the window."""
    member_id, me = await _fresh_member(pool, api_city)
    async with pool.acquire() as conn:
        registration_id = await places.register_member(conn, member_id, community_id=api_city.community["A"],
                                                       grid_id=api_city.grids["A"][0])
        await conn.execute("UPDATE member_registration SET valid_until = $2 WHERE id = $1",
                           registration_id, datetime.now(UTC) + timedelta(days=40))
    [item] = (await api_http.get("/me/registrations", headers=me)).json()["items"]
    assert (item["status_label"], item["renewal_due"]) == ("已报到", False)
    async with pool.acquire() as conn:
        await conn.execute("UPDATE member_registration SET valid_until = $2 WHERE id = $1",
                           registration_id, datetime.now(UTC) + timedelta(days=10))
    [item] = (await api_http.get("/me/registrations", headers=me)).json()["items"]
    assert item["renewal_due"] is True
    r = await api_http.post(f"/registrations/members/{registration_id}/renew", headers=me)
    assert r.status_code == 200, r.text
    [item] = (await api_http.get("/me/registrations", headers=me)).json()["items"]
    assert item["renewal_due"] is False


async def _points_world(pool: Pool, api_city: ApiCity, member_id: int) -> dict[str, int]:
    """For `member_id`: a campaign's task credited to both ledgers (12 points, 1.5 h), an approved
    service record credited to evaluation only (22 points, 2 h), and a redemption (-5)."""
    now = datetime.now(UTC)
    community, grid = api_city.community["A"], api_city.grids["A"][0]
    async with pool.acquire() as conn, conn.transaction():
        task = await conn.fetchval(
            "INSERT INTO task (community_id, grid_id, title, category, mode, headcount, window_start,"
            " window_end, qr_token_hash, created_by) VALUES ($1, $2, '清扫楼道', '环境整治', 'dispatch', 1,"
            " $3, $4, 'x', 'test') RETURNING id", community, grid, now - timedelta(days=3),
            now - timedelta(days=3) + timedelta(hours=2))
        campaign = await conn.fetchval(
            "INSERT INTO campaign (name, kind, launched_by_kind, launched_by_id, scope_district_ids,"
            " window_start, window_end, created_by, status, redeemable) VALUES ('文明城市创建', '文明城市创建',"
            " 'district', $1, ARRAY[$1]::bigint[], $2, $3, 'test', 'running', true) RETURNING id",
            api_city.district["A"], now - timedelta(days=10), now + timedelta(days=10))
        await conn.execute("INSERT INTO campaign_task (campaign_id, task_id) VALUES ($1, $2)", campaign, task)
        record = await conn.fetchval(
            "INSERT INTO service_record (member_id, community_id, category, started_at, ended_at, hours,"
            " status, points, decided_by, decided_at, created_by, created_at)"
            " VALUES ($1, $2, '助老助残', $3, $4, 2, 'approved', 22, 'test', $5, 'test', $5) RETURNING id",
            member_id, community, now - timedelta(days=20), now - timedelta(days=20) + timedelta(hours=2),
            now - timedelta(days=2))
        task_parts = {"hours": 1.5, "base": 15, "total": 12}
        await points_db.credit_services(conn, task_id=task, member_ids=[member_id],
                                        service_keys=[f"task:{task}:member:{member_id}"], points=[12],
                                        parts=[task_parts], redeemable=True, at=now - timedelta(days=1))
        await conn.execute(
            "INSERT INTO evaluation_points (member_id, service_record_id, service_key, points, parts, awarded_at)"
            " VALUES ($1, $2, $3, 22, $4, $5)", member_id, record, f"record:{record}",
            {"hours": 2, "total": 22}, now - timedelta(days=2))
        await conn.execute(
            "INSERT INTO redeemable_points (member_id, service_key, points, parts, awarded_at)"
            " VALUES ($1, $2, -5, '{}'::jsonb, $3)", member_id, f"test-redeem:{member_id}", now)
    return {"task": task, "record": record}


async def test_my_points_both_ledgers_line_by_line(
    api_http: httpx.AsyncClient, api_city: ApiCity, pool: Pool
) -> None:
    member_id, me = await _fresh_member(pool, api_city)
    ids = await _points_world(pool, api_city, member_id)
    r = await api_http.get("/me/points", headers=me)
    assert r.status_code == 200, r.text
    mine = r.json()
    assert (mine["evaluation_balance"], mine["redeemable_balance"]) == (34.0, 7.0)
    assert (mine["service_count"], mine["service_hours"]) == (2, 3.5)
    lines = mine["lines"]
    assert lines["total"] == 4
    got = [(i["ledger"], i["points"], i["source"], i["reason"]) for i in lines["items"]]
    assert got == [
        ("redeemable", -5.0, "other", "积分兑换"),
        ("evaluation", 12.0, "task", "任务「清扫楼道」 (1.5 小时) · 活动「文明城市创建」"),
        ("redeemable", 12.0, "task", "任务「清扫楼道」 (1.5 小时) · 活动「文明城市创建」"),
        ("evaluation", 22.0, "service_record", "服务记录: 助老助残 (2 小时)"),
    ]
    assert lines["items"][1]["task_id"] == ids["task"]
    assert lines["items"][3]["service_record_id"] == ids["record"]

    r = await api_http.get("/me/points", headers=me, params={"ledger": "redeemable", "limit": 1, "offset": 1})
    page = r.json()["lines"]
    assert (page["total"], [i["points"] for i in page["items"]]) == (2, [12.0])
    r = await api_http.get("/me/points", headers=me, params={"ledger": "金币"})
    assert r.status_code == 422 and "ledger" in r.text


async def test_a_member_reads_only_their_own_and_other_roles_are_refused(
    api_http: httpx.AsyncClient, api_city: ApiCity, pool: Pool
) -> None:
    """Another member's lines never show; the token decides whose, and staff get 403 with a
    Chinese message before any lookup."""
    owner, _ = await _fresh_member(pool, api_city)
    await _points_world(pool, api_city, owner)
    _, other = await _fresh_member(pool, api_city)
    mine = (await api_http.get("/me/points", headers=other)).json()
    assert (mine["evaluation_balance"], mine["lines"]["total"]) == (0.0, 0)
    for route in ("/me/points", "/me/registrations", "/me/certificate"):
        for actor in ("staff_a", "unit_a", "org_d1"):
            r = await api_http.get(route, headers=api_city.auth(actor))
            assert r.status_code == 403 and "党员本人" in r.json()["message"], (route, actor, r.text)


async def test_my_certificate_once_active(api_http: httpx.AsyncClient, api_city: ApiCity, pool: Pool) -> None:
    """Without an active registration: 409 saying why. Once active: the certificate with its
    number, the public check's address and QR code; the same number on every view, and the
    public check answers it is valid."""
    member_id, me = await _fresh_member(pool, api_city)
    r = await api_http.get("/me/certificate", headers=me)
    assert r.status_code == 409 and "报到证" in r.json()["message"]
    async with pool.acquire() as conn:
        await places.register_member(conn, member_id, community_id=api_city.community["A"],
                                     grid_id=api_city.grids["A"][0], confirmed_at=datetime.now(UTC))
    r = await api_http.get("/me/certificate", headers=me)
    assert r.status_code == 200, r.text
    cert = r.json()
    assert cert["qr_data_uri"].startswith("data:image/svg+xml")
    assert f"/certificates/{cert['number']}?code=" in cert["check_url"]
    assert cert["phone_masked"] == "136****7777"
    again = (await api_http.get("/me/certificate", headers=me)).json()
    assert (again["number"], again["code"]) == (cert["number"], cert["code"])
    [item] = (await api_http.get("/me/registrations", headers=me)).json()["items"]
    assert item["certificate_number"] == cert["number"]
    check = await api_http.get(f"/certificates/{cert['number']}", params={"code": cert["code"]})
    assert check.json()["valid"] is True
