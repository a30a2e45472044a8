"""Reminders and their inbox notifications, written together by set-based SQL.

Exactly one reminder per (ladder, subject, cycle, step, recipient): the reminder table's unique
key plus `ON CONFLICT DO NOTHING RETURNING` means only the rows inserted *now* get a notification,
and the notification's unique dedupe_key guards again. Each function is one statement, so the
reminder row and its notification commit together: a retried activity or a restarted worker
never sends twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Conn


@dataclass(frozen=True)
class ReminderKey:
    """Everything of the unique key but the recipient."""

    ladder: str
    subject_kind: str
    subject_id: int
    cycle: int
    step: str

    def dedupe_prefix(self, recipient_kind: str) -> str:
        """The notification dedupe key without the recipient id (SQL appends it)."""
        return (f"reminder:{self.ladder}:{self.subject_kind}:{self.subject_id}:{self.cycle}:"
                f"{self.step}:{recipient_kind}:")


@dataclass(frozen=True)
class Message:
    category: str
    title: str
    body: str   # may hold "{count}", filled per recipient by SQL


async def remind_communities_pending_confirmation(
    conn: Conn, *, key: ReminderKey, cohort_id: int, reason: str, message: Message
) -> tuple[int, int]:
    """Remind each community with submitted registrations in the cohort, once; (pending, sent)."""
    row = await conn.fetchrow(
        """
        WITH pending AS (
            SELECT community_id, count(*) AS n FROM member_registration
            WHERE cohort_id = $1 AND status = 'submitted' GROUP BY community_id
        ), ins AS (
            INSERT INTO reminder (ladder, subject_kind, subject_id, cycle, step, recipient_kind,
                                  recipient_id, reason)
            SELECT $2, $3, $4, $5, $6, 'community', community_id, $7 FROM pending
            ON CONFLICT DO NOTHING
            RETURNING recipient_id
        ), note AS (
            INSERT INTO notification (recipient_kind, recipient_id, category, title, body, dedupe_key)
            SELECT 'community', ins.recipient_id, $8, $9, replace($10, '{count}', pending.n::text),
                   $11 || ins.recipient_id
            FROM ins JOIN pending ON pending.community_id = ins.recipient_id
            ON CONFLICT (dedupe_key) DO NOTHING
            RETURNING 1
        )
        SELECT (SELECT coalesce(sum(n), 0)::bigint FROM pending) AS pending,
               (SELECT count(*) FROM ins) AS sent,
               (SELECT count(*) FROM note) AS notified
        """,
        cohort_id, key.ladder, key.subject_kind, key.subject_id, key.cycle, key.step, reason,
        message.category, message.title, message.body, key.dedupe_prefix("community"),
    )
    assert row is not None  # an aggregate SELECT always yields one row
    return int(row["pending"]), int(row["sent"])


async def remind_members_due_renewal_chunk(
    conn: Conn,
    *,
    key: ReminderKey,
    cohort_id: int,
    deadline: datetime,
    after_id: int,
    limit: int,
    reason: str,
    message: Message,
) -> tuple[int | None, int, int]:
    """Remind the next `limit` due members (by registration id after `after_id`).

    Returns (last registration id seen or None when done, due in this chunk, reminders sent).
    Due = still active with valid_until not past this cycle's deadline (renewed ones moved it).
    """
    row = await conn.fetchrow(
        """
        WITH due AS (
            SELECT id, member_id FROM member_registration
            WHERE cohort_id = $1 AND status = 'active' AND valid_until <= $2 AND id > $3
            ORDER BY id LIMIT $4
        ), ins AS (
            INSERT INTO reminder (ladder, subject_kind, subject_id, cycle, step, recipient_kind,
                                  recipient_id, reason)
            SELECT $5, $6, $7, $8, $9, 'member', member_id, $10 FROM due
            ON CONFLICT DO NOTHING
            RETURNING recipient_id
        ), note AS (
            INSERT INTO notification (recipient_kind, recipient_id, category, title, body, dedupe_key)
            SELECT 'member', recipient_id, $11, $12, $13, $14 || recipient_id FROM ins
            ON CONFLICT (dedupe_key) DO NOTHING
            RETURNING 1
        )
        SELECT (SELECT max(id) FROM due) AS last_id, (SELECT count(*) FROM due) AS due,
               (SELECT count(*) FROM ins) AS sent, (SELECT count(*) FROM note) AS notified
        """,
        cohort_id, deadline, after_id, limit,
        key.ladder, key.subject_kind, key.subject_id, key.cycle, key.step, reason,
        message.category, message.title, message.body, key.dedupe_prefix("member"),
    )
    assert row is not None
    last_id: int | None = row["last_id"]
    return last_id, int(row["due"]), int(row["sent"])


async def remind_units_due_renewal(
    conn: Conn, *, key: ReminderKey, cohort_id: int, deadline: datetime, reason: str, message: Message
) -> int:
    """Remind each employer unit of due members once, with how many; returns reminders sent."""
    sent: int = await conn.fetchval(
        """
        WITH due AS (
            SELECT m.unit_id, count(*) AS n
            FROM member_registration mr JOIN member m ON m.id = mr.member_id
            WHERE mr.cohort_id = $1 AND mr.status = 'active' AND mr.valid_until <= $2
              AND m.unit_id IS NOT NULL
            GROUP BY m.unit_id
        ), ins AS (
            INSERT INTO reminder (ladder, subject_kind, subject_id, cycle, step, recipient_kind,
                                  recipient_id, reason)
            SELECT $3, $4, $5, $6, $7, 'unit', unit_id, $8 FROM due
            ON CONFLICT DO NOTHING
            RETURNING recipient_id
        ), note AS (
            INSERT INTO notification (recipient_kind, recipient_id, category, title, body, dedupe_key)
            SELECT 'unit', ins.recipient_id, $9, $10, replace($11, '{count}', due.n::text),
                   $12 || ins.recipient_id
            FROM ins JOIN due ON due.unit_id = ins.recipient_id
            ON CONFLICT (dedupe_key) DO NOTHING
            RETURNING 1
        )
        SELECT count(*) FROM ins
        """,
        cohort_id, deadline, key.ladder, key.subject_kind, key.subject_id, key.cycle, key.step,
        reason, message.category, message.title, message.body, key.dedupe_prefix("unit"),
    )
    return sent


async def remind_one(
    conn: Conn, *, key: ReminderKey, recipient_kind: str, recipient_id: int, reason: str,
    message: Message,
) -> bool:
    """Remind a single recipient once; True when sent now, False when already sent."""
    sent: int = await conn.fetchval(
        """
        WITH ins AS (
            INSERT INTO reminder (ladder, subject_kind, subject_id, cycle, step, recipient_kind,
                                  recipient_id, reason)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT DO NOTHING
            RETURNING recipient_id
        ), note AS (
            INSERT INTO notification (recipient_kind, recipient_id, category, title, body, dedupe_key)
            SELECT $6, recipient_id, $9, $10, $11, $12 || recipient_id FROM ins
            ON CONFLICT (dedupe_key) DO NOTHING
            RETURNING 1
        )
        SELECT count(*) FROM ins
        """,
        key.ladder, key.subject_kind, key.subject_id, key.cycle, key.step, recipient_kind,
        recipient_id, reason, message.category, message.title, message.body,
        key.dedupe_prefix(recipient_kind),
    )
    return sent > 0

