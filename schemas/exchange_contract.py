"""The redemption workflow's payloads (its history's contract: change with care, see
tests/test_replay.py). The API's models are schemas/exchange.py."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class RedemptionWorkflowInput(BaseModel):
    redemption_id: int
    expires_at: datetime


class RedemptionCollected(BaseModel):
    """Signal: the provider confirmed the code (already committed)."""

    redemption_id: int


class ExpireInput(BaseModel):
    redemption_id: int


class ExpireResult(BaseModel):
    state: str              # the redemption's state after the step: collected or expired
    refunded: bool          # a refund line was written now


class RedemptionWorkflowResult(BaseModel):
    redemption_id: int
    state: str


class SweepInput(BaseModel):
    """The backstop sweep's run (`RedemptionSweepWorkflow`, started by the Schedule
    `exchange-redemption-sweep`): lapse redemptions whose code expired at least `grace_seconds`
    ago and are still waiting (their timer was lost, or fired while no worker ran), `batch` per
    activity, at most `max_batches` per run (the next run takes the rest)."""

    grace_seconds: float = 600.0
    batch: int = 200
    max_batches: int = 25


class SweepBatchInput(BaseModel):
    grace_seconds: float
    limit: int


class SweepResult(BaseModel):
    looked_at: int = 0      # overdue redemptions found still issued
    expired: int = 0        # of those, lapsed now (a confirmation or a timer may have come first)
    refunded: int = 0       # refund lines written now
