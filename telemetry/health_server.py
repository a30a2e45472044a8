"""Health, readiness and metrics over plain HTTP for worker processes (no web framework).

A worker has no FastAPI app, yet the orchestrator still needs to know whether it is alive
(`/healthz`: the event loop answers), whether it should get work (`/readyz`: the caller's
check, usually Postgres and Temporal reachable), and what it did (`/metrics`: the app registry
of `telemetry.metrics`). The readiness checks shared with the API live here too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta

import asyncpg
import structlog
from temporalio.client import Client
from temporalio.service import RPCError

from db.pool import Pool
from telemetry import metrics

log = structlog.get_logger(__name__)

# A probe must answer quickly; a dependency slower than this counts as not ready.
CHECK_TIMEOUT_SECONDS = 2.0
# Header bytes a probe may send; anything larger is not a probe.
_MAX_HEADER_BYTES = 16 * 1024


async def database_ready(pool: Pool) -> bool:
    """True when a pooled connection answers `SELECT 1` within the probe timeout."""
    try:
        async with pool.acquire(timeout=CHECK_TIMEOUT_SECONDS) as conn:
            return bool(await conn.fetchval("SELECT 1", timeout=CHECK_TIMEOUT_SECONDS) == 1)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
        log.warning("readiness_database_failed", error=type(exc).__name__)
        return False


async def temporal_ready(client: Client) -> bool:
    """True when the Temporal frontend answers its gRPC health check."""
    try:
        return await client.service_client.check_health(
            timeout=timedelta(seconds=CHECK_TIMEOUT_SECONDS)
        )
    except (RPCError, OSError, TimeoutError, RuntimeError) as exc:
        # RuntimeError: a lazy client's first connect fails inside the SDK bridge with that type
        log.warning("readiness_temporal_failed", error=type(exc).__name__)
        return False


def dependencies_ready(pool: Pool, client: Client) -> Callable[[], Awaitable[bool]]:
    """The usual `ready` callback for `serve_worker_health`: Postgres and Temporal both answer."""

    async def ready() -> bool:
        database_ok, temporal_ok = await asyncio.gather(database_ready(pool), temporal_ready(client))
        return database_ok and temporal_ok

    return ready


def _response(status: int, reason: str, body: bytes, content_type: str) -> bytes:
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _json(status: int, reason: str, payload: dict[str, object]) -> bytes:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return _response(status, reason, body, "application/json; charset=utf-8")


async def _respond(path: str, ready: Callable[[], Awaitable[bool]]) -> bytes:
    if path == "/healthz":
        return _json(200, "OK", {"status": "ok"})
    if path == "/readyz":
        if await ready():
            return _json(200, "OK", {"status": "ready"})
        return _json(
            503,
            "Service Unavailable",
            {"status": "not_ready", "message": "工作进程未就绪: 数据库或 Temporal 暂不可用"},
        )
    if path == "/metrics":
        body, content_type = metrics.render()
        return _response(200, "OK", body, content_type)
    return _json(404, "Not Found", {"status": "not_found", "message": "没有这个地址"})


async def serve_worker_health(
    port: int, ready: Callable[[], Awaitable[bool]], *, host: str = "0.0.0.0"
) -> asyncio.AbstractServer:
    """Start serving `/healthz`, `/readyz` and `/metrics` on `host:port`; return the server.

    `ready` is awaited on every `/readyz` and should return False rather than raise when a
    dependency is down. Port 0 picks a free port (read it from `server.sockets`). Close with
    `server.close(); await server.wait_closed()`.
    """

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), CHECK_TIMEOUT_SECONDS)
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = request_line.split(" ")
            if len(parts) != 3 or parts[0] not in ("GET", "HEAD"):
                payload = _json(405, "Method Not Allowed", {"status": "method_not_allowed"})
            else:
                payload = await _respond(parts[1].split("?", 1)[0], ready)
                if parts[0] == "HEAD":
                    payload = payload.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
            writer.write(payload)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            # a probe that hung up or sent garbage gets no answer; nothing to clean but the socket
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port, limit=_MAX_HEADER_BYTES)
