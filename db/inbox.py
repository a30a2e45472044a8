"""Inbox reads on `notification` (the inserts live in db/notification.py)."""

from __future__ import annotations

from db.directory import split_page
from db.pool import Conn
from schemas.api import Page
from schemas.directory import Notification

# City-level notifications have no meaningful recipient_id: a city-scoped reader passes NULL and
# matches every row addressed to the city.


async def select_inbox(
    conn: Conn,
    *,
    recipient_kind: str,
    recipient_id: int | None,
    unread_only: bool,
    limit: int,
    offset: int,
) -> Page[Notification]:
    """One page, newest first, with the total (the page query of db.directory)."""
    rows = await conn.fetch(
        """
        WITH matched AS MATERIALIZED (
            SELECT n.id, n.created_at FROM notification n
            WHERE n.recipient_kind = $1
              AND ($2::bigint IS NULL OR n.recipient_id = $2)
              AND (NOT $3 OR n.read_at IS NULL)
        ), total AS (SELECT count(*) AS total FROM matched)
        SELECT total.total, p.* FROM total LEFT JOIN LATERAL (
            SELECT n.id, n.recipient_kind, n.recipient_id, n.category, n.title, n.body,
                   n.created_at, n.read_at
            FROM matched JOIN notification n USING (id)
            ORDER BY n.created_at DESC, n.id DESC LIMIT $4 OFFSET $5
        ) p ON true
        """,
        recipient_kind, recipient_id, unread_only, limit, offset,
    )
    total, items = split_page(rows)
    return Page(items=[Notification.model_validate(dict(r)) for r in items], total=total, limit=limit,
                offset=offset)


async def mark_notification_read(
    conn: Conn, *, notification_id: int, recipient_kind: str, recipient_id: int | None
) -> Notification | None:
    """Set read_at once (a second read keeps the first time); None when not this reader's."""
    row = await conn.fetchrow(
        """
        UPDATE notification SET read_at = coalesce(read_at, now())
        WHERE id = $1 AND recipient_kind = $2 AND ($3::bigint IS NULL OR recipient_id = $3)
        RETURNING id, recipient_kind, recipient_id, category, title, body, created_at, read_at
        """,
        notification_id, recipient_kind, recipient_id,
    )
    return Notification.model_validate(dict(row)) if row is not None else None
