"""Queries on offer: one row per member per wave, with the score parts that chose them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.pool import Conn
from schemas.dispatch import OfferView

_OFFER_COLUMNS = "id, task_id, member_id, wave, level, status, score_parts, offered_at, expires_at, answered_at"


@dataclass(frozen=True, slots=True)
class WaveOfferRow:
    """An offer of a wave: whom it went to and until when it stands."""

    id: int
    member_id: int
    expires_at: datetime


async def select_wave_offers(conn: Conn, *, task_id: int, wave: int) -> list[WaveOfferRow]:
    rows = await conn.fetch(
        "SELECT id, member_id, expires_at FROM offer WHERE task_id = $1 AND wave = $2 ORDER BY id",
        task_id, wave,
    )
    return [WaveOfferRow(**r) for r in rows]


async def insert_offers(
    conn: Conn,
    *,
    task_id: int,
    wave: int,
    level: str,
    member_ids: list[int],
    score_parts: list[dict[str, Any]],
    offered_at: datetime,
    expires_at: datetime,
) -> list[WaveOfferRow]:
    """Insert a wave set-based; a row already there (a retried activity) is left as it was."""
    rows = await conn.fetch(
        """
        INSERT INTO offer (task_id, member_id, wave, level, score_parts, offered_at, expires_at)
        SELECT $1, o.member_id, $2, $3, o.parts::jsonb, $5, $6
        FROM unnest($4::bigint[], $7::text[]) AS o(member_id, parts)
        ON CONFLICT (task_id, member_id, wave) DO NOTHING
        RETURNING id, member_id, expires_at
        """,
        task_id, wave, level, member_ids, offered_at, expires_at,
        [json.dumps(p, ensure_ascii=False) for p in score_parts],
    )
    return [WaveOfferRow(**r) for r in rows]


async def member_has_open_offer(conn: Conn, *, task_id: int, member_id: int) -> bool:
    """Whether the member holds an unanswered offer of the task (whatever the workflow knows yet)."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM offer WHERE task_id = $1 AND member_id = $2 AND status = 'offered')",
        task_id, member_id)
    return found


async def select_offer(conn: Conn, *, offer_id: int) -> OfferView | None:
    row = await conn.fetchrow(
        f"SELECT {_OFFER_COLUMNS} FROM offer WHERE id = $1 FOR UPDATE",  # noqa: S608 - constant column list
        offer_id,
    )
    return None if row is None else OfferView(**row)


async def answer_offer(
    conn: Conn, *, offer_id: int, status: str, reason: str | None, at: datetime
) -> str:
    """Record the answer once; return the offer's status after (a repeat changes nothing)."""
    status_after: str = await conn.fetchval(
        """
        WITH upd AS (
            UPDATE offer SET status = $2, reason = $3, answered_at = $4
            WHERE id = $1 AND status = 'offered' RETURNING status
        )
        SELECT coalesce((SELECT status FROM upd), (SELECT status FROM offer WHERE id = $1))
        """,
        offer_id, status, reason, at,
    )
    return status_after


async def close_offers(
    conn: Conn, *, task_id: int, offer_ids: list[int], status: str, at: datetime
) -> list[int]:
    """Close unanswered offers (expired, or withdrawn when the task filled up first); the members
    whose offers were closed now."""
    rows = await conn.fetch(
        """
        UPDATE offer SET status = $3, answered_at = $4
        WHERE task_id = $1 AND id = ANY($2::bigint[]) AND status = 'offered'
        RETURNING member_id
        """,
        task_id, offer_ids, status, at,
    )
    return [int(r["member_id"]) for r in rows]


async def mark_offer_no_show(conn: Conn, *, task_id: int, member_id: int) -> None:
    await conn.execute(
        "UPDATE offer SET status = 'no_show' WHERE task_id = $1 AND member_id = $2 AND status = 'accepted'",
        task_id, member_id,
    )


async def select_task_offers(conn: Conn, *, task_id: int) -> list[OfferView]:
    rows = await conn.fetch(
        f"SELECT {_OFFER_COLUMNS} FROM offer WHERE task_id = $1 ORDER BY wave, id",  # noqa: S608 - constant column list
        task_id,
    )
    return [OfferView(**r) for r in rows]


async def select_member_offers(conn: Conn, *, member_id: int, limit: int) -> list[OfferView]:
    rows = await conn.fetch(
        f"SELECT {_OFFER_COLUMNS} FROM offer WHERE member_id = $1 ORDER BY id DESC LIMIT $2",  # noqa: S608 - constant column list
        member_id, limit,
    )
    return [OfferView(**r) for r in rows]


async def insert_answered_offers(
    conn: Conn,
    *,
    task_ids: list[int],
    member_ids: list[int],
    waves: list[int],
    levels: list[str],
    statuses: list[str],
    score_parts: list[dict[str, Any]],
    reasons: list[str | None],
    offered_ats: list[datetime],
    expires_ats: list[datetime],
    answered_ats: list[datetime | None],
) -> list[int]:
    """Offers with their answers, set-based, for history written after the fact; their ids in
    the order given."""
    rows = await conn.fetch(
        """
        INSERT INTO offer (task_id, member_id, wave, level, status, score_parts, reason, offered_at,
                           expires_at, answered_at)
        SELECT task_id, member_id, wave, level, status, parts::jsonb, reason, offered_at, expires_at,
               answered_at
        FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::text[], $5::text[], $6::text[],
                    $7::text[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[])
             WITH ORDINALITY AS s(task_id, member_id, wave, level, status, parts, reason, offered_at,
                                  expires_at, answered_at, ord)
        ORDER BY ord
        RETURNING id
        """,
        task_ids, member_ids, waves, levels, statuses,
        [json.dumps(p, ensure_ascii=False) for p in score_parts], reasons, offered_ats, expires_ats,
        answered_ats,
    )
    return sorted(int(r["id"]) for r in rows)
