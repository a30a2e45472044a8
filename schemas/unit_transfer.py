"""Wire types of a transfer between employer units 转单位: API, CLI, workflow and activities."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from schemas.registration import ReminderStep
from schemas.text import Text


class UnitTransferStatus(StrEnum):
    pending = "pending"        # 待转入单位确认
    accepted = "accepted"      # 已转入
    refused = "refused"        # 转入单位拒绝
    cancelled = "cancelled"    # 申请方撤回
    expired = "expired"        # 逾期无人处理


class StartUnitTransfer(BaseModel):
    """Ask to move a member to another employer unit; an organization department may decide at once."""

    model_config = ConfigDict(extra="forbid")

    member_id: int = Field(gt=0)
    to_unit_id: int = Field(gt=0)
    note: Text | None = Field(default=None, max_length=500)
    decide_now: bool = False


class DecideUnitTransfer(BaseModel):
    """A refusal's (or a cancellation's) reason."""

    model_config = ConfigDict(extra="forbid")

    reason: Text | None = Field(default=None, max_length=500)


class UnitTransferOut(BaseModel):
    id: int
    member_id: int
    member_name: str
    from_unit_id: int | None
    from_unit_name: str | None
    to_unit_id: int
    to_unit_name: str
    status: UnitTransferStatus
    note: str | None
    decision_reason: str | None
    requested_by: str
    decided_by: str | None
    requested_at: datetime
    decided_at: datetime | None
    expires_at: datetime


class TransferTargetUnit(BaseModel):
    """A unit a member may be moved to, as the request form lists it (no contact details)."""

    id: int
    name: str
    unit_party_org: str


class UnitTransferPolicy(BaseModel):
    """When the target unit is nudged and when an unanswered request expires (from the request)."""

    model_config = ConfigDict(frozen=True)

    remind_after: timedelta = timedelta(days=3)
    urge_after: timedelta = timedelta(days=7)
    expire_after: timedelta = timedelta(days=14)


class UnitTransferWorkflowInput(BaseModel):
    transfer_id: int
    requested_at: datetime
    policy: UnitTransferPolicy = UnitTransferPolicy()


class UnitTransferWorkflowResult(BaseModel):
    transfer_id: int
    final_status: UnitTransferStatus
    reminders: int


class UnitTransferChanged(BaseModel):
    """Signal: the request was decided in Postgres; look again."""

    reason: str = ""


class UnitTransferStatusInput(BaseModel):
    transfer_id: int


class UnitTransferStatusResult(BaseModel):
    status: UnitTransferStatus


class UnitTransferReminderInput(BaseModel):
    transfer_id: int
    step: ReminderStep


class UnitTransferReminderResult(BaseModel):
    sent: bool


class ExpireUnitTransferInput(BaseModel):
    transfer_id: int
    as_of: datetime


class ExpireUnitTransferResult(BaseModel):
    expired: bool
