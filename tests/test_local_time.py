"""The one local-time rule: instants are read on the Beijing wall clock, and a task window maps to
the member free-slot encoding weekday*3 + part (上午/下午/晚上) of that clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.local_time import LOCAL_ZONE, local, slot_of, window_slots

MONDAY = datetime(2026, 11, 23, tzinfo=LOCAL_ZONE)   # a Monday, 00:00 Beijing time


def test_a_utc_morning_window_is_a_beijing_evening() -> None:
    """09:00-11:00 UTC is 17:00-19:00 in Beijing: Monday afternoon and Monday evening, not morning."""
    start = datetime(2026, 11, 23, 9, tzinfo=UTC)
    assert local(start).hour == 17
    assert window_slots(start, start + timedelta(hours=2)) == frozenset({1, 2})
    assert slot_of(start) == 1


def test_a_window_in_beijing_hours() -> None:
    """09:00-14:00 Beijing needs Monday morning and afternoon; 10:00-19:00 all three parts."""
    assert window_slots(MONDAY.replace(hour=9), MONDAY.replace(hour=14)) == {0, 1}
    assert window_slots(MONDAY.replace(hour=9), MONDAY.replace(hour=11)) == {0}
    assert window_slots(MONDAY.replace(hour=10), MONDAY.replace(hour=19)) == {0, 1, 2}


def test_part_boundaries_are_half_open() -> None:
    """A window ending exactly at noon does not need the afternoon; one starting at 18:00 is evening only."""
    assert window_slots(MONDAY.replace(hour=11), MONDAY.replace(hour=12)) == {0}
    assert window_slots(MONDAY.replace(hour=18), MONDAY.replace(hour=20)) == {2}


def test_windows_wrap_the_week_and_a_week_needs_every_slot() -> None:
    """Sunday evening to Monday morning wraps around the week; a week or more needs all 21 slots."""
    sunday = MONDAY + timedelta(days=6)
    assert window_slots(sunday.replace(hour=20), sunday + timedelta(hours=33)) == {20, 0}
    assert window_slots(MONDAY, MONDAY + timedelta(days=8)) == set(range(21))
    assert window_slots(MONDAY, MONDAY + timedelta(days=7)) == set(range(21))


def test_an_empty_window_needs_no_slot() -> None:
    assert window_slots(MONDAY, MONDAY) == frozenset()


def test_naive_datetimes_are_refused() -> None:
    """A naive datetime names no instant; reading it as the server's zone would be a silent bug."""
    with pytest.raises(ValueError):
        slot_of(datetime(2026, 11, 23, 9))
