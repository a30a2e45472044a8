"""Brakes on the public routes (no token): many wrong codes from one address are stopped with 429,
the right code from another address still works, a code used too often is stopped wherever it
comes from, and certificate numbers are random, not a walkable sequence."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from temporalio.client import Client

from api.app import create_app
from api.rate_limits import PER_ADDRESS, PER_CODE
from db.pool import Pool
from domain.certificate import number_shaped
from schemas.auth import Role, ScopeKind
from services.tokens import issue_token
from tests.test_dispatch_workflow import make_city
from tests.test_unit_transfer_api import build_world

ADDRESS_LIMIT = int(PER_ADDRESS.split("/")[0])
CODE_LIMIT = int(PER_CODE.split("/")[0])


@asynccontextmanager
async def _from(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests come from `address`."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http


async def _stopped_after_limit(send: Callable[[], object], limit: int) -> httpx.Response:
    """Send `limit` requests (none refused for speed), then one more, which is returned."""
    for n in range(limit):
        resp = await send()  # type: ignore[misc]
        assert resp.status_code != 429, (n, resp.text)
    last: httpx.Response = await send()  # type: ignore[misc]
    return last


def _is_brake(resp: httpx.Response) -> None:
    assert resp.status_code == 429, resp.text
    assert resp.json()["code"] == "rate_limited" and "频繁" in resp.json()["message"]
    assert int(resp.headers["retry-after"]) >= 1


async def test_need_code_guessing_is_stopped_per_address_and_a_code_per_use(pool: Pool, client: Client) -> None:
    """Wrong need codes from one address reach 429 after the limit; the right code from another
    address is still accepted; the same code used past its limit from fresh addresses is stopped."""
    app = create_app(pool=pool, temporal_client=client)
    city = await make_city(pool)
    async with pool.acquire() as conn:
        _, token = await issue_token(conn, role=Role.community_staff, scope_kind=ScopeKind.community,
                                     scope_id=city.community_id, label="刹车测试")
    async with _from(app, "203.0.113.7") as guesser, _from(app, "198.51.100.9") as resident:
        issued = await resident.post(f"/grids/{city.grid_id}/need-code",
                                     headers={"Authorization": f"Bearer {token}"})
        code = issued.json()["code"]
        need = {"category": "助老助残", "description": "楼道灯坏了"}
        guesses = iter(range(1000))

        async def guess() -> httpx.Response:
            return await guesser.post("/resident/needs", json=need | {"code": f"sbd_need_g{next(guesses)}"})

        _is_brake(await _stopped_after_limit(guess, ADDRESS_LIMIT))
        right = await resident.post("/resident/needs", json=need | {"code": code})
        assert right.status_code == 201, right.text
        for n in range(CODE_LIMIT - 1):   # the right code once more from fresh addresses, up to its limit
            async with _from(app, f"192.0.2.{n + 1}") as other:
                assert (await other.post("/resident/needs", json=need | {"code": code})).status_code == 201
        async with _from(app, "192.0.2.200") as fresh:
            _is_brake(await fresh.post("/resident/needs", json=need | {"code": code}))


async def test_rating_code_guessing_is_stopped_per_address(pool: Pool, client: Client) -> None:
    """Wrong rating codes from one address reach 429; another address is still answered (404)."""
    app = create_app(pool=pool, temporal_client=client)
    async with _from(app, "203.0.113.8") as guesser, _from(app, "198.51.100.10") as other:
        guesses = iter(range(1000))

        async def guess() -> httpx.Response:
            return await guesser.post("/resident/rating", json={"code": f"sbd_rate_g{next(guesses)}", "score": 5})

        _is_brake(await _stopped_after_limit(guess, ADDRESS_LIMIT))
        resp = await other.post("/resident/rating", json={"code": "sbd_rate_x", "score": 5})
        assert resp.status_code == 404 and resp.json()["code"] == "bad_rating_code"


async def test_certificate_check_guessing_is_stopped_and_numbers_are_random(pool: Pool, client: Client) -> None:
    """Printed numbers are BDZ + 12 random characters; wrong codes against a number from one address
    reach 429 while the right code from another address still checks valid."""
    app = create_app(pool=pool, temporal_client=client)
    world = await build_world(pool)
    async with _from(app, "203.0.113.9") as guesser, _from(app, "198.51.100.11") as holder:
        page = (await holder.get(f"/registrations/members/{world.registrations['m0']}/certificate",
                                 headers=world.auth("member0"))).text
        number = re.findall(r"证书编号: (BDZ[0-9A-Z]+)", page)[0]
        code = re.findall(r'class="code">([A-Z0-9]+)<', page)[0]
        assert number_shaped(number) and str(world.registrations["m0"]) not in number[3:]
        guesses = iter(range(10_000_000, 10_001_000))

        async def guess() -> httpx.Response:
            return await guesser.get(f"/certificates/{number}", params={"code": f"Z{next(guesses)}"[:8]})

        _is_brake(await _stopped_after_limit(guess, ADDRESS_LIMIT))
        ok = await holder.get(f"/certificates/{number}", params={"code": code})
        assert ok.status_code == 200 and ok.json()["valid"] is True, ok.text
