"""Wire types of a member's own points: both ledgers' balances and each line with its reason."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from schemas.api import Page


class PointsLedger(StrEnum):
    evaluation = "evaluation"    # 考评积分: counts in evaluations, never spent
    redeemable = "redeemable"    # 可兑换积分: spent in the points exchange 道德银行


class PointsSource(StrEnum):
    task = "task"                      # a dispatched or claimed task's verified service
    service_record = "service_record"  # a self-logged service record the community approved
    other = "other"                    # anything else the ledger holds (e.g. a redemption)


class PointsLine(BaseModel):
    """One ledger line as its owner sees it: what it was for, in words and by id."""

    ledger: PointsLedger
    points: float
    awarded_at: datetime
    source: PointsSource
    reason: str
    task_id: int | None
    service_record_id: int | None
    campaign_name: str | None
    category: str | None
    hours: float | None


class MyPoints(BaseModel):
    """The member's balances in both ledgers, their credited services, and one page of lines
    (newest first)."""

    evaluation_balance: float
    redeemable_balance: float
    service_count: int
    service_hours: float
    lines: Page[PointsLine]
