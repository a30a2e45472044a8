"""One-time codes: SMS sign-in and first-sign-in password setup, through a real local SMS gateway.

The fake SMS gateway is tests/receivers.py's HTTP receiver, set as the city's SMS endpoint; it
checks each request as a real gateway would (Idempotency-Key, full phone, signature).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from db import account_code as code_db
from db import channel_endpoint as endpoint_db
from db.pool import Pool
from domain import sign_in as rules
from schemas.auth import Role, ScopeKind
from schemas.delivery import Channel, OwnerKind
from services.sign_in import SESSION_COOKIE
from tests.api_fixtures import ApiCity, api_city_fixture  # noqa: F401
from tests.receivers import SMS_PATH, Receiver, add_endpoint, receiver
from tests.sign_in_fixtures import (
    Clock,
    as_browser,
    clock_fixture,  # noqa: F401
    make_account,
    new_phone,
    signin_http_fixture,  # noqa: F401
)

__all__ = ["receiver"]   # fixture used by name

SAME_ANSWER = {"message": "如该手机号已开通账号, 验证码已发送, 5 分钟内有效"}


@pytest.fixture
async def sms_gateway(pool: Pool, receiver: Receiver) -> AsyncIterator[Receiver]:
    """The receiver as the city's SMS gateway for this test; disabled again afterwards."""
    endpoint = await add_endpoint(pool, owner_kind=OwnerKind.city, channel=Channel.sms, url=receiver.url(SMS_PATH))
    yield receiver
    async with pool.acquire() as conn:
        await endpoint_db.set_enabled(conn, endpoint_id=endpoint, enabled=False)


def _codes_to(gateway: Receiver, phone: str) -> list[str]:
    return [r.body["params"]["code"] for r in gateway.of("sms") if r.body["phone"] == phone]


async def _unit_admin_with_code(
    signin_http: httpx.AsyncClient, pool: Pool, sms_gateway: Receiver, unit_id: int
) -> tuple[int, str, str]:
    """(account id, phone, code) of a new passwordless unit admin of `unit_id` who has just asked for a code."""
    account_id, phone = await make_account(pool, role=Role.unit_admin, scope_kind=ScopeKind.unit,
                                           scope_id=unit_id, password=None)
    await signin_http.post("/auth/otp/request", json={"phone": phone})
    (code,) = _codes_to(sms_gateway, phone)
    return account_id, phone, code


async def test_code_request_answers_the_same_for_any_phone_and_sends_only_to_an_account(
    signin_http: httpx.AsyncClient, pool: Pool, sms_gateway: Receiver, clock: Clock, api_city: ApiCity
) -> None:
    """202 with one body whether or not the phone has an account; only the account's phone gets an SMS, at most once a minute."""
    _, phone = await make_account(pool, role=Role.member, scope_kind=ScopeKind.member,
                                  scope_id=api_city.members["b2"].id, password=None)
    stranger = new_phone()
    known = await signin_http.post("/auth/otp/request", json={"phone": phone})
    unknown = await signin_http.post("/auth/otp/request", json={"phone": stranger})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json() == SAME_ANSWER
    codes = _codes_to(sms_gateway, phone)
    assert len(codes) == 1 and len(codes[0]) == rules.LOGIN_CODE_DIGITS
    assert _codes_to(sms_gateway, stranger) == []
    assert sms_gateway.problems("sign-in-code:") == []
    sms = next(r for r in sms_gateway.of("sms") if r.body["phone"] == phone)
    assert sms.body["text"].startswith("【双报到】") and codes[0] in sms.body["text"]
    again = await signin_http.post("/auth/otp/request", json={"phone": phone})
    assert again.status_code == 202 and again.json() == SAME_ANSWER
    assert len(_codes_to(sms_gateway, phone)) == 1   # no second SMS within the minute
    clock.advance(rules.CODE_RESEND_INTERVAL)
    await signin_http.post("/auth/otp/request", json={"phone": phone})
    assert len(_codes_to(sms_gateway, phone)) == 2


async def test_sign_in_with_the_sms_code(
    signin_http: httpx.AsyncClient, pool: Pool, sms_gateway: Receiver, api_city: ApiCity
) -> None:
    """The code from the SMS signs the person in once; a wrong code gets the same 401 as an unknown phone."""
    account_id, phone = await make_account(pool, role=Role.member, scope_kind=ScopeKind.member,
                                           scope_id=api_city.members["a3"].id, password=None)
    await signin_http.post("/auth/otp/request", json={"phone": phone})
    (code,) = _codes_to(sms_gateway, phone)
    wrong_code = "000000" if code != "000000" else "111111"
    wrong = await signin_http.post("/auth/otp/login", json={"phone": phone, "code": wrong_code})
    stranger = await signin_http.post("/auth/otp/login", json={"phone": new_phone(), "code": code})
    assert wrong.status_code == stranger.status_code == 401
    assert wrong.json() == stranger.json() == {"code": "unauthenticated", "message": rules.BAD_CODE}
    ok = await signin_http.post("/auth/otp/login", json={"phone": phone, "code": code})
    assert ok.status_code == 200, ok.text
    assert ok.json()["account_id"] == account_id and ok.json()["role"] == "member"
    signin_http.cookies.clear()
    me = await signin_http.get("/auth/me", headers=as_browser({SESSION_COOKIE: ok.cookies[SESSION_COOKIE]}))
    assert me.status_code == 200
    reused = await signin_http.post("/auth/otp/login", json={"phone": phone, "code": code})
    assert reused.status_code == 401


async def test_a_code_expires_after_five_minutes(
    signin_http: httpx.AsyncClient, pool: Pool, sms_gateway: Receiver, clock: Clock, api_city: ApiCity
) -> None:
    """A sign-in code is refused once its 5 minutes are over."""
    _, phone, code = await _unit_admin_with_code(signin_http, pool, sms_gateway, api_city.unit["B"])
    clock.advance(rules.LOGIN_CODE_TTL)
    late = await signin_http.post("/auth/otp/login", json={"phone": phone, "code": code})
    assert late.status_code == 401


async def test_a_code_takes_at_most_five_wrong_tries(
    signin_http: httpx.AsyncClient, pool: Pool, sms_gateway: Receiver, clock: Clock, api_city: ApiCity
) -> None:
    """Five wrong codes use the code up (and lock the account): the right code is refused afterwards."""
    account_id, phone, code = await _unit_admin_with_code(signin_http, pool, sms_gateway, api_city.unit["A"])
    wrong_code = "000000" if code != "000000" else "111111"
    statuses = [(await signin_http.post("/auth/otp/login", json={"phone": phone, "code": wrong_code})).status_code
                for _ in range(rules.CODE_MAX_ATTEMPTS)]
    assert statuses == [401, 401, 401, 401, 423]
    async with pool.acquire() as conn:
        live = await code_db.select_live_code(conn, account_id=account_id, purposes=["login"], now=clock.now,
                                              max_attempts=rules.CODE_MAX_ATTEMPTS)
    assert live is None   # dead by its tries, though its 5 minutes are not over
    clock.advance(rules.LOCK_DURATION)
    after_lock = await signin_http.post("/auth/otp/login", json={"phone": phone, "code": code})
    assert after_lock.status_code == 401


async def test_first_sign_in_sets_the_password_with_the_setup_code(
    signin_http: httpx.AsyncClient, pool: Pool, api_city: ApiCity
) -> None:
    """An administrator's new account has no password; its setup code (shown once) sets one that follows the policy."""
    phone = new_phone()
    created = await signin_http.post(
        "/accounts", headers=api_city.auth("staff_a"),
        json={"phone": phone, "label": "李社工", "role": "community_staff", "scope_kind": "community",
              "scope_id": api_city.community["A"]},
    )
    assert created.status_code == 201, created.text
    setup_code = created.json()["setup_code"]
    assert setup_code and len(setup_code) == rules.SETUP_CODE_DIGITS
    assert created.json()["account"]["password_set"] is False
    no_password = await signin_http.post("/auth/login", json={"phone": phone, "password": "Anything1"})
    assert no_password.status_code == 401 and no_password.json()["message"] == rules.BAD_PASSWORD
    for weak, reason in (("abc123", "至少 8 位"), ("abcdefgh", "字母和数字"), ("12345678", "字母和数字")):
        refused = await signin_http.post("/auth/password/setup",
                                         json={"phone": phone, "code": setup_code, "new_password": weak})
        assert refused.status_code == 422 and reason in refused.json()["message"], refused.text
        assert "new_password" in refused.json()["message"]
    done = await signin_http.post("/auth/password/setup",
                                  json={"phone": phone, "code": setup_code, "new_password": "Shequ2024"})
    assert done.status_code == 200, done.text
    assert SESSION_COOKIE in done.cookies
    signin_http.cookies.clear()
    login = await signin_http.post("/auth/login", json={"phone": phone, "password": "Shequ2024"})
    assert login.status_code == 200
    signin_http.cookies.clear()
    again = await signin_http.post("/auth/password/setup",
                                   json={"phone": phone, "code": setup_code, "new_password": "Other2024x"})
    assert again.status_code == 401


async def test_setup_code_by_sms_and_reset_ends_other_sessions(
    signin_http: httpx.AsyncClient, pool: Pool, sms_gateway: Receiver, clock: Clock, api_city: ApiCity
) -> None:
    """A setup code sent by SMS is not shown; a later reset with an SMS code ends the sessions signed in before."""
    phone = new_phone()
    created = await signin_http.post(
        "/accounts", headers=api_city.auth("org_city"),
        json={"phone": phone, "label": "王书记", "role": "subdistrict", "scope_kind": "subdistrict",
              "scope_id": api_city.subdistrict["B"], "setup_code_delivery": "sms"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["setup_code"] is None
    (setup_code,) = _codes_to(sms_gateway, phone)
    first = await signin_http.post("/auth/password/setup",
                                   json={"phone": phone, "code": setup_code, "new_password": "Jiedao2024"})
    assert first.status_code == 200
    old_session = first.cookies[SESSION_COOKIE]
    signin_http.cookies.clear()
    clock.advance(timedelta(minutes=2))
    await signin_http.post("/auth/otp/request", json={"phone": phone})
    reset_code = _codes_to(sms_gateway, phone)[-1]
    reset = await signin_http.post("/auth/password/setup",
                                   json={"phone": phone, "code": reset_code, "new_password": "Jiedao2025"})
    assert reset.status_code == 200, reset.text
    signin_http.cookies.clear()
    assert (await signin_http.get("/auth/me", headers=as_browser({SESSION_COOKIE: old_session}))).status_code == 401
    assert (await signin_http.post("/auth/login", json={"phone": phone, "password": "Jiedao2024"})).status_code == 401
    assert (await signin_http.post("/auth/login", json={"phone": phone, "password": "Jiedao2025"})).status_code == 200


async def test_a_roster_member_signs_in_by_sms_code_and_acts_as_that_member(
    signin_http: httpx.AsyncClient, pool: Pool, sms_gateway: Receiver, api_city: ApiCity
) -> None:
    """A member's account from the roster signs in with an SMS code to the roster's phone and reads what the member's token reads."""
    # a2, not a1: a1's phone is the same in every test module's city, so another module may hold it
    made = await signin_http.post("/accounts/from-roster", headers=api_city.auth("org_d1"), json={"kind": "members"})
    assert made.status_code == 200, made.text
    phone = api_city.members["a2"].phone
    await signin_http.post("/auth/otp/request", json={"phone": phone})
    code = _codes_to(sms_gateway, phone)[-1]
    signed = await signin_http.post("/auth/otp/login", json={"phone": phone, "code": code})
    assert signed.status_code == 200, signed.text
    assert signed.json()["scope_kind"] == "member" and signed.json()["scope_id"] == api_city.members["a2"].id
    cookies = {SESSION_COOKIE: signed.cookies[SESSION_COOKIE]}
    signin_http.cookies.clear()
    token = await signin_http.post("/tokens", headers=api_city.auth("org_city"), json={
        "role": "member", "scope_kind": "member", "scope_id": api_city.members["a2"].id, "label": "a2"})
    as_token = {"Authorization": f"Bearer {token.json()['token']}"}
    for member, expected in ((api_city.members["a2"].id, 200), (api_city.members["b1"].id, 404)):
        by_session = await signin_http.get(f"/members/{member}", headers=as_browser(cookies))
        by_token = await signin_http.get(f"/members/{member}", headers=as_token)
        assert by_session.status_code == by_token.status_code == expected
        assert by_session.json() == by_token.json()
