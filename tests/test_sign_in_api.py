"""Sign-in for people over the API: password sign-in, cookies, CSRF, lockout, expiry, sign-out, audit.

Real Postgres and the real app; time moves through the app's injected clock, never by sleeping.
"""

from __future__ import annotations

from datetime import timedelta

import httpx

from db.pool import Pool
from domain import sign_in as rules
from schemas.auth import Role, ScopeKind
from services.sign_in import CSRF_COOKIE, SESSION_COOKIE
from tests.api_fixtures import ApiCity, api_city_fixture  # noqa: F401
from tests.sign_in_fixtures import (
    PASSWORD,
    Clock,
    as_browser,
    clock_fixture,  # noqa: F401
    make_account,
    new_phone,
    sign_in,
    signin_http_fixture,  # noqa: F401
)


async def _audit_actions(pool: Pool, account_id: int) -> list[str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT action FROM audit_log WHERE subject_kind = 'account' AND subject_id = $1 ORDER BY id",
            account_id,
        )
    return [r["action"] for r in rows]


async def test_login_sets_session_and_csrf_cookies_and_me_answers(
    signin_http: httpx.AsyncClient, pool: Pool, api_city: ApiCity
) -> None:
    """A right phone and password: 200 with who I am, an HttpOnly Lax session cookie and a Strict CSRF cookie."""
    account_id, phone = await make_account(pool, role=Role.community_staff, scope_kind=ScopeKind.community,
                                           scope_id=api_city.community["A"], label="张社工")
    resp = await signin_http.post("/auth/login", json={"phone": phone, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["role"] == "community_staff" and body["scope_id"] == api_city.community["A"]
    assert body["account_id"] == account_id and body["label"] == "张社工"
    assert body["scope_name"].startswith("社区A")
    set_cookies = resp.headers.get_list("set-cookie")
    session = next(c for c in set_cookies if c.startswith(f"{SESSION_COOKIE}="))
    csrf = next(c for c in set_cookies if c.startswith(f"{CSRF_COOKIE}="))
    assert "HttpOnly" in session and "SameSite=lax" in session and "Path=/" in session
    assert "HttpOnly" not in csrf and "SameSite=strict" in csrf
    assert phone not in resp.text.replace(f'"phone":"{phone}"', "")   # the phone is not echoed anywhere
    signin_http.cookies.clear()
    me = await signin_http.get("/auth/me", headers=as_browser({SESSION_COOKIE: resp.cookies[SESSION_COOKIE]}))
    assert me.status_code == 200, me.text
    assert me.json()["account_id"] == account_id and me.json()["expires_at"] is not None
    assert await _audit_actions(pool, account_id) == ["sign_in"]


async def test_wrong_password_and_unknown_phone_answer_the_same(
    signin_http: httpx.AsyncClient, pool: Pool, api_city: ApiCity
) -> None:
    """A wrong password and a phone without an account get the same 401 body; the failure is audited."""
    account_id, phone = await make_account(pool, role=Role.member, scope_kind=ScopeKind.member,
                                           scope_id=api_city.members["a1"].id)
    wrong = await signin_http.post("/auth/login", json={"phone": phone, "password": "Wrong1234"})
    unknown = await signin_http.post("/auth/login", json={"phone": new_phone(), "password": "Wrong1234"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"code": "unauthenticated", "message": rules.BAD_PASSWORD}
    assert SESSION_COOKIE not in wrong.cookies
    assert await _audit_actions(pool, account_id) == ["sign_in_failed"]


async def test_lock_after_five_failures_and_unlock_after_the_window(
    signin_http: httpx.AsyncClient, pool: Pool, clock: Clock, api_city: ApiCity
) -> None:
    """Five failures within 15 minutes lock the account (423, even with the right password) until 15 minutes pass."""
    account_id, phone = await make_account(pool, role=Role.unit_admin, scope_kind=ScopeKind.unit,
                                           scope_id=api_city.unit["A"])
    answers = []
    for _ in range(rules.LOCK_THRESHOLD):
        clock.advance(timedelta(minutes=2))
        answers.append((await signin_http.post("/auth/login", json={"phone": phone, "password": "Nope12345"})).status_code)
    assert answers == [401, 401, 401, 401, 423]
    refused = await signin_http.post("/auth/login", json={"phone": phone, "password": PASSWORD})
    assert refused.status_code == 423 and refused.json()["code"] == "locked"
    assert refused.json()["message"].startswith("账号已锁定")
    clock.advance(rules.LOCK_DURATION - timedelta(seconds=1))
    assert (await signin_http.post("/auth/login", json={"phone": phone, "password": PASSWORD})).status_code == 423
    clock.advance(timedelta(seconds=1))
    assert (await signin_http.post("/auth/login", json={"phone": phone, "password": PASSWORD})).status_code == 200
    actions = await _audit_actions(pool, account_id)
    assert actions == ["sign_in_failed"] * 5 + ["account_locked", "sign_in_refused_locked",
                                                "sign_in_refused_locked", "sign_in"]


async def test_failures_spread_beyond_the_window_do_not_lock(
    signin_http: httpx.AsyncClient, pool: Pool, clock: Clock, api_city: ApiCity
) -> None:
    """Failures more than 15 minutes after the first start a new count instead of locking."""
    _, phone = await make_account(pool, role=Role.unit_admin, scope_kind=ScopeKind.unit, scope_id=api_city.unit["A"])
    for _ in range(8):
        clock.advance(timedelta(minutes=4))
        resp = await signin_http.post("/auth/login", json={"phone": phone, "password": "Nope12345"})
        assert resp.status_code == 401, resp.text


async def test_session_ends_when_idle_and_at_the_absolute_limit(
    signin_http: httpx.AsyncClient, pool: Pool, clock: Clock, api_city: ApiCity
) -> None:
    """A session idle for 2 hours is gone; one kept busy still ends 12 hours after sign-in."""
    _, phone = await make_account(pool, role=Role.community_staff, scope_kind=ScopeKind.community,
                                  scope_id=api_city.community["A"])
    idle = await sign_in(signin_http, phone)
    clock.advance(rules.SESSION_IDLE - timedelta(minutes=1))
    assert (await signin_http.get("/auth/me", headers=as_browser(idle))).status_code == 200
    clock.advance(rules.SESSION_IDLE - timedelta(minutes=1))   # the request above counted as activity
    assert (await signin_http.get("/auth/me", headers=as_browser(idle))).status_code == 200
    clock.advance(rules.SESSION_IDLE)
    gone = await signin_http.get("/auth/me", headers=as_browser(idle))
    assert gone.status_code == 401 and gone.json() == {"code": "unauthenticated", "message": rules.SESSION_EXPIRED}

    busy = await sign_in(signin_http, phone)
    for _ in range(11):
        clock.advance(timedelta(hours=1))
        assert (await signin_http.get("/auth/me", headers=as_browser(busy))).status_code == 200
    clock.advance(timedelta(hours=1))
    assert (await signin_http.get("/auth/me", headers=as_browser(busy))).status_code == 401


async def test_logout_revokes_the_session(signin_http: httpx.AsyncClient, pool: Pool, api_city: ApiCity) -> None:
    """After sign-out the same cookie no longer works, the cookies are cleared, and it is audited."""
    account_id, phone = await make_account(pool, role=Role.member, scope_kind=ScopeKind.member,
                                           scope_id=api_city.members["b1"].id)
    cookies = await sign_in(signin_http, phone)
    out = await signin_http.post("/auth/logout", headers=as_browser(cookies, csrf=cookies[CSRF_COOKIE]))
    assert out.status_code == 204
    cleared = [c for c in out.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}=")]
    assert cleared and ("Max-Age=0" in cleared[0] or "expires=Thu, 01 Jan 1970" in cleared[0])
    signin_http.cookies.clear()
    assert (await signin_http.get("/auth/me", headers=as_browser(cookies))).status_code == 401
    assert await _audit_actions(pool, account_id) == ["sign_in", "sign_out"]


async def test_csrf_is_required_for_cookie_writes_only(
    signin_http: httpx.AsyncClient, pool: Pool, api_city: ApiCity
) -> None:
    """A cookie-authenticated POST needs X-CSRF-Token equal to the sbd_csrf cookie (else 403 csrf); reads and bearer calls do not."""
    _, phone = await make_account(pool, role=Role.org_department, scope_kind=ScopeKind.city, scope_id=None)
    cookies = await sign_in(signin_http, phone)
    issue = {"role": "community_staff", "scope_kind": "community", "scope_id": api_city.community["A"],
             "label": "CSRF 测试"}
    missing = await signin_http.post("/tokens", json=issue, headers=as_browser(cookies))
    assert missing.status_code == 403 and missing.json()["code"] == "csrf"
    wrong = await signin_http.post("/tokens", json=issue, headers=as_browser(cookies, csrf="x" * 43))
    assert wrong.status_code == 403 and wrong.json()["code"] == "csrf"
    # A cookie the attacker planted, echoed in the header, is not this session's token either.
    planted = await signin_http.post(
        "/tokens", json=issue,
        headers=as_browser({**cookies, CSRF_COOKIE: "p" * 43}, csrf="p" * 43),
    )
    assert planted.status_code == 403 and planted.json()["code"] == "csrf"
    ok = await signin_http.post("/tokens", json=issue, headers=as_browser(cookies, csrf=cookies[CSRF_COOKIE]))
    assert ok.status_code == 201, ok.text
    read = await signin_http.get("/tokens", headers=as_browser(cookies))
    assert read.status_code == 200
    bearer = await signin_http.post("/tokens", json=issue, headers=api_city.auth("org_city"))
    assert bearer.status_code == 201, bearer.text


async def test_no_credentials_is_401(signin_http: httpx.AsyncClient) -> None:
    """Neither a bearer token nor a session cookie: 401 unauthenticated, as before."""
    resp = await signin_http.get("/members")
    assert resp.status_code == 401 and resp.json()["code"] == "unauthenticated"
    bogus = await signin_http.get("/members", headers=as_browser({SESSION_COOKIE: "nope"}))
    assert bogus.status_code == 401 and bogus.json()["code"] == "unauthenticated"


async def test_community_staff_session_sees_what_its_token_sees(
    signin_http: httpx.AsyncClient, pool: Pool, api_city: ApiCity
) -> None:
    """An account scoped like community A's staff token reads A's unit and not B's, exactly as the token."""
    _, phone = await make_account(pool, role=Role.community_staff, scope_kind=ScopeKind.community,
                                  scope_id=api_city.community["A"])
    cookies = await sign_in(signin_http, phone)
    for unit, expected in ((api_city.unit["A"], 200), (api_city.unit["B"], 404)):
        by_session = await signin_http.get(f"/units/{unit}", headers=as_browser(cookies))
        by_token = await signin_http.get(f"/units/{unit}", headers=api_city.auth("staff_a"))
        assert by_session.status_code == by_token.status_code == expected
        assert by_session.json() == by_token.json()
    members_session = await signin_http.get("/members", headers=as_browser(cookies), params={"limit": 500})
    members_token = await signin_http.get("/members", headers=api_city.auth("staff_a"), params={"limit": 500})
    assert members_session.json() == members_token.json()
