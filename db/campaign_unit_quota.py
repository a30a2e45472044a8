"""A campaign's unit quota: units' registration counts, and their exactly-once reminder rows.

Counting is here, deciding is in domain/campaign_unit_quota.py. A unit's members are those living
in the campaign's communities; registered means an open registration (as the member reminders
judge). Reminder rows go into the core `reminder` table, whose unique key (ladder, subject,
cycle, step, recipient) makes every insert idempotent: `ON CONFLICT DO NOTHING RETURNING` tells
the caller which were new, and only those get their notifications (in the same transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.pool import Conn

_OPEN_REGISTRATION = ["submitted", "confirmed", "active", "paused"]


@dataclass(frozen=True)
class UnitCount:
    unit_id: int
    name: str
    members: int
    registered: int


def _counts(rows: list[Any]) -> list[UnitCount]:
    return [UnitCount(int(r["unit_id"]), r["name"], int(r["members"]), int(r["registered"])) for r in rows]


async def select_unit_page(
    conn: Conn, *, campaign_id: int, after_unit_id: int, limit: int
) -> tuple[int | None, list[UnitCount]]:
    """The next `limit` reporting units by id after `after_unit_id`: (the page's last id or None
    when none is left, the counts of those with members living in the campaign's communities)."""
    rows = await conn.fetch(
        """
        WITH page AS (
            SELECT id, name FROM reporting_unit WHERE id > $2 ORDER BY id LIMIT $3
        )
        SELECT p.id AS unit_id, p.name, c.members, c.registered,
               (SELECT max(id) FROM page) AS last_id
        FROM page p CROSS JOIN LATERAL (
            SELECT count(*) AS members,
                   count(*) FILTER (WHERE EXISTS (
                       SELECT 1 FROM member_registration r
                       WHERE r.member_id = m.id AND r.status = ANY($4::text[]))) AS registered
            FROM member m
            JOIN campaign_community cc ON cc.campaign_id = $1 AND cc.community_id = m.home_community_id
            WHERE m.unit_id = p.id
        ) c
        ORDER BY p.id
        """,
        campaign_id, after_unit_id, limit, _OPEN_REGISTRATION,
    )
    if not rows:
        return None, []
    return int(rows[0]["last_id"]), _counts([r for r in rows if r["members"] > 0])


async def select_unit_counts(
    conn: Conn, *, campaign_id: int, district_id: int | None = None, subdistrict_id: int | None = None,
    community_id: int | None = None,
) -> list[UnitCount]:
    """Every unit with members living in the campaign's communities (inside the optional filter),
    counted over those members only: what a progress view of that area shows."""
    rows = await conn.fetch(
        """
        WITH cc AS (
            SELECT x.community_id FROM campaign_community x
            JOIN community co ON co.id = x.community_id
            JOIN subdistrict s ON s.id = co.subdistrict_id
            WHERE x.campaign_id = $1
              AND ($2::bigint IS NULL OR s.district_id = $2)
              AND ($3::bigint IS NULL OR co.subdistrict_id = $3)
              AND ($4::bigint IS NULL OR co.id = $4)
        )
        SELECT u.id AS unit_id, u.name, count(*) AS members,
               count(*) FILTER (WHERE EXISTS (
                   SELECT 1 FROM member_registration r
                   WHERE r.member_id = m.id AND r.status = ANY($5::text[]))) AS registered
        FROM member m JOIN cc ON cc.community_id = m.home_community_id
        JOIN reporting_unit u ON u.id = m.unit_id
        GROUP BY u.id, u.name
        ORDER BY u.id
        """,
        campaign_id, district_id, subdistrict_id, community_id, _OPEN_REGISTRATION,
    )
    return _counts(list(rows))


@dataclass(frozen=True)
class ReminderRow:
    recipient_kind: str
    recipient_id: int
    reason: str


async def insert_reminders(
    conn: Conn, *, ladder: str, subject_kind: str, subject_id: int | None, cycle: int, step: str,
    rows: list[ReminderRow], at: datetime,
) -> set[tuple[str, int]]:
    """Record reminders once; the (recipient_kind, recipient_id) of those inserted now.

    `subject_id` None means each row is about its recipient itself (a unit reminded about its
    own rate); otherwise every row is about that subject (a campaign's summary to a community).
    """
    if not rows:
        return set()
    inserted = await conn.fetch(
        """
        INSERT INTO reminder (ladder, subject_kind, subject_id, cycle, step, recipient_kind,
                              recipient_id, reason, sent_at)
        SELECT $1, $2, coalesce($3, r.recipient_id), $4, $5, r.recipient_kind, r.recipient_id, r.reason, $9
        FROM unnest($6::text[], $7::bigint[], $8::text[]) AS r(recipient_kind, recipient_id, reason)
        ON CONFLICT DO NOTHING
        RETURNING recipient_kind, recipient_id
        """,
        ladder, subject_kind, subject_id, cycle, step,
        [r.recipient_kind for r in rows], [r.recipient_id for r in rows], [r.reason for r in rows], at,
    )
    return {(r["recipient_kind"], int(r["recipient_id"])) for r in inserted}


@dataclass(frozen=True)
class RemindedUnitPlaceRow:
    """A unit reminded at a step, where it is located (community) and who oversees that."""

    unit_id: int
    name: str
    community_id: int
    subdistrict_id: int


async def select_reminded_unit_places(
    conn: Conn, *, campaign_id: int, ladder: str, cycle: int, step: str
) -> list[RemindedUnitPlaceRow]:
    """Units reminded at this step that are located in one of the campaign's communities, with
    that community and its subdistrict (who oversees them)."""
    rows = await conn.fetch(
        """
        SELECT u.id AS unit_id, u.name, u.community_id, co.subdistrict_id
        FROM reminder rm
        JOIN reporting_unit u ON u.id = rm.recipient_id
        JOIN campaign_community cc ON cc.campaign_id = $1 AND cc.community_id = u.community_id
        JOIN community co ON co.id = u.community_id
        WHERE rm.ladder = $2 AND rm.subject_kind = 'reporting_unit' AND rm.cycle = $3 AND rm.step = $4
          AND rm.recipient_kind = 'unit'
        ORDER BY u.id
        """,
        campaign_id, ladder, cycle, step,
    )
    return [RemindedUnitPlaceRow(**r) for r in rows]


async def count_unit_reminders_by_step(
    conn: Conn, *, ladder: str, unit_ids: list[int] | None = None
) -> dict[str, int]:
    """Unit reminders sent per step (only of `unit_ids` when given)."""
    rows = await conn.fetch(
        """
        SELECT step, count(*) AS n FROM reminder
        WHERE ladder = $1 AND subject_kind = 'reporting_unit' AND recipient_kind = 'unit'
          AND ($2::bigint[] IS NULL OR recipient_id = ANY($2::bigint[]))
        GROUP BY step
        """,
        ladder, unit_ids,
    )
    return {r["step"]: int(r["n"]) for r in rows}
