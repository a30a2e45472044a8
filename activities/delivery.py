"""The dispatcher's I/O step: send due deliveries on their external channels and record each outcome.

`deliver_pending` claims a batch of due rows (a lease, see db/delivery.py), sends them a few at a
time, and records every outcome in its own short statement: `sent`, `failed` (retried later with
backoff) or `dead` (permanent, or out of attempts). Failures are counted in
`notification_failures{channel}` and listed by `GET /deliveries?status=failed`.

Per-endpoint rate limits are token buckets built at the start of each run from the endpoint's
sends of the last minute as recorded in the database, so a limit holds across runs, worker
processes and restarts; a row whose endpoint has no token soon is given back for later
(`deferred`), not counted as an attempt.

Idempotency: a row is sent only while `pending`/`failed`, and `mark_sent` only moves such rows,
so a row already sent is never sent again. The SMS gateway also gets the row's idempotency key in
the `Idempotency-Key` header. A worker shutting down (activity cancelled) finishes and records the
requests in flight and gives the rest back, so a graceful stop resends nothing. The one
at-least-once window: the receiver accepted a request but the worker died hard before `mark_sent`
committed; the row is sent again when its lease ends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import structlog
from temporalio import activity

from channels import dingtalk, sms_gateway, wecom
from channels.transport import SendResult
from db import delivery as delivery_db
from db.delivery import DeliveryToSend
from db.pool import Pool
from domain.channel_templates import robot_body, sms_text
from domain.pii import mask_text
from domain.rate_limit import MAX_ATTEMPTS, WINDOW_SECONDS, TokenBucket, retry_delay
from schemas.delivery import Channel, DeliverPendingInput, DeliverPendingResult, DeliveryStatus
from telemetry.metrics import NOTIFICATION_FAILURES

log = structlog.get_logger(__name__)


class _Deferred(Exception):
    """The endpoint's rate limit has no token soon enough: give the row back."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


class DeliveryActivities:
    """Built once per worker with the pool (and optionally a shared HTTP client)."""

    def __init__(
        self,
        pool: Pool,
        http: httpx.AsyncClient | None = None,
        *,
        concurrency: int = 8,
        timeout: float = 10.0,
        lease: timedelta = timedelta(minutes=2),
        max_rate_wait: float = 2.0,
        max_attempts: int = MAX_ATTEMPTS,
        retry_base: timedelta = timedelta(seconds=30),
        clock: Callable[[], float] = time.monotonic,
        wall_clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._pool = pool
        self._http = http
        self._concurrency = concurrency
        self._timeout = timeout
        self._lease = lease
        self._max_rate_wait = max_rate_wait
        self._max_attempts = max_attempts
        self._retry_base = retry_base
        self._clock = clock
        self._wall_clock_ms = wall_clock_ms

    @activity.defn(name="deliver_pending")
    async def deliver_pending(self, data: DeliverPendingInput) -> DeliverPendingResult:
        if self._http is not None:
            return await self._deliver(self._http, data)
        async with httpx.AsyncClient() as http:
            return await self._deliver(http, data)

    async def _deliver(self, http: httpx.AsyncClient, data: DeliverPendingInput) -> DeliverPendingResult:
        # The lease outlasts the slowest possible run (every request timing out after a rate-limit
        # wait), so no other run claims a row while this one may still send it.
        batches = -(-data.max_items // self._concurrency)
        worst_case = timedelta(seconds=batches * (self._timeout + self._max_rate_wait + 1))
        async with self._pool.acquire() as conn:
            claimed = await delivery_db.select_pending(
                conn, limit=data.max_items, now=data.as_of,
                lease_until=data.as_of + max(self._lease, worst_case), endpoint_ids=data.endpoint_ids,
            )
            rates = {item.endpoint_id: item.rate_per_minute for item in claimed
                     if item.endpoint_id is not None}
            ages = await delivery_db.select_recent_send_ages(
                conn, endpoint_ids=list(rates), window_seconds=WINDOW_SECONDS)
        now = self._clock()
        buckets = {endpoint_id: TokenBucket(rate, taken=[now - age for age in ages.get(endpoint_id, [])])
                   for endpoint_id, rate in rates.items()}
        counts = {"sent": 0, "failed": 0, "dead": 0, "deferred": 0}
        settled: set[int] = set()
        for start in range(0, len(claimed), self._concurrency):
            batch = claimed[start:start + self._concurrency]
            sending = asyncio.ensure_future(
                asyncio.gather(*(self._deliver_one(http, item, data, buckets) for item in batch)))
            try:
                outcomes = await asyncio.shield(sending)
            except asyncio.CancelledError:
                await self._stop_cleanly(sending, batch, claimed, settled, data)
                raise
            for item, outcome in zip(batch, outcomes, strict=True):
                settled.add(item.id)
                counts[outcome] += 1
            activity.heartbeat(start + len(batch))
        async with self._pool.acquire() as conn:
            remaining = await delivery_db.count_due(conn, now=data.as_of, endpoint_ids=data.endpoint_ids)
            next_at = await delivery_db.next_due_at(conn, endpoint_ids=data.endpoint_ids)
        if claimed:
            log.info("deliveries_dispatched", claimed=len(claimed), remaining=remaining, **counts)
        return DeliverPendingResult(
            sent=counts["sent"], failed=counts["failed"] + counts["dead"], dead=counts["dead"],
            deferred=counts["deferred"], remaining=remaining, next_attempt_at=next_at,
        )

    async def _stop_cleanly(
        self,
        sending: asyncio.Future[list[str]],
        batch: list[DeliveryToSend],
        claimed: list[DeliveryToSend],
        settled: set[int],
        data: DeliverPendingInput,
    ) -> None:
        """Cancelled (worker shutting down): finish and record the requests already in flight, so
        the only resend window left is a hard crash; give the rows not started back at once
        instead of after the lease."""
        try:
            await asyncio.wait_for(sending, timeout=self._timeout + 5)
            settled.update(item.id for item in batch)
        except (TimeoutError, httpx.HTTPError):
            pass   # left to the lease: these rows become due again when it ends
        in_batch = {item.id for item in batch}
        unstarted = [item.id for item in claimed if item.id not in settled and item.id not in in_batch]
        async with self._pool.acquire() as conn:
            await delivery_db.release(conn, delivery_ids=unstarted, at=data.as_of)

    async def _deliver_one(self, http: httpx.AsyncClient, item: DeliveryToSend,
                           data: DeliverPendingInput, buckets: dict[int, TokenBucket]) -> str:
        """Send one row and record the outcome: 'sent', 'failed', 'dead' or 'deferred'."""
        # Inbox rows never reach the outbox (insert_deliveries writes them to the inbox), so a row
        # without an endpoint, inbox or not, has nowhere to go.
        if item.endpoint_id is None or not item.endpoint_enabled or item.url is None:
            return await self._record_failure(item, data, SendResult(
                ok=False, error="渠道端点不存在或已停用"), request=None)
        if item.channel is Channel.sms and not item.phone:
            return await self._record_failure(item, data, SendResult(
                ok=False, error="党员未登记手机号"), request=None)
        try:
            await self._take_token(buckets[item.endpoint_id])
        except _Deferred as deferred:
            async with self._pool.acquire() as conn:
                await delivery_db.release(
                    conn, delivery_ids=[item.id],
                    at=data.as_of + timedelta(seconds=deferred.seconds),
                )
            return "deferred"
        audit, result = await self._send(http, item)
        if not result.ok:
            return await self._record_failure(item, data, result, request=audit)
        async with self._pool.acquire() as conn:
            newly = await delivery_db.mark_sent(conn, delivery_id=item.id, payload=audit)
        if not newly:
            log.warning("delivery_already_settled", delivery_id=item.id, channel=item.channel.value)
        return "sent"

    async def _send(
        self, http: httpx.AsyncClient, item: DeliveryToSend
    ) -> tuple[dict[str, Any], SendResult]:
        """(the request's audit form, result) of one external send."""
        assert item.url is not None
        match item.channel:
            case Channel.wecom:
                request = wecom.render(title=item.title, body=robot_body(item.body),
                                       mentioned_mobiles=item.mentioned_mobiles)
                result = await wecom.send(http, url=item.url, request=request, timeout=self._timeout)
                return wecom.audit(request), result
            case Channel.dingtalk:
                request = dingtalk.render(title=item.title, body=robot_body(item.body),
                                          at_mobiles=item.mentioned_mobiles)
                result = await dingtalk.send(
                    http, url=item.url, secret=item.secret, request=request,
                    timestamp_ms=self._wall_clock_ms(), timeout=self._timeout,
                )
                return dingtalk.audit(request), result
            case Channel.sms:
                assert item.phone is not None
                request = sms_gateway.render(phone=item.phone, template=item.template,
                                             params=item.params, text=sms_text(item.title, item.body))
                result = await sms_gateway.send(
                    http, url=item.url, request=request, idempotency_key=item.idempotency_key,
                    timeout=self._timeout,
                )
                return sms_gateway.audit(request), result
            case Channel.inbox:
                raise AssertionError("inbox rows are not sent over HTTP")

    async def _take_token(self, bucket: TokenBucket) -> None:
        while not bucket.try_take(self._clock()):
            wait = bucket.wait_time(self._clock())
            if wait > self._max_rate_wait:
                raise _Deferred(wait)
            await asyncio.sleep(wait)

    async def _record_failure(self, item: DeliveryToSend, data: DeliverPendingInput,
                              result: SendResult, *, request: dict[str, Any] | None) -> str:
        error = mask_text(result.error or "发送失败")
        async with self._pool.acquire() as conn:
            status = await delivery_db.mark_failed(
                conn, delivery_id=item.id, error=error, payload=request,
                next_attempt_at=data.as_of + retry_delay(item.attempts + 1, base=self._retry_base),
                max_attempts=self._max_attempts, permanent=not result.retryable,
            )
        if status is None:
            return "failed"
        NOTIFICATION_FAILURES.labels(channel=item.channel.value).inc()
        log.warning("delivery_failed", delivery_id=item.id, channel=item.channel.value,
                    attempts=item.attempts + 1, status=status.value, error=error)
        return "dead" if status is DeliveryStatus.dead else "failed"
