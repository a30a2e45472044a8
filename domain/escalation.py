"""The graded-response ladder 分级响应: grid → adjacent grids → community → subdistrict → district.

Each level has its own deadline; when a level is exhausted or its deadline passes, the task climbs
one step and that level's staff are told. Past the top the task is parked 挂账, never dropped.
"""

from __future__ import annotations

from datetime import timedelta

from schemas.matching import EscalationLevel

L = EscalationLevel

LADDER: tuple[EscalationLevel, ...] = (L.grid, L.adjacent, L.community, L.subdistrict, L.district)

LEVEL_LABELS: dict[EscalationLevel, str] = {
    L.grid: "本网格",
    L.adjacent: "相邻网格",
    L.community: "社区",
    L.subdistrict: "街道",
    L.district: "区",
}

# Whose inbox hears about a task at each level: grids and neighbours are run by the community.
LEVEL_RECIPIENT_KIND: dict[EscalationLevel, str] = {
    L.grid: "community",
    L.adjacent: "community",
    L.community: "community",
    L.subdistrict: "subdistrict",
    L.district: "district",
}

DEFAULT_LEVEL_DEADLINES: dict[EscalationLevel, timedelta] = {
    L.grid: timedelta(hours=2),
    L.adjacent: timedelta(hours=2),
    L.community: timedelta(hours=4),
    L.subdistrict: timedelta(hours=8),
    L.district: timedelta(hours=24),
}


def next_level(level: EscalationLevel) -> EscalationLevel | None:
    """The next rung up, or None at the top (the task is then parked)."""
    i = LADDER.index(level)
    return LADDER[i + 1] if i + 1 < len(LADDER) else None


def level_deadline(level: EscalationLevel, deadlines: dict[EscalationLevel, timedelta]) -> timedelta:
    """How long a task may stay at `level`; a level missing from the policy uses the default."""
    return deadlines.get(level, DEFAULT_LEVEL_DEADLINES[level])


def parked_reason(headcount: int, filled: int) -> str:
    return f"逐级上报至区级仍无人接单 (需 {headcount} 人, 已有 {filled} 人)"
