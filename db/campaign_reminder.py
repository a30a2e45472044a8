"""A campaign's reminders, set-based: one statement per partition of members, one per wave's groups.

Exactly once: the reminder table's unique key (ladder, subject, cycle = period, step, recipient)
with `ON CONFLICT DO NOTHING RETURNING` means only rows inserted *now* get an inbox notification,
and the notification's unique dedupe_key guards again. The partition's bookkeeping row (and its
tallies per unit / community / subdistrict) is written by the same statement, so a partition
either happened completely or not at all: a retried activity, or a new worker after a crash,
finds it done or does it whole.

Who is behind is decided by the WHERE clause at the moment the step runs, so a member who
registered (or served) since the previous step is no longer reminded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Conn

_OPEN_REGISTRATION = ["submitted", "confirmed", "active", "paused"]
# A member who counts for service quotas: confirmed by the community (paused members are exempt).
_SERVING_REGISTRATION = ["confirmed", "active"]


@dataclass(frozen=True)
class WaveKey:
    campaign_id: int
    ladder: str        # campaign:{id}:{kind}
    period: int        # the reminder's cycle
    step: str

    @property
    def dedupe_prefix(self) -> str:
        """campaign:{id}:{kind}:{period}:{step}: — SQL appends `{recipient_kind}:{recipient_id}`."""
        return f"{self.ladder}:{self.period}:{self.step}:"


@dataclass(frozen=True)
class PartitionSpec:
    wave_id: int
    partition: int
    lo: int
    hi: int
    remind_members: bool
    group_kinds: list[str]   # which of unit / community / subdistrict to tally


@dataclass(frozen=True)
class MemberMessage:
    category: str
    title: str
    body: str
    reason: str


@dataclass(frozen=True)
class PartitionOutcome:
    behind: int
    reminded: int
    notified: int
    recorded: bool     # False: the partition had been recorded before (nothing written now)
    # The members reminded now, only when asked for (to queue external channels for them).
    reminded_ids: list[int]


# What a partition writes once its `behind` CTE has chosen the members ($1-$4 and $19.. are the
# CTE's own parameters): their reminders, inbox notices, the group tallies, the partition's row and
# the wave's counters, all in the one statement (see the module docstring).
_PARTITION_TAIL = """
        ins AS (
            INSERT INTO reminder (ladder, subject_kind, subject_id, cycle, step, recipient_kind,
                                  recipient_id, reason, sent_at)
            SELECT $5, 'member', member_id, $6, $7, 'member', member_id, $8, $9
            FROM behind WHERE $10
            ON CONFLICT DO NOTHING
            RETURNING recipient_id
        ), note AS (
            INSERT INTO notification (recipient_kind, recipient_id, category, title, body,
                                      dedupe_key, created_at)
            SELECT 'member', recipient_id, $11, $12, $13, $14 || 'member:' || recipient_id, $9
            FROM ins
            ON CONFLICT (dedupe_key) DO NOTHING
            RETURNING 1
        ), tally AS (
            INSERT INTO campaign_wave_tally (wave_id, partition, recipient_kind, recipient_id, behind)
            SELECT $15, $16, g.kind, g.id, count(*)
            FROM behind, LATERAL (VALUES ('unit', behind.unit_id), ('community', behind.community_id),
                                         ('subdistrict', behind.subdistrict_id)) AS g(kind, id)
            WHERE g.id IS NOT NULL AND g.kind = ANY($17::text[])
            GROUP BY g.kind, g.id
            ON CONFLICT DO NOTHING
            RETURNING 1
        ), part AS (
            INSERT INTO campaign_wave_partition (wave_id, partition, behind, reminded, done_at)
            SELECT $15, $16, (SELECT count(*) FROM behind), (SELECT count(*) FROM ins), $9
            ON CONFLICT DO NOTHING
            RETURNING behind, reminded
        ), wave AS (
            UPDATE campaign_wave w SET partitions_done = partitions_done + 1,
                                       behind = w.behind + part.behind,
                                       reminded = w.reminded + part.reminded
            FROM part WHERE w.id = $15
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM behind) AS behind, (SELECT count(*) FROM ins) AS reminded,
               (SELECT count(*) FROM note) AS notified, (SELECT count(*) FROM part) AS recorded,
               (SELECT count(*) FROM tally) AS tallies, (SELECT count(*) FROM wave) AS waves,
               CASE WHEN $18 THEN (SELECT array_agg(recipient_id) FROM ins) END AS reminded_ids
"""


async def _remind_partition(
    conn: Conn, behind_sql: str, statuses: list[str], *extra: object, key: WaveKey, spec: PartitionSpec,
    message: MemberMessage, at: datetime, want_ids: bool,
) -> PartitionOutcome:
    """Run `behind_sql` (the members behind, from $1 campaign, $2-$3 id range, $4 statuses and
    `extra` as $19..) with the shared tail."""
    row = await conn.fetchrow(
        f"WITH behind AS MATERIALIZED ({behind_sql}),{_PARTITION_TAIL}",
        key.campaign_id, spec.lo, spec.hi, statuses,
        key.ladder, key.period, key.step, message.reason, at, spec.remind_members,
        message.category, message.title, message.body, key.dedupe_prefix,
        spec.wave_id, spec.partition, spec.group_kinds, want_ids, *extra,
    )
    assert row is not None
    return PartitionOutcome(int(row["behind"]), int(row["reminded"]), int(row["notified"]),
                            bool(row["recorded"]), list(row["reminded_ids"] or []))


async def remind_unregistered_partition(
    conn: Conn, *, key: WaveKey, spec: PartitionSpec, message: MemberMessage, at: datetime,
    want_ids: bool = False,
) -> PartitionOutcome:
    """Members living in the campaign's communities with no open registration, in [lo, hi]."""
    return await _remind_partition(
        conn,
        """
            SELECT m.id AS member_id, m.unit_id, m.home_community_id AS community_id,
                   co.subdistrict_id
            FROM member m
            JOIN campaign_community cc ON cc.campaign_id = $1 AND cc.community_id = m.home_community_id
            JOIN community co ON co.id = m.home_community_id
            WHERE m.id BETWEEN $2 AND $3
              AND NOT EXISTS (SELECT 1 FROM member_registration r
                              WHERE r.member_id = m.id AND r.status = ANY($4::text[]))
        """,
        _OPEN_REGISTRATION, key=key, spec=spec, message=message, at=at, want_ids=want_ids,
    )


async def remind_under_quota_partition(
    conn: Conn, *, key: WaveKey, spec: PartitionSpec, message: MemberMessage, at: datetime,
    period_start: datetime, as_of: datetime, min_services: int, min_hours: float,
    want_ids: bool = False,
) -> PartitionOutcome:
    """Members serving in the campaign's communities whose checked-out services and approved
    service records since the period start (up to the step) are fewer than `min_services` or
    shorter than `min_hours` in total.

    Mirrors domain.quota.is_behind. Services done after the period end but before the step
    count: the reminder's point is to get the quota done, late or not.
    """
    return await _remind_partition(
        conn,
        """
            SELECT r.member_id, m.unit_id, r.community_id, co.subdistrict_id
            FROM member_registration r
            JOIN campaign_community cc ON cc.campaign_id = $1 AND cc.community_id = r.community_id
            JOIN member m ON m.id = r.member_id
            JOIN community co ON co.id = r.community_id
            LEFT JOIN LATERAL (
                SELECT count(*) AS n, coalesce(sum(x.hours), 0) AS h FROM (
                    SELECT a.hours FROM assignment a
                    WHERE a.member_id = r.member_id AND a.status = 'checked_out'
                      AND a.checked_out_at >= $19 AND a.checked_out_at < $20
                    UNION ALL
                    -- an approved self-logged service record 服务记录 is a service too (0013)
                    SELECT sr.hours FROM service_record sr
                    WHERE sr.member_id = r.member_id AND sr.status = 'approved'
                      AND sr.ended_at >= $19 AND sr.ended_at < $20
                ) x
            ) s ON true
            WHERE r.member_id BETWEEN $2 AND $3 AND r.status = ANY($4::text[])
              AND (s.n < $21 OR s.h < $22)
        """,
        _SERVING_REGISTRATION, period_start, as_of, min_services, min_hours,
        key=key, spec=spec, message=message, at=at, want_ids=want_ids,
    )


@dataclass(frozen=True)
class GroupMessage:
    recipient_kind: str
    category: str
    title: str
    body: str    # keeps "{count}", filled per recipient


async def remind_groups(
    conn: Conn, *, key: WaveKey, wave_id: int, messages: list[GroupMessage], reason: str, at: datetime
) -> list[tuple[str, int, int]]:
    """One reminder and notification per unit / community / subdistrict with members behind in
    this wave, with how many; returns (recipient_kind, recipient_id, count) of those sent now."""
    rows = await conn.fetch(
        """
        WITH msg AS (
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
                AS t(kind, category, title, body)
        ), g AS (
            SELECT t.recipient_kind, t.recipient_id, sum(t.behind)::bigint AS n
            FROM campaign_wave_tally t JOIN msg ON msg.kind = t.recipient_kind
            WHERE t.wave_id = $5 GROUP BY t.recipient_kind, t.recipient_id
        ), ins AS (
            INSERT INTO reminder (ladder, subject_kind, subject_id, cycle, step, recipient_kind,
                                  recipient_id, reason, sent_at)
            SELECT $6, 'campaign', $7, $8, $9, recipient_kind, recipient_id, $10, $11 FROM g
            ON CONFLICT DO NOTHING
            RETURNING recipient_kind, recipient_id
        ), note AS (
            INSERT INTO notification (recipient_kind, recipient_id, category, title, body,
                                      dedupe_key, created_at)
            SELECT ins.recipient_kind, ins.recipient_id, msg.category, msg.title,
                   replace(msg.body, '{count}', g.n::text),
                   $12 || ins.recipient_kind || ':' || ins.recipient_id, $11
            FROM ins JOIN g USING (recipient_kind, recipient_id)
            JOIN msg ON msg.kind = ins.recipient_kind
            ON CONFLICT (dedupe_key) DO NOTHING
            RETURNING 1
        )
        SELECT ins.recipient_kind, ins.recipient_id, g.n FROM ins JOIN g USING (recipient_kind, recipient_id)
        """,
        [m.recipient_kind for m in messages], [m.category for m in messages],
        [m.title for m in messages], [m.body for m in messages], wave_id,
        key.ladder, key.campaign_id, key.period, key.step, reason, at, key.dedupe_prefix,
    )
    return [(r["recipient_kind"], int(r["recipient_id"]), int(r["n"])) for r in rows]
