"""Local time: the one time zone people here read clocks and calendars in, and the free-time slot
rule built on it.

Everything stored is UTC; whatever a person reads as a date or an hour (a certificate's date, a
quota month, an evaluation period, "Monday afternoon") is Beijing time, converted here and nowhere
else. Pure: `now()` is the only clock, and workflows must not call it (they use `workflow.now()`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from schemas.matching import SLOTS_PER_WEEK

# Asia/Shanghai has had no daylight saving since 1991: a fixed UTC+8 in practice.
LOCAL_ZONE = ZoneInfo("Asia/Shanghai")

# Part-of-day boundaries of the free-time slots, in local hours: 上午 [0, 12), 下午 [12, 18), 晚上 [18, 24).
PART_STARTS = (0, 12, 18, 24)
PARTS_PER_DAY = len(PART_STARTS) - 1


def now() -> datetime:
    """The current instant (UTC, aware). Outside workflows only."""
    return datetime.now(UTC)


def now_or(given: datetime | None) -> datetime:
    """`given` when a caller (a test, a replayed decision) fixed the instant, else `now()`."""
    return given if given is not None else now()


def local(at: datetime) -> datetime:
    """`at` on the local wall clock. `at` must be aware: a naive datetime has no instant."""
    if at.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one (UTC from the database)")
    return at.astimezone(LOCAL_ZONE)


def _part_of_day(hour: int) -> int:
    """0 上午 before noon, 1 下午 until 18:00, 2 晚上 after (local hours)."""
    return 0 if hour < PART_STARTS[1] else 1 if hour < PART_STARTS[2] else 2


def slot_of(at: datetime) -> int:
    """The free-time slot (weekday*3 + part of day, local time) the instant `at` falls in."""
    wall = local(at)
    return wall.weekday() * PARTS_PER_DAY + _part_of_day(wall.hour)


def window_slots(start: datetime, end: datetime) -> frozenset[int]:
    """Every free-time slot a task window [start, end) touches, in local time; an empty window
    touches none, and a window of a week or more needs the whole week."""
    if end <= start:
        return frozenset()
    if end - start >= timedelta(days=7):
        return frozenset(range(SLOTS_PER_WEEK))
    at, stop = local(start), local(end)
    slots: set[int] = set()
    while at < stop:
        slots.add(slot_of(at))
        # Jump to the next part boundary (12:00, 18:00 or midnight) of the local wall clock.
        day = at.replace(hour=0, minute=0, second=0, microsecond=0)
        at = min(b for b in (day + timedelta(hours=h) for h in PART_STARTS[1:]) if b > at)
    return frozenset(slots)
