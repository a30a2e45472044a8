"""Wire types of dual registration (双报到): policies, workflow and activity payloads, API bodies."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.text import Text


class MemberRegistrationStatus(StrEnum):
    submitted = "submitted"        # 待确认
    confirmed = "confirmed"        # 已确认, 待编入网格
    active = "active"              # 已报到 (在网格支部中)
    paused = "paused"              # 暂停
    rejected = "rejected"          # 已退回
    withdrawn = "withdrawn"        # 已退出
    transferred = "transferred"    # 已转出
    lapsed = "lapsed"              # 已过期 (未按期重新报到)


class UnitRegistrationStatus(StrEnum):
    submitted = "submitted"
    active = "active"
    rejected = "rejected"
    lapsed = "lapsed"
    withdrawn = "withdrawn"


class ReminderStep(StrEnum):
    """The escalation ladder of a nudge: 提醒 → 催办 → 督办 → 通报."""

    remind = "remind"
    urge = "urge"
    supervise = "supervise"
    public_notice = "public_notice"


class LadderPolicy(BaseModel):
    """When each step of a ladder fires, as an offset.

    For a confirmation ladder the offsets count forward from submission; for a renewal ladder they
    count backward from the deadline (the lead time before it).
    """

    model_config = ConfigDict(frozen=True)

    remind: timedelta
    urge: timedelta
    supervise: timedelta
    public_notice: timedelta

    def offset(self, step: ReminderStep) -> timedelta:
        offset: timedelta = getattr(self, step.value)
        return offset


class RegistrationPolicy(BaseModel):
    """How a member cohort is nudged and how long a member registration stays valid."""

    model_config = ConfigDict(frozen=True)

    confirmation: LadderPolicy = LadderPolicy(
        remind=timedelta(days=2), urge=timedelta(days=5),
        supervise=timedelta(days=10), public_notice=timedelta(days=15),
    )
    renewal: LadderPolicy = LadderPolicy(
        remind=timedelta(days=30), urge=timedelta(days=14),
        supervise=timedelta(days=3), public_notice=timedelta(0),
    )
    validity_months: int = Field(default=6, ge=1, le=60)
    # Between the public notice on the deadline day and lapsing, so a late renewal still counts.
    lapse_grace: timedelta = timedelta(days=1)
    # How long to wait before looking again when open registrations have no deadline yet
    # (still awaiting confirmation or placement, or paused).
    idle_recheck: timedelta = timedelta(days=30)


class UnitRegistrationPolicy(BaseModel):
    """How a unit registration is nudged and how long a co-building agreement lasts."""

    model_config = ConfigDict(frozen=True)

    confirmation: LadderPolicy = LadderPolicy(
        remind=timedelta(days=2), urge=timedelta(days=5),
        supervise=timedelta(days=10), public_notice=timedelta(days=15),
    )
    renewal: LadderPolicy = LadderPolicy(
        remind=timedelta(days=60), urge=timedelta(days=30),
        supervise=timedelta(days=7), public_notice=timedelta(0),
    )
    agreement_months: int = Field(default=12, ge=1, le=60)
    lapse_grace: timedelta = timedelta(days=1)


# --- workflows -----------------------------------------------------------------------------------


class CohortPhase(StrEnum):
    confirmation = "confirmation"
    renewal = "renewal"


class CohortWorkflowInput(BaseModel):
    cohort_id: int
    policy: RegistrationPolicy = RegistrationPolicy()
    phase: CohortPhase = CohortPhase.confirmation
    cycle: int = 0
    # When the confirmation ladder counts from; None means the workflow's own start.
    submitted_at: datetime | None = None


class CohortWorkflowResult(BaseModel):
    cohort_id: int
    cycles: int
    reminders_sent: int


class UnitPhase(StrEnum):
    confirmation = "confirmation"
    agreement = "agreement"


class UnitRegistrationWorkflowInput(BaseModel):
    unit_registration_id: int
    policy: UnitRegistrationPolicy = UnitRegistrationPolicy()
    phase: UnitPhase = UnitPhase.confirmation
    cycle: int = 0
    submitted_at: datetime | None = None


class UnitRegistrationWorkflowResult(BaseModel):
    unit_registration_id: int
    final_status: UnitRegistrationStatus
    cycles: int


class RegistrationChanged(BaseModel):
    """Signal: the registration changed in Postgres (decided, renewed, withdrawn); look again."""

    reason: str = ""


# --- activities ----------------------------------------------------------------------------------


class ConfirmationReminderInput(BaseModel):
    cohort_id: int
    step: ReminderStep
    as_of: datetime


class ConfirmationReminderResult(BaseModel):
    pending: int                 # registrations of the cohort still awaiting confirmation
    communities_reminded: int    # reminder rows inserted now (0 on a retry)


class CohortStatusInput(BaseModel):
    cohort_id: int
    as_of: datetime


class CohortStatus(BaseModel):
    open_count: int
    pending_confirmation: int
    # Earliest valid_until among active registrations: the next re-registration deadline.
    next_deadline: datetime | None


class RenewalReminderInput(BaseModel):
    cohort_id: int
    cycle: int
    step: ReminderStep
    deadline: datetime
    as_of: datetime


class RenewalReminderResult(BaseModel):
    due: int
    members_reminded: int
    units_reminded: int


class LapseInput(BaseModel):
    cohort_id: int
    deadline: datetime
    as_of: datetime


class LapseResult(BaseModel):
    lapsed: int


class UnitStatusInput(BaseModel):
    unit_registration_id: int


class UnitStatus(BaseModel):
    status: UnitRegistrationStatus
    community_id: int
    unit_id: int
    agreement_valid_until: datetime | None


class UnitReminderInput(BaseModel):
    unit_registration_id: int
    ladder: str                 # unit_confirmation / unit_renewal
    cycle: int
    step: ReminderStep
    deadline: datetime | None = None
    as_of: datetime


class UnitReminderResult(BaseModel):
    sent: bool


class UnitLapseInput(BaseModel):
    unit_registration_id: int
    deadline: datetime
    as_of: datetime


class UnitLapseResult(BaseModel):
    lapsed: bool


# --- API and CLI bodies --------------------------------------------------------------------------


class MemberRegistrationOut(BaseModel):
    id: int
    member_id: int
    community_id: int
    grid_id: int | None
    cohort_id: int | None
    status: MemberRegistrationStatus
    reason: str | None
    submitted_at: datetime
    confirmed_at: datetime | None
    valid_until: datetime | None


class UnitRegistrationOut(BaseModel):
    id: int
    unit_id: int
    community_id: int
    status: UnitRegistrationStatus
    reason: str | None
    agreement_id: int | None
    workflow_id: str | None
    submitted_at: datetime
    decided_at: datetime | None
    valid_until: datetime | None


class SubmitMemberRegistration(BaseModel):
    member_id: int
    community_id: int | None = Field(default=None, description="默认为党员的居住社区")
    grid_id: int | None = Field(default=None, description="默认为党员的居住网格")


class RegistrationIds(BaseModel):
    ids: list[int] = Field(min_length=1, max_length=100_000)


class ConfirmRegistrations(RegistrationIds):
    grid_id: int | None = Field(default=None, description="统一编入的网格; 不填则编入各自的居住网格")


class RejectRegistrations(RegistrationIds):
    reason: Text = Field(max_length=500, description="退回原因 (必填)")

    @field_validator("reason")
    @classmethod
    def _reason_not_blank(cls, value: str) -> str:
        # Blank reasons are refused in the use case too (with a Chinese message); strip here.
        return value.strip()


class PlaceInGrid(BaseModel):
    grid_id: int


class TransferMember(BaseModel):
    member_id: int
    to_community_id: int
    to_grid_id: int | None = None


class ActionReason(BaseModel):
    reason: Text | None = Field(default=None, max_length=500)


class BulkResult(BaseModel):
    registrations: list[MemberRegistrationOut]


class SubmitUnitRegistration(BaseModel):
    unit_id: int
    community_id: int | None = Field(default=None, description="默认为单位所在社区")


class DecideUnitRegistration(BaseModel):
    reason: Text | None = Field(default=None, max_length=500)
    projects: list[Annotated[Text, Field(max_length=200)]] = Field(
        default_factory=list, max_length=50, description="共建项目")


class MyRegistration(BaseModel):
    """One of the member's own registrations, with the names the phone shows."""

    id: int
    community_id: int
    community_name: str
    grid_id: int | None
    grid_name: str | None
    status: MemberRegistrationStatus
    status_label: str
    reason: str | None = Field(description="退回、暂停或退出的原因")
    submitted_at: datetime
    confirmed_at: datetime | None
    valid_until: datetime | None
    renewal_due: bool = Field(description="到期前 30 天起或已过期时可重新报到")
    certificate_number: str | None


class MyRegistrations(BaseModel):
    """Where the member lives (the defaults of 我要报到) and their registrations, newest first."""

    home_community_id: int | None
    home_community_name: str | None
    home_grid_id: int | None
    home_grid_name: str | None
    items: list[MyRegistration]
