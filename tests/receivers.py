"""Real local HTTP receivers for WeCom, DingTalk and the SMS gateway, checking every payload.

`Receiver` runs a tiny Starlette app under uvicorn on 127.0.0.1 (a free port, its own thread and
loop). It checks each request against the channel's documented format (WeCom msgtype/markdown,
DingTalk signature against the robot's secret, SMS Idempotency-Key and phone), records it, and can
be told to fail the next requests of a channel: HTTP 500, a timeout (it records the request, then
answers too late), or an errcode. Also here: the fixtures and helpers the delivery tests share to
set up endpoints and queue rows (`receiver`, `cleanup`, `add_endpoint`, `queue`, `run_deliver`, ...).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.testing import ActivityEnvironment

from activities.delivery import DeliveryActivities
from db import channel_endpoint as endpoint_db
from db import delivery as delivery_db
from db.pool import Pool
from domain.channel_routing import idempotency_key
from schemas.delivery import (
    Channel,
    ChannelEndpointInput,
    DeliverPendingInput,
    DeliverPendingResult,
    DeliveryRow,
    DeliveryView,
    OwnerKind,
)
from tests.conftest import unique

WECOM_PATH = "/cgi-bin/webhook/send"
DINGTALK_PATH = "/robot/send"
SMS_PATH = "/sms/send"
_PHONE = re.compile(r"^1[3-9]\d{9}$")
# How long a "timeout" answer waits: well past the short client timeout the tests use.
SLOW_ANSWER_SECONDS = 3.0


@dataclass
class Received:
    channel: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    problems: list[str]
    answered: str = "ok"


@dataclass
class Receiver:
    base_url: str = ""
    received: list[Received] = field(default_factory=list)
    plan: dict[str, list[str]] = field(default_factory=dict)
    dingtalk_secrets: dict[str, str] = field(default_factory=dict)   # access_token -> secret
    delay: float = 0.0   # every answer waits this long (to stop a worker mid-batch)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, channel: str, *modes: str, robot: str = "") -> None:
        """The next requests of `channel` (of one robot: its key/access_token, when given) fail
        with these modes: '500', 'timeout', 'errcode', 'busy'."""
        with self._lock:
            self.plan.setdefault(f"{channel}:{robot}" if robot else channel, []).extend(modes)

    def of(self, channel: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.channel == channel]

    def problems(self, sms_prefix: str = "") -> list[str]:
        """Every check that failed; SMS only for this test's keys (the city gateway is shared)."""
        with self._lock:
            return [p for r in self.received for p in r.problems
                    if r.channel != "sms" or r.headers.get("idempotency-key", "").startswith(sms_prefix)]

    def url(self, path: str, **query: str) -> str:
        q = "&".join(f"{k}={v}" for k, v in query.items())
        return f"{self.base_url}{path}" + (f"?{q}" if q else "")

    def _next_mode(self, channel: str, robot: str) -> str:
        with self._lock:
            for plan_key in (f"{channel}:{robot}", channel):
                modes = self.plan.get(plan_key, [])
                if modes:
                    return modes.pop(0)
            return "ok"

    async def _handle(self, request: Request, channel: str) -> JSONResponse:
        body = await request.json()
        query = dict(request.query_params)
        headers = {k.lower(): v for k, v in request.headers.items()}
        problems = CHECKS[channel](self, query, headers, body)
        mode = self._next_mode(channel, query.get("key") or query.get("access_token") or "")
        record = Received(channel, query, headers, body, problems, answered=mode)
        with self._lock:
            self.received.append(record)
        if self.delay:
            await asyncio.sleep(self.delay)
        if problems:
            return JSONResponse({"errcode": 40000, "errmsg": "; ".join(problems)}, status_code=400)
        if mode == "500":
            return JSONResponse({"error": "boom"}, status_code=500)
        if mode == "timeout":
            await asyncio.sleep(SLOW_ANSWER_SECONDS)
        if mode == "errcode":
            return JSONResponse({"errcode": 93000, "errmsg": "invalid webhook url"})
        if mode == "busy":
            return JSONResponse({"errcode": 45009 if channel == "wecom" else 130101, "errmsg": "too fast"})
        if channel == "sms":
            return JSONResponse({"accepted": True})
        return JSONResponse({"errcode": 0, "errmsg": "ok"})


def _check_wecom(_: Receiver, query: dict[str, str], headers: dict[str, str], body: Any) -> list[str]:
    problems = []
    if not query.get("key"):
        problems.append("wecom: no key in the url")
    msgtype = body.get("msgtype")
    if msgtype == "markdown":
        content = body.get("markdown", {}).get("content")
        if not isinstance(content, str) or not content or len(content.encode()) > 4096:
            problems.append("wecom: markdown.content missing or over 4096 bytes")
    elif msgtype == "text":
        text = body.get("text", {})
        if not isinstance(text.get("content"), str) or not text["content"]:
            problems.append("wecom: text.content missing")
        mobiles = text.get("mentioned_mobile_list", [])
        if not all(isinstance(m, str) and _PHONE.match(m) for m in mobiles):
            problems.append("wecom: mentioned_mobile_list must hold mobile numbers")
    else:
        problems.append(f"wecom: unexpected msgtype {msgtype!r}")
    return problems


def _check_dingtalk(receiver: Receiver, query: dict[str, str], headers: dict[str, str],
                    body: Any) -> list[str]:
    problems = []
    token = query.get("access_token")
    if not token:
        problems.append("dingtalk: no access_token")
    secret = receiver.dingtalk_secrets.get(token or "")
    if secret is not None:
        timestamp, sign = query.get("timestamp"), query.get("sign")
        if timestamp is None or sign is None:
            problems.append("dingtalk: signed robot without timestamp/sign")
        else:
            expected = base64.b64encode(hmac.new(
                secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()).decode()
            if not hmac.compare_digest(expected, sign):
                problems.append("dingtalk: bad sign")
            if abs(int(timestamp) - time.time() * 1000) > 3_600_000:
                problems.append("dingtalk: timestamp more than an hour off")
    if body.get("msgtype") != "markdown":
        problems.append("dingtalk: msgtype must be markdown")
    markdown = body.get("markdown", {})
    if not markdown.get("title") or not markdown.get("text"):
        problems.append("dingtalk: markdown.title and markdown.text are required")
    at = body.get("at", {})
    if not isinstance(at.get("atMobiles", []), list) or not isinstance(at.get("isAtAll", False), bool):
        problems.append("dingtalk: bad at")
    for mobile in at.get("atMobiles", []):
        if f"@{mobile}" not in markdown.get("text", ""):
            problems.append("dingtalk: @mobile missing from the text")
    return problems


def _check_sms(_: Receiver, query: dict[str, str], headers: dict[str, str], body: Any) -> list[str]:
    problems = []
    if not headers.get("idempotency-key"):
        problems.append("sms: no Idempotency-Key header")
    if not isinstance(body.get("phone"), str) or not _PHONE.match(body["phone"]):
        problems.append("sms: phone must be a full mobile number")
    if not body.get("template") or not isinstance(body.get("params"), dict):
        problems.append("sms: template and params are required")
    if not str(body.get("text", "")).startswith("【双报到】"):
        problems.append("sms: text must carry the signature")
    return problems


CHECKS = {"wecom": _check_wecom, "dingtalk": _check_dingtalk, "sms": _check_sms}


def _app(receiver: Receiver) -> Starlette:
    async def wecom(request: Request) -> JSONResponse:
        return await receiver._handle(request, "wecom")

    async def dingtalk(request: Request) -> JSONResponse:
        return await receiver._handle(request, "dingtalk")

    async def sms(request: Request) -> JSONResponse:
        return await receiver._handle(request, "sms")

    return Starlette(routes=[
        Route(WECOM_PATH, wecom, methods=["POST"]),
        Route(DINGTALK_PATH, dingtalk, methods=["POST"]),
        Route(SMS_PATH, sms, methods=["POST"]),
    ])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver on a free local port for this test."""
    state = Receiver()
    config = uvicorn.Config(_app(state), host="127.0.0.1", port=0, log_level="warning",
                            access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the receiver did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    state.base_url = f"http://127.0.0.1:{port}"
    yield state
    server.should_exit = True
    thread.join(timeout=5)


# ---- helpers the other delivery tests share --------------------------------------------------


def owner_id() -> int:
    """A fresh owner id: endpoints are unique per owner and channel, so tests never share one."""
    return int(time.time_ns() // 1000 % 10**12) + int(unique()[:6], 16)


async def add_endpoint(pool: Pool, **fields: Any) -> int:
    async with pool.acquire() as conn:
        row = await endpoint_db.upsert_endpoint(conn, ChannelEndpointInput(**fields))
    return row.id


async def add_member(pool: Pool, phone: str | None) -> int:
    async with pool.acquire() as conn:
        member_id: int = await conn.fetchval(
            "INSERT INTO member (name, phone) VALUES ($1, $2) RETURNING id", unique("测试党员"), phone
        )
    return member_id


def random_phone() -> str:
    return "139" + str(int(unique()[:7], 16) % 10**8).zfill(8)


async def queue(pool: Pool, rows: list[DeliveryRow]) -> int:
    async with pool.acquire() as conn, conn.transaction():
        return await delivery_db.insert_deliveries(conn, rows)


def row(channel: Channel, kind: OwnerKind, recipient_id: int, base: str, **extra: Any) -> DeliveryRow:
    return DeliveryRow(channel=channel, recipient_kind=kind, recipient_id=recipient_id,
                       title="【督办】党员报到待确认", body="您社区尚有 3 名在职党员的报到申请未确认。",
                       template="registration_confirmation",
                       idempotency_key=idempotency_key(base, channel), **extra)


async def run_deliver(acts: DeliveryActivities, endpoint_ids: list[int], *, as_of: datetime | None = None,
                      max_items: int = 200) -> DeliverPendingResult:
    data = DeliverPendingInput(max_items=max_items, as_of=as_of or datetime.now(UTC),
                               endpoint_ids=endpoint_ids)
    result: DeliverPendingResult = await ActivityEnvironment().run(acts.deliver_pending, data)
    return result


async def status_of(pool: Pool, key: str) -> DeliveryView:
    async with pool.acquire() as conn:
        found = await delivery_db.select_delivery(conn, idempotency_key=key)
    assert found is not None, key
    return found


@pytest.fixture
async def cleanup(pool: Pool) -> AsyncIterator[list[str]]:
    """Idempotency-key prefixes whose rows are deleted after the test (none left pending for others)."""
    prefixes: list[str] = []
    yield prefixes
    async with pool.acquire() as conn:
        for prefix in prefixes:
            await conn.execute("DELETE FROM delivery WHERE idempotency_key LIKE $1", prefix + "%")
