"""Shared by the sign-in tests: a movable clock, an app on it, and accounts made straight in the table.

Reuse with `from tests.sign_in_fixtures import clock_fixture, signin_http_fixture  # noqa: F401`.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from db import account as account_db
from db.pool import Pool
from schemas.auth import Role, ScopeKind
from services.sign_in import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, hash_password

PASSWORD = "Abcd1234"


@dataclass
class Clock:
    """The app's clock in these tests: starts now and moves only when told."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture(name="clock")
def clock_fixture() -> Clock:
    return Clock()


@pytest.fixture(name="signin_http")
async def signin_http_fixture(pool: Pool, client: Client, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process, the app on the movable clock."""
    app = create_app(pool=pool, temporal_client=client, clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test") as http:
        yield http


def new_phone() -> str:
    return "177" + "".join(random.choices("0123456789", k=8))


async def make_account(
    pool: Pool, *, role: Role, scope_kind: ScopeKind, scope_id: int | None, label: str = "测试账号",
    password: str | None = PASSWORD, phone: str | None = None,
) -> tuple[int, str]:
    """(account id, phone) of a committed account."""
    phone = phone or new_phone()
    async with pool.acquire() as conn:
        row = await account_db.insert_account(
            conn, phone=phone, label=label, role=role.value, scope_kind=scope_kind.value, scope_id=scope_id,
            source="admin", created_by="test", password_hash=None if password is None else await hash_password(password),
            now=datetime.now(UTC),
        )
    assert row is not None
    return row.id, phone


def session_cookies(resp: httpx.Response) -> dict[str, str]:
    return {SESSION_COOKIE: resp.cookies[SESSION_COOKIE], CSRF_COOKIE: resp.cookies[CSRF_COOKIE]}


async def sign_in(http: httpx.AsyncClient, phone: str, password: str = PASSWORD) -> dict[str, str]:
    """Sign in and return the cookies (the client's own jar is cleared: each call passes them explicitly)."""
    resp = await http.post("/auth/login", json={"phone": phone, "password": password})
    assert resp.status_code == 200, resp.text
    cookies = session_cookies(resp)
    http.cookies.clear()
    return cookies


def as_browser(cookies: dict[str, str], *, csrf: str | None = None) -> dict[str, str]:
    """Request headers a browser would send with these cookies (plus X-CSRF-Token when given)."""
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    if csrf is not None:
        headers[CSRF_HEADER] = csrf
    return headers
