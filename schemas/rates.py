"""The three rates 三率 live: 响应率, 解决率 and 满意率 per community, subdistrict, district or the
city over a Beijing-time period, read from counters kept with the facts (db/community_rate.py)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class RatesLevel(StrEnum):
    community = "community"
    subdistrict = "subdistrict"
    district = "district"
    city = "city"


class RatesRow(BaseModel):
    """One group's 三率 over the period, as domain/evaluation.py defines them.

    needs: needs placed in the period (not rejected, not a duplicate); responded: of those, the
    ones a member took a task of; resolved: the ones with a task verified or closed; ratings:
    residents' ratings given in the period; satisfied: those at or above `satisfied_min_score`.
    A rate is None when its denominator is 0; rounded to 4 decimals.
    """

    id: int | None
    name: str
    needs: int
    responded: int
    resolved: int
    ratings: int
    satisfied: int
    response_rate: float | None = Field(description="响应率 = responded / needs")
    resolution_rate: float | None = Field(description="解决率 = resolved / needs")
    satisfaction_rate: float | None = Field(description="满意率 = satisfied / ratings")


class LiveRates(BaseModel):
    """三率 of every group at `level` inside the caller's scope, counted as of now. Unlike an
    evaluation run of a finished period, a response counts here whenever it came."""

    level: RatesLevel
    period_label: str
    period_start: datetime
    period_end: datetime
    satisfied_min_score: int
    items: list[RatesRow]
