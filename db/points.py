"""The two append-only points ledgers: evaluation_points and redeemable_points.

`service_key` is UNIQUE, and every credit is `INSERT ... ON CONFLICT DO NOTHING`: crediting the
same service again (an activity retry, a restarted worker, a replayed workflow) adds nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.pool import Conn


@dataclass(frozen=True, slots=True)
class TaskCreditRow:
    """A task's credit to one member in the evaluation ledger."""

    member_id: int
    service_key: str
    points: float
    parts: dict[str, Any]
    awarded_at: datetime


@dataclass(frozen=True, slots=True)
class MemberLineRow:
    """One line of a member's ledgers with what it was for: the task (its title, the campaign that
    dispatched it) or the service record (its category, the redeemable campaign that counted it)."""

    ledger: str
    points: float
    awarded_at: datetime
    task_id: int | None
    service_record_id: int | None
    task_title: str | None
    category: str | None
    record_category: str | None
    hours: float | None
    campaign_name: str | None


async def credit_services(
    conn: Conn,
    *,
    task_id: int,
    member_ids: list[int],
    service_keys: list[str],
    points: list[float],
    parts: list[dict[str, Any]],
    redeemable: bool,
    at: datetime,
) -> int:
    """Credit each (member, key) once to the evaluation ledger (and the redeemable one when on);
    return how many evaluation credits were written now."""
    credited: int = await conn.fetchval(
        """
        WITH src AS (
            SELECT * FROM unnest($2::bigint[], $3::text[], $4::float8[], $5::text[])
                AS s(member_id, service_key, points, parts)
        ), ev AS (
            INSERT INTO evaluation_points (member_id, task_id, service_key, points, parts, awarded_at)
            SELECT member_id, $1, service_key, points::numeric, parts::jsonb, $7 FROM src
            ON CONFLICT (service_key) DO NOTHING
            RETURNING 1
        ), rd AS (
            INSERT INTO redeemable_points (member_id, task_id, service_key, points, parts, awarded_at)
            SELECT member_id, $1, service_key, points::numeric, parts::jsonb, $7 FROM src WHERE $6
            ON CONFLICT (service_key) DO NOTHING
            RETURNING 1
        )
        -- Data-modifying CTEs always run to completion, so rd is written though not read here.
        SELECT count(*)::int FROM ev
        """,
        task_id, member_ids, service_keys, points,
        [json.dumps(p, ensure_ascii=False) for p in parts], redeemable, at,
    )
    return credited


async def select_task_credits(conn: Conn, *, task_id: int) -> list[TaskCreditRow]:
    rows = await conn.fetch(
        """
        SELECT member_id, service_key, points::float AS points, parts, awarded_at
        FROM evaluation_points WHERE task_id = $1 ORDER BY member_id
        """,
        task_id,
    )
    return [TaskCreditRow(**r) for r in rows]


async def select_member_balance(conn: Conn, *, member_id: int) -> dict[str, float]:
    row = await conn.fetchrow(
        """
        SELECT (SELECT coalesce(sum(points), 0)::float FROM evaluation_points WHERE member_id = $1) AS evaluation,
               (SELECT coalesce(sum(points), 0)::float FROM redeemable_points WHERE member_id = $1) AS redeemable
        """,
        member_id,
    )
    assert row is not None
    return {"evaluation": float(row["evaluation"]), "redeemable": float(row["redeemable"])}


async def credit_services_of_tasks(
    conn: Conn,
    *,
    task_ids: list[int],
    member_ids: list[int],
    service_keys: list[str],
    points: list[float],
    parts: list[dict[str, Any]],
    ats: list[datetime],
) -> int:
    """`credit_services` for many tasks at once (history written after the fact; evaluation
    ledger only): each key once, a key already there adds nothing; how many were written now."""
    credited: int = await conn.fetchval(
        """
        WITH ev AS (
            INSERT INTO evaluation_points (member_id, task_id, service_key, points, parts, awarded_at)
            SELECT member_id, task_id, service_key, points::numeric, parts::jsonb, awarded_at
            FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::float8[], $5::text[], $6::timestamptz[])
                 AS s(task_id, member_id, service_key, points, parts, awarded_at)
            ON CONFLICT (service_key) DO NOTHING
            RETURNING 1
        )
        SELECT count(*)::int FROM ev
        """,
        task_ids, member_ids, service_keys, points, [json.dumps(p, ensure_ascii=False) for p in parts], ats,
    )
    return credited


async def select_member_service_totals(conn: Conn, *, member_id: int) -> tuple[int, float]:
    """How many services the evaluation ledger credits the member with, and their hours."""
    row = await conn.fetchrow(
        """
        SELECT count(*)::int AS services,
               coalesce(sum(CASE WHEN jsonb_typeof(parts->'hours') = 'number'
                                 THEN (parts->>'hours')::float END), 0)::float AS hours
        FROM evaluation_points WHERE member_id = $1
        """,
        member_id,
    )
    assert row is not None
    return int(row["services"]), float(row["hours"])


async def select_member_lines(
    conn: Conn, *, member_id: int, ledger: str | None, limit: int, offset: int
) -> tuple[int, list[MemberLineRow]]:
    """The member's lines of both ledgers (or one), newest first, each with what it was for: the
    task (and the campaign that dispatched it) or the service record (and the redeemable
    campaign over its community and time that made it count there). (total, one page)."""
    rows = await conn.fetch(
        """
        WITH lines AS MATERIALIZED (
            SELECT 'evaluation' AS ledger, id, task_id, service_record_id, points, parts, awarded_at
            FROM evaluation_points WHERE member_id = $1 AND ($2::text IS NULL OR $2 = 'evaluation')
            UNION ALL
            SELECT 'redeemable', id, task_id, service_record_id, points, parts, awarded_at
            FROM redeemable_points WHERE member_id = $1 AND ($2::text IS NULL OR $2 = 'redeemable')
        ), total AS (SELECT count(*) AS total FROM lines)
        SELECT total.total, p.* FROM total LEFT JOIN LATERAL (
            SELECT l.ledger, l.points::float AS points, l.awarded_at, l.task_id, l.service_record_id,
                   t.title AS task_title, coalesce(t.category, sr.category) AS category,
                   sr.category AS record_category,
                   CASE WHEN jsonb_typeof(l.parts->'hours') = 'number' THEN (l.parts->>'hours')::float END AS hours,
                   coalesce(
                       (SELECT ca.name FROM campaign_task ct JOIN campaign ca ON ca.id = ct.campaign_id
                        WHERE ct.task_id = l.task_id ORDER BY ca.id LIMIT 1),
                       (SELECT ca.name FROM campaign ca JOIN campaign_community cc ON cc.campaign_id = ca.id
                        WHERE sr.id IS NOT NULL AND cc.community_id = sr.community_id AND ca.redeemable
                          AND ca.status NOT IN ('draft', 'cancelled')
                          AND sr.started_at >= ca.window_start AND sr.started_at < ca.window_end
                        ORDER BY ca.id LIMIT 1)) AS campaign_name
            FROM lines l
            LEFT JOIN task t ON t.id = l.task_id
            LEFT JOIN service_record sr ON sr.id = l.service_record_id
            ORDER BY l.awarded_at DESC, l.ledger, l.id DESC
            LIMIT $3 OFFSET $4
        ) p ON true
        """,
        member_id, ledger, limit, offset,
    )
    total = int(rows[0]["total"]) if rows else 0
    return total, [MemberLineRow(**{k: v for k, v in r.items() if k != "total"}) for r in rows
                   if r["ledger"] is not None]


async def debit_redemption(conn: Conn, *, member_id: int, redemption_id: int, points: float,
                           item_name: str, at: datetime) -> None:
    """The redemption's one debit line (negative). The balance trigger applies it to
    redeemable_balance in this transaction; CHECK (balance >= 0) refuses an overdraft."""
    await conn.execute(
        """
        INSERT INTO redeemable_points (member_id, redemption_id, service_key, points, parts, awarded_at)
        VALUES ($1, $2, 'exchange:' || $2::bigint::text || ':debit', -$3::numeric, $4::jsonb, $5)
        """,
        member_id, redemption_id, points,
        json.dumps({"reason": "积分兑换", "item": item_name}, ensure_ascii=False), at,
    )


async def refund_redemption(conn: Conn, *, member_id: int, redemption_id: int, points: float,
                            item_name: str, at: datetime) -> bool:
    """The redemption's one refund line (positive) when it lapsed uncollected; False if there was one."""
    written = await conn.fetchval(
        """
        INSERT INTO redeemable_points (member_id, redemption_id, service_key, points, parts, awarded_at)
        VALUES ($1, $2, 'exchange:' || $2::bigint::text || ':refund', $3::numeric, $4::jsonb, $5)
        ON CONFLICT DO NOTHING RETURNING id
        """,
        member_id, redemption_id, points,
        json.dumps({"reason": "兑换过期退回", "item": item_name}, ensure_ascii=False), at,
    )
    return written is not None


async def select_redeemable(conn: Conn, *, member_id: int, lock: bool = False) -> tuple[float, float]:
    """(balance row, sum of the ledger's lines) of a member's redeemable points; with `lock`, the
    balance row is locked for this transaction (redemptions of one member serialize on it)."""
    if lock:
        await conn.execute("SELECT 1 FROM redeemable_balance WHERE member_id = $1 FOR UPDATE", member_id)
    row = await conn.fetchrow(
        """
        SELECT (SELECT coalesce(max(balance), 0)::float FROM redeemable_balance WHERE member_id = $1) AS balance,
               (SELECT coalesce(sum(points), 0)::float FROM redeemable_points WHERE member_id = $1) AS ledger
        """,
        member_id,
    )
    assert row is not None
    return float(row["balance"]), float(row["ledger"])
