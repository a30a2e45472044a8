"""Inserts into the in-app inbox (notification). Reads for the inbox live in db/inbox.py.

`dedupe_key` is unique, so every insert here is idempotent.
"""

from __future__ import annotations

from db.pool import Conn


async def insert_notification(
    conn: Conn,
    *,
    recipient_kind: str,
    recipient_id: int,
    category: str,
    title: str,
    body: str,
    dedupe_key: str,
) -> int | None:
    """The new notification's id, or None when one with this dedupe_key was already sent."""
    notification_id: int | None = await conn.fetchval(
        """
        INSERT INTO notification (recipient_kind, recipient_id, category, title, body, dedupe_key)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (dedupe_key) DO NOTHING
        RETURNING id
        """,
        recipient_kind, recipient_id, category, title, body, dedupe_key,
    )
    return notification_id


async def count_notifications(conn: Conn, *, recipient_kind: str, recipient_id: int) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM notification WHERE recipient_kind = $1 AND recipient_id = $2",
        recipient_kind, recipient_id,
    )
    return count
