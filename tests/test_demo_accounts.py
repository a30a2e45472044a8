"""`up --demo`'s sign-ins: one account per role, scoped as the demo tokens, printed with its password."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from db.pool import Pool
from demo.accounts import DEMO_PASSWORD, DEMO_PHONES, demo_accounts, sign_in_table
from demo.exchange import ensure_demo_merchant
from schemas.auth import Role, ScopeKind
from tests.api_fixtures import ApiCity, api_city_fixture  # noqa: F401
from tests.sign_in_fixtures import clock_fixture, signin_http_fixture  # noqa: F401


async def test_each_printed_demo_sign_in_works_with_its_role_and_scope(
    signin_http: httpx.AsyncClient, pool: Pool, api_city: ApiCity
) -> None:
    """Every row of the printed table signs in as that role and scope; seeding again restores a changed password."""
    async with pool.acquire() as conn:
        provider_id = await ensure_demo_merchant(conn, community_id=api_city.community["A"], now=datetime.now(UTC))
    scopes = [
        (Role.org_department, ScopeKind.city, None, "全市组织部"),
        (Role.subdistrict, ScopeKind.subdistrict, api_city.subdistrict["A"], "街道A"),
        (Role.community_staff, ScopeKind.community, api_city.community["A"], "社区A"),
        (Role.unit_admin, ScopeKind.unit, api_city.unit["A"], "单位A"),
        (Role.member, ScopeKind.member, api_city.members["a3"].id, "党员a3"),
        (Role.provider, ScopeKind.provider, provider_id, "商户"),
    ]
    rows = await demo_accounts(pool, scopes)
    table = sign_in_table("http://127.0.0.1:8700/admin", rows)
    assert table[0] == "控制台 console: http://127.0.0.1:8700/admin"
    assert [r[0] for r in rows] == [r.value for r in Role]
    for (role, kind, scope_id, _), (_, name, phone, password) in zip(scopes, rows, strict=True):
        assert phone == DEMO_PHONES[role] and password == DEMO_PASSWORD
        assert any(phone in line and password in line and name in line for line in table)
        resp = await signin_http.post("/auth/login", json={"phone": phone, "password": password})
        assert resp.status_code == 200, resp.text
        me = resp.json()
        assert (me["role"], me["scope_kind"], me["scope_id"]) == (role.value, kind.value, scope_id)
        signin_http.cookies.clear()
    async with pool.acquire() as conn:
        await conn.execute("UPDATE account SET password_hash = 'changed' WHERE phone = $1",
                           DEMO_PHONES[Role.member])
    again = await demo_accounts(pool, scopes)
    assert again == rows
    resp = await signin_http.post("/auth/login", json={"phone": DEMO_PHONES[Role.member], "password": DEMO_PASSWORD})
    assert resp.status_code == 200
