"""Reminder waves and their partitions: planning, per-partition bookkeeping, progress reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Conn
from schemas.campaign import WaveProgress


async def upsert_wave(
    conn: Conn, *, campaign_id: int, deadline_kind: str, period: int, step: str,
    partitions_total: int, at: datetime,
) -> int:
    """The wave's id; a wave planned again (a retried activity) keeps its first plan."""
    wave_id: int = await conn.fetchval(
        """
        INSERT INTO campaign_wave (campaign_id, deadline_kind, period, step, partitions_total, started_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (campaign_id, deadline_kind, period, step)
        DO UPDATE SET partitions_total = campaign_wave.partitions_total
        RETURNING id
        """,
        campaign_id, deadline_kind, period, step, partitions_total, at,
    )
    return wave_id


async def select_member_id_bounds(conn: Conn) -> tuple[int, int] | None:
    """The member id range a wave partitions (None when there are no members)."""
    row = await conn.fetchrow("SELECT min(id) AS lo, max(id) AS hi FROM member")
    if row is None or row["lo"] is None:
        return None
    return int(row["lo"]), int(row["hi"])


async def select_done_partitions(conn: Conn, *, wave_id: int) -> set[int]:
    rows = await conn.fetch("SELECT partition FROM campaign_wave_partition WHERE wave_id = $1", wave_id)
    return {int(r["partition"]) for r in rows}


@dataclass(frozen=True, slots=True)
class PartitionTally:
    """A partition already done: its members behind and reminded."""

    behind: int
    reminded: int


async def select_partition(conn: Conn, *, wave_id: int, partition: int) -> PartitionTally | None:
    row = await conn.fetchrow(
        "SELECT behind, reminded FROM campaign_wave_partition WHERE wave_id = $1 AND partition = $2",
        wave_id, partition,
    )
    return PartitionTally(**row) if row is not None else None


@dataclass(frozen=True, slots=True)
class WaveTotals:
    """A finished wave's members behind and reminded, and the groups told."""

    behind: int
    reminded: int
    groups_reminded: int


async def finish_wave(conn: Conn, *, wave_id: int, groups_reminded: int, at: datetime) -> WaveTotals:
    row = await conn.fetchrow(
        """
        UPDATE campaign_wave SET finished_at = coalesce(finished_at, $3),
                                 groups_reminded = groups_reminded + $2
        WHERE id = $1 RETURNING behind, reminded, groups_reminded
        """,
        wave_id, groups_reminded, at,
    )
    assert row is not None
    return WaveTotals(**row)


async def select_waves(conn: Conn, *, campaign_id: int) -> list[WaveProgress]:
    rows = await conn.fetch(
        """
        SELECT id AS wave_id, deadline_kind, period, step, partitions_total, partitions_done,
               behind, reminded, groups_reminded, started_at, finished_at
        FROM campaign_wave WHERE campaign_id = $1 ORDER BY id
        """,
        campaign_id,
    )
    return [WaveProgress.model_validate(dict(r)) for r in rows]


async def any_wave_finished(conn: Conn, *, campaign_id: int) -> bool:
    """Whether any reminder wave of the campaign has finished."""
    done: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM campaign_wave WHERE campaign_id = $1 AND finished_at IS NOT NULL)",
        campaign_id)
    return done
