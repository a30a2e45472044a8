"""Brakes on the public routes (no token): residents' codes, the certificate check, sign-in.

Two moving-window limits (the `limits` library), both checked before any work is done:

- per client address and route: `PER_ADDRESS` requests; a guesser trying many wrong codes from
  one address is stopped, while the right code from another address still works;
- per presented code (or certificate number) and route: `PER_CODE` uses; a leaked code cannot be
  used to flood a community with needs or ratings, from however many addresses.

Counters live in this API process's memory (one `PublicBrakes` per app): enough for one API
process. With several replicas each counts on its own, so production also limits these paths at
the reverse proxy (docs/operations.md). The client address is the socket's peer, or the
forwarded one when uvicorn runs with proxy headers behind a trusted proxy.
"""

from __future__ import annotations

import math
import time

from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from domain.errors import TooManyRequests

PER_ADDRESS = "20/minute"
PER_CODE = "10/minute"
# Reads of the public board 晒单 (no code): per client address only, looser than the code routes.
PER_ADDRESS_READS = "60/minute"

# (method, path) of every braked route: /openapi.json documents their 429 answer.
RATE_LIMITED_ROUTES: set[tuple[str, str]] = {
    ("POST", "/resident/needs"),
    ("POST", "/resident/rating"),
    ("POST", "/resident/need-code/open"),
    ("POST", "/resident/rating-code/open"),
    ("POST", "/resident/need-follow"),
    ("GET", "/resident/board/{community_id}"),
    ("GET", "/certificates/{number}"),
    # sign-in: per address and per phone (the "code" key), on top of the account lockout
    ("POST", "/auth/login"),
    ("POST", "/auth/otp/request"),
    ("POST", "/auth/otp/login"),
    ("POST", "/auth/password/setup"),
    # a provider confirming one-time codes: per address and per provider, so codes cannot be guessed
    ("POST", "/exchange/confirm"),
}


class PublicBrakes:
    """The counters of one API process."""

    def __init__(self, *, per_address: str = PER_ADDRESS, per_code: str = PER_CODE,
                 per_address_reads: str = PER_ADDRESS_READS) -> None:
        self.per_address: RateLimitItem = parse(per_address)
        self.per_code: RateLimitItem = parse(per_code)
        self.per_address_reads: RateLimitItem = parse(per_address_reads)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def _hit(self, item: RateLimitItem, *key: str) -> None:
        if await self._limiter.hit(item, *key):
            return
        stats = await self._limiter.get_window_stats(item, *key)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyRequests(f"请求过于频繁, 请 {wait} 秒后再试", retry_after=wait)

    async def check(self, *, route: str, address: str, code: str) -> None:
        """Count one request; TooManyRequests (429) when the address or the code is over its limit.

        The address is counted first: requests it is refused do not use up the code's budget.
        """
        await self._hit(self.per_address, route, "address", address)
        await self._hit(self.per_code, route, "code", code.strip().upper())

    async def check_read(self, *, route: str, address: str) -> None:
        """Count one public read (no code); TooManyRequests when the address is over its limit."""
        await self._hit(self.per_address_reads, route, "address", address)


def _address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


async def brake(request: Request, *, route: str, code: str) -> None:
    """Apply the app's brakes to this request (the app factory put them on `app.state`)."""
    brakes: PublicBrakes = request.app.state.public_brakes
    await brakes.check(route=route, address=_address(request), code=code)


async def brake_read(request: Request, *, route: str) -> None:
    """Apply the app's brake on public reads (per address) to this request."""
    brakes: PublicBrakes = request.app.state.public_brakes
    await brakes.check_read(route=route, address=_address(request))
