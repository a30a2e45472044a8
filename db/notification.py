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


async def insert_member_notifications(
    conn: Conn,
    *,
    member_ids: list[int],
    dedupe_keys: list[str],
    category: str,
    titles: list[str],
    bodies: list[str],
) -> int:
    """One message per member (set-based, for bulk decisions); one already sent under its key is
    not sent again. How many were new."""
    sent: int = await conn.fetchval(
        """
        WITH ins AS (
            INSERT INTO notification (recipient_kind, recipient_id, category, title, body, dedupe_key)
            SELECT 'member', m.id, $3, m.title, m.body, m.key
            FROM unnest($1::bigint[], $2::text[], $4::text[], $5::text[]) AS m(id, key, title, body)
            ON CONFLICT (dedupe_key) DO NOTHING
            RETURNING 1
        )
        SELECT count(*)::int FROM ins
        """,
        member_ids, dedupe_keys, category, titles, bodies,
    )
    return sent


async def count_notifications(conn: Conn, *, recipient_kind: str, recipient_id: int) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM notification WHERE recipient_kind = $1 AND recipient_id = $2",
        recipient_kind, recipient_id,
    )
    return count
