"""Account administration over the API: who may create, list and disable which accounts; accounts
from the roster; masking of phones; disabling ends sessions; audit rows."""

from __future__ import annotations

import httpx

from db.pool import Pool
from domain.pii import mask_phone
from tests.api_fixtures import ApiCity, api_city_fixture  # noqa: F401
from tests.sign_in_fixtures import (
    as_browser,
    clock_fixture,  # noqa: F401
    new_phone,
    signin_http_fixture,  # noqa: F401
)


def _staff(api_city: ApiCity, side: str, phone: str, label: str = "社工") -> dict[str, object]:
    return {"phone": phone, "label": label, "role": "community_staff", "scope_kind": "community",
            "scope_id": api_city.community[side]}


async def _setup(http: httpx.AsyncClient, phone: str, code: str, password: str = "Zhanghao1") -> dict[str, str]:
    resp = await http.post("/auth/password/setup", json={"phone": phone, "code": code, "new_password": password})
    assert resp.status_code == 200, resp.text
    cookies = {k: resp.cookies[k] for k in ("sbd_session", "sbd_csrf")}
    http.cookies.clear()
    return cookies


async def test_who_may_create_which_accounts(signin_http: httpx.AsyncClient, api_city: ApiCity) -> None:
    """A district org department creates inside its district only; community staff only their own community's staff; units none."""
    in_scope = await signin_http.post("/accounts", headers=api_city.auth("org_d1"),
                                      json=_staff(api_city, "A", new_phone()))
    assert in_scope.status_code == 201, in_scope.text
    out_of_scope = await signin_http.post("/accounts", headers=api_city.auth("org_d1"),
                                          json=_staff(api_city, "B", new_phone()))
    assert out_of_scope.status_code == 403 and out_of_scope.json()["code"] == "forbidden"
    city_wide = await signin_http.post("/accounts", headers=api_city.auth("org_d1"), json={
        "phone": new_phone(), "label": "x", "role": "org_department", "scope_kind": "city"})
    assert city_wide.status_code == 403
    own_staff = await signin_http.post("/accounts", headers=api_city.auth("staff_a"),
                                       json=_staff(api_city, "A", new_phone()))
    assert own_staff.status_code == 201
    other_staff = await signin_http.post("/accounts", headers=api_city.auth("staff_a"),
                                         json=_staff(api_city, "B", new_phone()))
    assert other_staff.status_code == 403
    a_member = await signin_http.post("/accounts", headers=api_city.auth("staff_a"), json={
        "phone": new_phone(), "label": "x", "role": "member", "scope_kind": "member",
        "scope_id": api_city.members["a3"].id})
    assert a_member.status_code == 403
    unit = await signin_http.post("/accounts", headers=api_city.auth("unit_a"), json=_staff(api_city, "A", new_phone()))
    assert unit.status_code == 403


async def test_bad_account_input_names_the_field_and_changes_nothing(
    signin_http: httpx.AsyncClient, api_city: ApiCity
) -> None:
    """A malformed phone, a role with the wrong scope kind, a missing scope, a taken phone: clear errors."""
    bad_phone = await signin_http.post("/accounts", headers=api_city.auth("org_city"),
                                       json=_staff(api_city, "A", "12345"))
    assert bad_phone.status_code == 422 and "phone" in bad_phone.json()["message"]
    wrong_kind = await signin_http.post("/accounts", headers=api_city.auth("org_city"), json={
        "phone": new_phone(), "label": "x", "role": "community_staff", "scope_kind": "unit",
        "scope_id": api_city.unit["A"]})
    assert wrong_kind.status_code == 422 and "账号范围" in wrong_kind.json()["message"]
    missing = await signin_http.post("/accounts", headers=api_city.auth("org_city"), json={
        "phone": new_phone(), "label": "x", "role": "community_staff", "scope_kind": "community",
        "scope_id": 2**62})
    # answered as a scope outside the caller's would be: the ids confirm nothing
    assert missing.status_code == 403 and "无权在该范围" in missing.json()["message"]
    phone = new_phone()
    first = await signin_http.post("/accounts", headers=api_city.auth("org_city"), json=_staff(api_city, "B", phone))
    assert first.status_code == 201
    taken = await signin_http.post("/accounts", headers=api_city.auth("org_city"), json=_staff(api_city, "A", phone))
    assert taken.status_code == 409 and "phone" in taken.json()["message"]


async def test_list_is_scoped_paged_and_masks_phones_per_role(
    signin_http: httpx.AsyncClient, api_city: ApiCity
) -> None:
    """Community A's staff list A's accounts with full phones, never B's; the city sees both, masked; units get 403."""
    phone_a, phone_b = new_phone(), new_phone()
    a = (await signin_http.post("/accounts", headers=api_city.auth("org_city"),
                                json=_staff(api_city, "A", phone_a))).json()["account"]["id"]
    b = (await signin_http.post("/accounts", headers=api_city.auth("org_city"),
                                json=_staff(api_city, "B", phone_b))).json()["account"]["id"]
    staff = await signin_http.get("/accounts", headers=api_city.auth("staff_a"), params={"limit": 500})
    assert staff.status_code == 200
    seen = {item["id"]: item for item in staff.json()["items"]}
    assert a in seen and b not in seen and seen[a]["phone"] == phone_a
    city = await signin_http.get("/accounts", headers=api_city.auth("org_city"), params={"limit": 500})
    by_id = {item["id"]: item for item in city.json()["items"]}
    assert by_id[a]["phone"] == mask_phone(phone_a) and by_id[b]["phone"] == mask_phone(phone_b)
    assert phone_a not in city.text and phone_b not in city.text
    page = await signin_http.get("/accounts", headers=api_city.auth("org_city"), params={"limit": 1, "offset": 1})
    assert len(page.json()["items"]) == 1 and page.json()["total"] >= 2
    assert (await signin_http.get("/accounts", headers=api_city.auth("unit_a"))).status_code == 403


async def test_disabling_ends_the_sessions_and_refuses_sign_in(
    signin_http: httpx.AsyncClient, pool: Pool, api_city: ApiCity
) -> None:
    """A disabled account's open session is gone at once and its password no longer signs in; both steps audited."""
    phone = new_phone()
    created = (await signin_http.post("/accounts", headers=api_city.auth("staff_a"),
                                      json=_staff(api_city, "A", phone))).json()
    account_id = created["account"]["id"]
    cookies = await _setup(signin_http, phone, created["setup_code"])
    assert (await signin_http.get("/auth/me", headers=as_browser(cookies))).status_code == 200
    other = await signin_http.post(f"/accounts/{account_id}/disable", headers=api_city.auth("staff_b"))
    assert other.status_code == 404
    disabled = await signin_http.post(f"/accounts/{account_id}/disable", headers=api_city.auth("staff_a"))
    assert disabled.status_code == 200 and disabled.json()["disabled_at"] is not None
    assert (await signin_http.get("/auth/me", headers=as_browser(cookies))).status_code == 401
    login = await signin_http.post("/auth/login", json={"phone": phone, "password": "Zhanghao1"})
    assert login.status_code == 401
    async with pool.acquire() as conn:
        actions = [r["action"] for r in await conn.fetch(
            "SELECT action FROM audit_log WHERE subject_kind = 'account' AND subject_id = $1 ORDER BY id",
            account_id)]
    assert actions == ["account_created", "password_set", "sign_in", "account_disabled"]


async def test_accounts_from_the_roster_for_members_and_unit_contacts_in_scope(
    signin_http: httpx.AsyncClient, pool: Pool, api_city: ApiCity
) -> None:
    """Roster members of the district and unit contacts get password-less accounts scoped to themselves, once; community staff may not."""
    members = await signin_http.post("/accounts/from-roster", headers=api_city.auth("org_d1"),
                                     json={"kind": "members"})
    assert members.status_code == 200, members.text
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT id, role, scope_kind, scope_id, label, password_hash FROM account WHERE phone = $1",
            api_city.members["a2"].phone)
        in_b = await conn.fetchval("SELECT count(*) FROM account WHERE scope_kind = 'member' AND scope_id = $1",
                                   api_city.members["b1"].id)
    assert row is not None and row["role"] == "member" and row["scope_id"] == api_city.members["a2"].id
    assert row["password_hash"] is None and in_b == 0   # b1 lives in district B
    again = await signin_http.post("/accounts/from-roster", headers=api_city.auth("org_d1"), json={"kind": "members"})
    assert again.json()["created"] == 0
    contacts = await signin_http.post("/accounts/from-roster", headers=api_city.auth("org_city"),
                                      json={"kind": "unit_contacts"})
    assert contacts.status_code == 200
    refused = await signin_http.post("/accounts/from-roster", headers=api_city.auth("staff_a"), json={"kind": "members"})
    assert refused.status_code == 403
    async with pool.acquire() as conn:
        audited = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE subject_kind = 'account' AND subject_id = $1"
            " AND action = 'account_created'", row["id"])
    assert audited == 1
