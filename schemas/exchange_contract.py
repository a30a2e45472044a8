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
