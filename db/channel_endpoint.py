"""Where group robots and the SMS gateway live (channel_endpoint). Urls and secrets are
credentials: `to_view` masks them, and nothing here logs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from db.pool import Conn
from schemas.delivery import (
    DEFAULT_RATE_PER_MINUTE,
    Channel,
    ChannelEndpointInput,
    ChannelEndpointView,
    OwnerKind,
)

# Query values (key=..., access_token=...) carry the robot's credential.
_QUERY_VALUE_RE = re.compile(r"=([^&]{0,4})[^&]*")


@dataclass(frozen=True, slots=True)
class EndpointRow:
    """One channel_endpoint row; url and secret are credentials (see `to_view`)."""

    id: int
    owner_kind: str
    owner_id: int | None
    channel: str
    url: str
    secret: str | None
    mentioned_mobiles: list[str]
    enabled: bool
    rate_per_minute: int
    created_at: datetime


def mask_url(url: str) -> str:
    """The url with every query value cut to its first 4 characters and `***`."""
    base, sep, query = url.partition("?")
    if not sep:
        return url
    return base + "?" + _QUERY_VALUE_RE.sub(lambda m: "=" + m.group(1) + "***", query)


async def upsert_endpoint(conn: Conn, data: ChannelEndpointInput) -> EndpointRow:
    row = await conn.fetchrow(
        """
        INSERT INTO channel_endpoint (owner_kind, owner_id, channel, url, secret, mentioned_mobiles,
                                      enabled, rate_per_minute)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (owner_kind, (coalesce(owner_id, 0)), channel) DO UPDATE SET
            url = EXCLUDED.url, secret = EXCLUDED.secret,
            mentioned_mobiles = EXCLUDED.mentioned_mobiles, enabled = EXCLUDED.enabled,
            rate_per_minute = EXCLUDED.rate_per_minute
        RETURNING *
        """,
        data.owner_kind.value, data.owner_id, data.channel.value, data.url, data.secret,
        data.mentioned_mobiles, data.enabled,
        data.rate_per_minute or DEFAULT_RATE_PER_MINUTE.get(data.channel, 20),
    )
    assert row is not None  # INSERT ... ON CONFLICT DO UPDATE always returns the row
    return EndpointRow(**row)


async def select_endpoints(
    conn: Conn, *, owner_kind: OwnerKind | None = None, owner_id: int | None = None
) -> list[EndpointRow]:
    rows = await conn.fetch(
        """
        SELECT * FROM channel_endpoint
        WHERE ($1::text IS NULL OR owner_kind = $1) AND ($2::bigint IS NULL OR owner_id = $2)
        ORDER BY owner_kind, owner_id NULLS FIRST, channel
        """,
        None if owner_kind is None else owner_kind.value, owner_id,
    )
    return [EndpointRow(**r) for r in rows]


async def set_enabled(conn: Conn, *, endpoint_id: int, enabled: bool) -> bool:
    updated: int | None = await conn.fetchval(
        "UPDATE channel_endpoint SET enabled = $2 WHERE id = $1 RETURNING id", endpoint_id, enabled
    )
    return updated is not None


def to_view(row: EndpointRow) -> ChannelEndpointView:
    return ChannelEndpointView(
        id=row.id, owner_kind=OwnerKind(row.owner_kind), owner_id=row.owner_id,
        channel=Channel(row.channel), url_masked=mask_url(row.url), has_secret=bool(row.secret),
        mentioned_count=len(row.mentioned_mobiles or []), enabled=row.enabled,
        rate_per_minute=row.rate_per_minute, created_at=row.created_at,
    )
