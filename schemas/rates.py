"""The three rates 三率 live: 响应率, 解决率 and 满意率 per community, subdistrict, district or the
city over a Beijing-time period, read from counters kept with the facts (db/rate_month.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

RatesLevel = Literal["community", "subdistrict", "district", "city"]


class RatesRow(BaseModel):
    """One group's 三率 over the period, as domain/evaluation.py defines them, each rate beside its
    counts; a rate is None when its denominator is 0, rounded half-up to 4 decimals."""

    id: int | None = Field(description="社区、街道或区的编号 (全市为空)")
    name: str
    needs: int = Field(description="期间内登记的需求 (不含退回、重复)")
    responded: int = Field(description="其中有党员接单的")
    response_rate: float | None = Field(description="响应率 = responded / needs")
    resolved: int = Field(description="其中有任务已核查或办结的")
    resolution_rate: float | None = Field(description="解决率 = resolved / needs")
    ratings: int = Field(description="期间内居民的评价")
    satisfied: int = Field(description="其中达到满意星级的")
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
