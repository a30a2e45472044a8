"""The API server stops within its grace period whatever requests are in flight, and keeps an
idle keep-alive connection open longer than clients and proxies do without that holding its stop.

A request that never finishes (as one waiting on a wedged workflow update did) used to hold
uvicorn's shutdown, and with it `up` and `serve`, until someone sent kill -9.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn
from fastapi import FastAPI

from api.server import KEEP_ALIVE_SECONDS, api_server
from schemas.settings import Settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def _serving(app: FastAPI, grace_seconds: int) -> AsyncIterator[tuple[uvicorn.Server, asyncio.Task[None], httpx.AsyncClient]]:
    """The app served on a free port until the block ends: the server, its serving task and a
    client of it, once the server has started."""
    port = _free_port()
    server = api_server(app, Settings(graceful_shutdown_seconds=grace_seconds), host="127.0.0.1", port=port)
    serving = asyncio.create_task(server.serve())
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        for _ in range(100):
            if server.started:
                break
            await asyncio.sleep(0.05)
        yield server, serving, http


async def test_a_hanging_request_does_not_hold_the_stop() -> None:
    app = FastAPI()
    entered = asyncio.Event()

    @app.get("/hang")
    async def hang() -> None:
        entered.set()
        await asyncio.Event().wait()    # never set: the request would wait for ever

    async with _serving(app, 2) as (server, serving, http):
        request = asyncio.create_task(http.get("/hang"))
        await asyncio.wait_for(entered.wait(), timeout=10)
        asked = time.monotonic()
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=15)
        took = time.monotonic() - asked
        assert took < 2 + 3, f"the server took {took:.1f}s to stop with a 2s grace period"
        assert took >= 1.5, "the request was not given its grace period"
        outcome = (await asyncio.gather(request, return_exceptions=True))[0]
        # the hanging request was cut off: an error answer or a closed connection, never a 200
        assert isinstance(outcome, httpx.HTTPError) or (
            isinstance(outcome, httpx.Response) and outcome.status_code >= 500), outcome


async def test_an_idle_keep_alive_connection_stays_open_and_does_not_hold_the_stop() -> None:
    """A client that waits a few seconds between requests reuses its connection (the server does not
    close it at uvicorn's 5 s default, racing the client's next request); at the stop, idle
    connections are closed at once."""
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ok": "yes"}

    async with _serving(app, 10) as (server, serving, http):
        assert server.config.timeout_keep_alive == KEEP_ALIVE_SECONDS >= 60
        assert (await http.get("/ping")).status_code == 200   # the connection is now idle, kept alive
        asked = time.monotonic()
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=15)
        took = time.monotonic() - asked
        assert took < 5, f"an idle keep-alive connection held the stop {took:.1f}s"
