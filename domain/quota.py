"""Quota periods and who is behind, as pure arithmetic.

Periods are calendar months or quarters in Beijing time (as people count them), clipped to the
campaign's window: a campaign from 15 March to 10 May with monthly quotas has the periods
[15 Mar, 1 Apr), [1 Apr, 1 May), [1 May, 10 May). The wave SQL mirrors `is_behind`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.local_time import LOCAL_ZONE
from schemas.campaign import QuotaPeriod, Quotas


@dataclass(frozen=True)
class Period:
    index: int
    start: datetime
    end: datetime


def _next_boundary(at: datetime, period: QuotaPeriod) -> datetime:
    """The first calendar month/quarter start strictly after `at` (Beijing time)."""
    local = at.astimezone(LOCAL_ZONE)
    step = 1 if period is QuotaPeriod.month else 3
    month0 = (local.month - 1) // step * step + step   # 0-based month of the next boundary
    year = local.year + month0 // 12
    return datetime(year, month0 % 12 + 1, 1, tzinfo=LOCAL_ZONE)


def periods(window_start: datetime, window_end: datetime, period: QuotaPeriod) -> list[Period]:
    """The quota periods of a window, in order; the first and last may be partial."""
    found: list[Period] = []
    start = window_start
    while start < window_end:
        end = min(_next_boundary(start, period), window_end)
        found.append(Period(len(found), start, end))
        start = end
    return found


@dataclass(frozen=True)
class Shortfall:
    services: int
    hours: float

    @property
    def behind(self) -> bool:
        return self.services > 0 or self.hours > 0


def shortfall(quotas: Quotas, *, services: int, hours: float) -> Shortfall:
    """How many services and hours a member still owes this period (0 when met or no quota)."""
    need_services = max((quotas.min_services or 0) - services, 0)
    need_hours = max((quotas.min_hours or 0.0) - hours, 0.0)
    return Shortfall(need_services, round(need_hours, 2))


def is_behind(quotas: Quotas, *, services: int, hours: float) -> bool:
    return shortfall(quotas, services=services, hours=hours).behind
