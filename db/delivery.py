"""The outbox (delivery) of external notification channels, and inbox rows given the same way.

Whoever decides to notify calls `insert_deliveries` inside its own transaction, next to the
decision it records (a reminder row, ...): both commit or neither does. The unique
`idempotency_key` makes every insert idempotent, so a retried activity queues nothing twice.

The dispatcher claims due rows with `select_pending` (a lease: their `next_attempt_at` moves
forward, so a concurrent or retried run skips them), sends them, and records each outcome with
`mark_sent` / `mark_failed`. Both only touch rows not yet `sent`: a row already sent is never
sent again. The one at-least-once window is between the receiver accepting a request and
`mark_sent` committing: a crash there resends the message once the lease ends (the SMS gateway
dedupes on the Idempotency-Key header; WeCom and DingTalk have no such header).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from db.pool import Conn

# jsonb parameters are passed as Python objects: the pool's connections (db/pool.py) encode them.
from schemas.delivery import Channel, DeliveryFilter, DeliveryRow, DeliveryStatus, DeliveryView

# Above this many rows an insert goes through COPY into a temp table, cheaper than huge arrays.
COPY_THRESHOLD = 1000

# An external row gets the endpoint of its recipient (group robots) or the city's SMS gateway
# (members only); a row whose recipient has no enabled endpoint is not queued (nothing to send to).
# The two statements differ only in their source `r`: bound arrays, or the COPY temp table.
_INSERT_SELECT = """
    INSERT INTO delivery (channel, recipient_kind, recipient_id, endpoint_id, title, body, template,
                          params, idempotency_key, campaign_id)
    SELECT r.channel, r.recipient_kind, r.recipient_id, e.id, r.title, r.body, r.template,
           r.params::jsonb, r.idempotency_key, r.campaign_id
"""
_ENDPOINT_JOIN = """
    JOIN channel_endpoint e ON e.enabled AND e.channel = r.channel AND (
        (r.channel = 'sms' AND r.recipient_kind = 'member' AND e.owner_kind = 'city'
         AND e.owner_id IS NULL)
        OR (r.channel <> 'sms' AND e.owner_kind = r.recipient_kind AND e.owner_id = r.recipient_id))
    ON CONFLICT (idempotency_key) DO NOTHING
"""
_INSERT_UNNEST = _INSERT_SELECT + """
    FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                $7::text[], $8::text[], $9::bigint[])
         AS r(channel, recipient_kind, recipient_id, title, body, template, params,
              idempotency_key, campaign_id)
""" + _ENDPOINT_JOIN
_INSERT_COPIED = _INSERT_SELECT + "    FROM _delivery_in r" + _ENDPOINT_JOIN

_INBOX_UNNEST = """
    INSERT INTO notification (recipient_kind, recipient_id, category, title, body, dedupe_key)
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[])
    ON CONFLICT (dedupe_key) DO NOTHING
"""

_COPY_COLUMNS = ("channel", "recipient_kind", "recipient_id", "title", "body", "template", "params",
                 "idempotency_key", "campaign_id")


def _count(status: str) -> int:
    """Rows written, from asyncpg's command tag (`INSERT 0 n`)."""
    return int(status.rsplit(" ", 1)[-1])


async def insert_deliveries(conn: Conn, rows: Sequence[DeliveryRow]) -> int:
    """Queue deliveries (inbox rows go straight to the inbox); how many were new.

    Set-based: one statement per kind of row, `ON CONFLICT (idempotency_key) DO NOTHING`.
    External rows whose recipient has no enabled endpoint are skipped and not counted.
    """
    inbox = [r for r in rows if r.channel is Channel.inbox]
    external = [r for r in rows if r.channel is not Channel.inbox]
    new = 0
    if inbox:
        status = await conn.execute(
            _INBOX_UNNEST,
            [r.recipient_kind.value for r in inbox], [r.recipient_id for r in inbox],
            [r.template for r in inbox], [r.title for r in inbox], [r.body for r in inbox],
            [r.idempotency_key for r in inbox],
        )
        new += _count(status)
    if not external:
        return new
    records = [
        (r.channel.value, r.recipient_kind.value, r.recipient_id, r.title, r.body, r.template,
         json.dumps(r.params, ensure_ascii=False), r.idempotency_key, r.campaign_id)
        for r in external
    ]
    if len(records) <= COPY_THRESHOLD:
        status = await conn.execute(_INSERT_UNNEST, *(list(col) for col in zip(*records, strict=True)))
        return new + _count(status)
    # Large batches: COPY into a session temp table, then one INSERT ... SELECT.
    await conn.execute(
        """
        CREATE TEMP TABLE IF NOT EXISTS _delivery_in (
            channel text, recipient_kind text, recipient_id bigint, title text, body text,
            template text, params text, idempotency_key text, campaign_id bigint)
        """
    )
    await conn.execute("TRUNCATE _delivery_in")
    await conn.copy_records_to_table("_delivery_in", records=records, columns=_COPY_COLUMNS)
    status = await conn.execute(_INSERT_COPIED)
    await conn.execute("TRUNCATE _delivery_in")
    return new + _count(status)


async def insert_deliveries_for_reminders(
    conn: Conn,
    *,
    ladder: str,
    subject_kind: str,
    subject_id: int,
    cycle: int,
    step: str,
    recipient_kind: str,
    channel: Channel,
    title: str,
    body: str,
    template: str,
    campaign_id: int | None = None,
    params: dict[str, str] | None = None,
) -> int:
    """Queue one delivery per reminder already recorded for this key and recipient kind; how many new.

    Set-based over the reminder table (a million members is one statement). The idempotency key
    is the reminder's inbox dedupe key plus `:<channel>` (see `domain.channel_routing`), so
    running it again after a retry queues nothing twice.
    """
    if channel is Channel.inbox:
        raise ValueError("inbox rows are written with the reminder itself (db/reminder.py)")
    status = await conn.execute(
        """
        INSERT INTO delivery (channel, recipient_kind, recipient_id, endpoint_id, title, body,
                              template, params, idempotency_key, campaign_id)
        SELECT $7, r.recipient_kind, r.recipient_id, e.id, $8, $9, $10, $11::jsonb,
               'reminder:' || r.ladder || ':' || r.subject_kind || ':' || r.subject_id || ':'
               || r.cycle || ':' || r.step || ':' || r.recipient_kind || ':' || r.recipient_id
               || ':' || $7, $12
        FROM reminder r
        JOIN channel_endpoint e ON e.enabled AND e.channel = $7 AND (
            ($7 = 'sms' AND r.recipient_kind = 'member' AND e.owner_kind = 'city'
             AND e.owner_id IS NULL)
            OR ($7 <> 'sms' AND e.owner_kind = r.recipient_kind AND e.owner_id = r.recipient_id))
        WHERE r.ladder = $1 AND r.subject_kind = $2 AND r.subject_id = $3 AND r.cycle = $4
          AND r.step = $5 AND r.recipient_kind = $6
        ON CONFLICT (idempotency_key) DO NOTHING
        """,
        ladder, subject_kind, subject_id, cycle, step, recipient_kind, channel.value, title, body,
        template, params or {}, campaign_id,
    )
    return _count(status)


@dataclass(frozen=True)
class DeliveryToSend:
    """A claimed delivery with what sending it needs. Carries credentials and a phone number:
    it never leaves the activity and its repr hides them."""

    id: int
    channel: Channel
    recipient_kind: str
    recipient_id: int
    title: str
    body: str
    template: str
    params: dict[str, str]
    idempotency_key: str
    attempts: int
    endpoint_id: int | None
    rate_per_minute: int
    endpoint_enabled: bool
    url: str | None = field(repr=False)
    secret: str | None = field(repr=False)
    mentioned_mobiles: list[str] = field(repr=False)
    phone: str | None = field(repr=False)


async def select_pending(
    conn: Conn,
    *,
    limit: int,
    now: datetime,
    lease_until: datetime,
    channel: Channel | None = None,
    endpoint_ids: Sequence[int] | None = None,
) -> list[DeliveryToSend]:
    """Claim up to `limit` due rows (pending or failed, next_attempt_at <= now), oldest first.

    Claiming moves their next_attempt_at to `lease_until`, so another dispatcher run (or this
    activity's retry) does not pick them while they are being sent; rows not finished by then
    (a crashed worker) become due again. SKIP LOCKED keeps concurrent claims apart.
    """
    rows = await conn.fetch(
        """
        WITH due AS (
            SELECT id, endpoint_id, recipient_kind, recipient_id FROM delivery
            WHERE status IN ('pending', 'failed') AND next_attempt_at <= $1
              AND ($3::text IS NULL OR channel = $3)
              AND ($5::bigint[] IS NULL OR endpoint_id = ANY($5::bigint[]))
            ORDER BY next_attempt_at, id
            LIMIT $2
            FOR UPDATE SKIP LOCKED
        ), claimed AS (
            UPDATE delivery d SET next_attempt_at = $4 FROM due WHERE d.id = due.id
            RETURNING d.id, d.channel, d.recipient_kind, d.recipient_id, d.title, d.body, d.template,
                      d.params, d.idempotency_key, d.attempts, d.endpoint_id
        )
        SELECT c.*, e.url, e.secret, e.mentioned_mobiles, e.rate_per_minute,
               coalesce(e.enabled, false) AS endpoint_enabled, m.phone
        FROM claimed c
        LEFT JOIN channel_endpoint e ON e.id = c.endpoint_id
        LEFT JOIN member m ON c.recipient_kind = 'member' AND m.id = c.recipient_id
        ORDER BY c.id
        """,
        now, limit, None if channel is None else channel.value, lease_until,
        None if endpoint_ids is None else list(endpoint_ids),
    )
    return [
        DeliveryToSend(
            id=r["id"], channel=Channel(r["channel"]), recipient_kind=r["recipient_kind"],
            recipient_id=r["recipient_id"], title=r["title"], body=r["body"], template=r["template"],
            params=_params(r["params"]), idempotency_key=r["idempotency_key"],
            attempts=r["attempts"], endpoint_id=r["endpoint_id"],
            rate_per_minute=r["rate_per_minute"] or 20, endpoint_enabled=r["endpoint_enabled"],
            url=r["url"], secret=r["secret"], mentioned_mobiles=list(r["mentioned_mobiles"] or []),
            phone=r["phone"],
        )
        for r in rows
    ]


def _params(value: Any) -> dict[str, str]:
    # The jsonb codec decodes to a dict on pool connections; a bare connection returns text.
    decoded = json.loads(value) if isinstance(value, str) else value
    return {str(k): str(v) for k, v in (decoded or {}).items()}


async def select_recent_send_ages(
    conn: Conn, *, endpoint_ids: Sequence[int], window_seconds: float
) -> dict[int, list[float]]:
    """Per endpoint, how many seconds ago each of its sends within the window was recorded.

    Ages, not timestamps, so the rate limiter needs no agreement between the database's clock
    and the worker's; every worker process sees the same history, so a limit holds across
    processes and restarts.
    """
    rows = await conn.fetch(
        """
        SELECT endpoint_id, extract(epoch FROM clock_timestamp() - sent_at)::float8 AS age
        FROM delivery
        WHERE endpoint_id = ANY($1::bigint[]) AND status = 'sent'
          AND sent_at > clock_timestamp() - make_interval(secs => $2)
        """,
        list(endpoint_ids), window_seconds,
    )
    ages: dict[int, list[float]] = {}
    for r in rows:
        ages.setdefault(r["endpoint_id"], []).append(max(0.0, r["age"]))
    return ages


async def release(conn: Conn, *, delivery_ids: Sequence[int], at: datetime) -> int:
    """Give claimed rows back (not attempted: deferred by a rate limit or a cancelled run)."""
    status = await conn.execute(
        """
        UPDATE delivery SET next_attempt_at = $2
        WHERE id = ANY($1::bigint[]) AND status IN ('pending', 'failed')
        """,
        list(delivery_ids), at,
    )
    return _count(status)


async def mark_sent(conn: Conn, *, delivery_id: int, payload: dict[str, Any]) -> bool:
    """Record a send the receiver accepted; False when the row was already sent (or dead)."""
    updated: int | None = await conn.fetchval(
        """
        UPDATE delivery SET status = 'sent', attempts = attempts + 1, sent_at = clock_timestamp(),
                            last_error = NULL, payload = $2::jsonb
        WHERE id = $1 AND status IN ('pending', 'failed')
        RETURNING id
        """,
        delivery_id, payload,
    )
    return updated is not None


async def mark_failed(
    conn: Conn,
    *,
    delivery_id: int,
    error: str,
    payload: dict[str, Any] | None,
    next_attempt_at: datetime,
    max_attempts: int,
    permanent: bool = False,
) -> DeliveryStatus | None:
    """Record a failed attempt: `failed` (retried at next_attempt_at) or `dead` when permanent or
    out of attempts. None when the row was no longer sendable (already sent or dead)."""
    status: str | None = await conn.fetchval(
        """
        UPDATE delivery SET
            attempts = attempts + 1,
            status = CASE WHEN $5 OR attempts + 1 >= $4 THEN 'dead' ELSE 'failed' END,
            last_error = $2, payload = coalesce($6::jsonb, payload), next_attempt_at = $3
        WHERE id = $1 AND status IN ('pending', 'failed')
        RETURNING status
        """,
        delivery_id, error, next_attempt_at, max_attempts, permanent,
        payload,
    )
    return None if status is None else DeliveryStatus(status)


async def count_due(conn: Conn, *, now: datetime, endpoint_ids: Sequence[int] | None = None) -> int:
    count: int = await conn.fetchval(
        """
        SELECT count(*) FROM delivery
        WHERE status IN ('pending', 'failed') AND next_attempt_at <= $1
          AND ($2::bigint[] IS NULL OR endpoint_id = ANY($2::bigint[]))
        """,
        now, None if endpoint_ids is None else list(endpoint_ids),
    )
    return count


async def next_due_at(conn: Conn, *, endpoint_ids: Sequence[int] | None = None) -> datetime | None:
    """The earliest next_attempt_at of any row still to send."""
    at: datetime | None = await conn.fetchval(
        """
        SELECT min(next_attempt_at) FROM delivery
        WHERE status IN ('pending', 'failed')
          AND ($1::bigint[] IS NULL OR endpoint_id = ANY($1::bigint[]))
        """,
        None if endpoint_ids is None else list(endpoint_ids),
    )
    return at


async def select_deliveries(conn: Conn, *, filters: DeliveryFilter) -> tuple[list[DeliveryView], int]:
    """A page of deliveries (newest first) and the total matching the filters."""
    status = None if filters.status is None else filters.status.value
    channel = None if filters.channel is None else filters.channel.value
    rows = await conn.fetch(
        """
        SELECT id, channel, recipient_kind, recipient_id, endpoint_id, title, template,
               idempotency_key, status, attempts, last_error, created_at, sent_at,
               next_attempt_at, campaign_id, payload, count(*) OVER () AS total
        FROM delivery
        WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR channel = $2)
          AND ($3::bigint IS NULL OR campaign_id = $3)
        ORDER BY created_at DESC, id DESC
        LIMIT $4 OFFSET $5
        """,
        status, channel, filters.campaign_id, filters.limit, filters.offset,
    )
    total = int(rows[0]["total"]) if rows else 0
    items = [_view({k: v for k, v in r.items() if k != "total"}) for r in rows]
    if not rows and filters.offset > 0:
        total = await conn.fetchval(
            """
            SELECT count(*) FROM delivery
            WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR channel = $2)
              AND ($3::bigint IS NULL OR campaign_id = $3)
            """,
            status, channel, filters.campaign_id,
        )
    return items, total


def _view(row: dict[str, Any]) -> DeliveryView:
    payload = row["payload"]
    return DeliveryView.model_validate({**row, "payload": json.loads(payload) if isinstance(payload, str) else payload})


async def select_delivery(conn: Conn, *, idempotency_key: str) -> DeliveryView | None:
    row = await conn.fetchrow(
        """
        SELECT id, channel, recipient_kind, recipient_id, endpoint_id, title, template,
               idempotency_key, status, attempts, last_error, created_at, sent_at,
               next_attempt_at, campaign_id, payload
        FROM delivery WHERE idempotency_key = $1
        """,
        idempotency_key,
    )
    return None if row is None else _view(dict(row))
