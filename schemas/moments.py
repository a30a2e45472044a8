"""Times and dates a person enters: the one type of every date in a request body or query.

A typo (9999-12-31, 0001-01-01) is refused at the boundary with a Chinese message instead of
planning deadlines for eight thousand years: a `Moment` (a datetime) or a `Day` (a date) lies
between EARLIEST and HORIZON from now. Rules that need a tighter bound (a campaign's window)
check it where they know their subject. tests/test_request_bounds.py fails on a request field
that is a plain datetime or date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
HORIZON = timedelta(days=2 * 366)


def _latest() -> datetime:
    return datetime.now(UTC) + HORIZON


def _moment(value: datetime) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    latest = _latest()
    if not EARLIEST <= aware <= latest:
        raise ValueError(f"时间须在 {EARLIEST.date().isoformat()} 至 {latest.date().isoformat()} 之间 (最远两年后): "
                         "请核对后重新填写")
    return value


def _day(value: date) -> date:
    latest = _latest().date()
    if not EARLIEST.date() <= value <= latest:
        raise ValueError(f"日期须在 {EARLIEST.date().isoformat()} 至 {latest.isoformat()} 之间 (最远两年后): "
                         "请核对后重新填写")
    return value


WITHIN = AfterValidator(_moment)
"""The validator that makes a datetime a `Moment` (the route walker looks for this object)."""
DAY_WITHIN = AfterValidator(_day)

Moment = Annotated[datetime, WITHIN]
Day = Annotated[date, DAY_WITHIN]
