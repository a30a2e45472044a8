"""Needs 需求: tier deadlines and the likely-duplicate rule.

A need is a likely duplicate when the same resident (by phone) placed a need of the same category
in the same grid within the window; it is flagged for the community, not refused, because a
resident may well need the same help twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from schemas.dispatch import Urgency

DUPLICATE_WINDOW = timedelta(days=7)

URGENCY_LABELS: dict[Urgency, str] = {Urgency.red: "红色(紧急)", Urgency.yellow: "黄色(较急)",
                                      Urgency.blue: "蓝色(一般)"}


def tier_deadline(urgency: Urgency, *, placed_at: datetime, red_hours: int, yellow_hours: int,
                  blue_hours: int) -> datetime:
    hours = {Urgency.red: red_hours, Urgency.yellow: yellow_hours, Urgency.blue: blue_hours}[urgency]
    return placed_at + timedelta(hours=hours)


def duplicate_window_start(placed_at: datetime) -> datetime:
    """Needs placed after this instant count for the duplicate check."""
    return placed_at - DUPLICATE_WINDOW


def is_likely_duplicate(
    *, phone: str | None, other_phone: str | None, placed_at: datetime, other_placed_at: datetime,
    same_category: bool, same_grid: bool,
) -> bool:
    """Same resident, category and grid within the window. Without a phone nothing is a duplicate."""
    if phone is None or other_phone is None or phone != other_phone:
        return False
    return same_category and same_grid and abs(placed_at - other_placed_at) <= DUPLICATE_WINDOW
