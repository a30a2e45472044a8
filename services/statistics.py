"""Registration statistics 报到率 for every front door, inside the caller's scope."""

from __future__ import annotations

from db import statistics
from db.pool import Conn
from domain.scope import scope_filter
from schemas.auth import Actor
from schemas.statistics import RegistrationCounts, RegistrationStatistics, StatisticsLevel


def registration_rate(active: int, members: int) -> float:
    """报到率: members with an active registration over all members (0 for an empty group)."""
    return round(active / members, 4) if members else 0.0


async def registration_statistics(
    conn: Conn, actor: Actor, *, level: StatisticsLevel
) -> RegistrationStatistics:
    rows = await statistics.select_registration_counts(
        conn, scope=scope_filter(actor), level=level.value
    )
    items = [
        RegistrationCounts(
            level=level,
            id=r["id"],
            name=r["name"] or "",
            members=r["members"],
            submitted=r["submitted"],
            confirmed=r["confirmed"],
            active=r["active"],
            paused=r["paused"],
            rejected=r["rejected"],
            lapsed=r["lapsed"],
            rate=registration_rate(r["active"], r["members"]),
        )
        for r in rows
    ]
    return RegistrationStatistics(level=level, items=items)
