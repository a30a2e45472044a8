"""The campaign and reminder-wave workflows' contract: inputs and results of the workflows,
their updates and activities. These are the payloads saved histories hold (tests/test_replay.py
guards them): a field may be added with a default, never renamed or removed. The API has its own
models (schemas/campaign.py); services/campaign.py maps between the two.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from schemas.campaign import CampaignStatus, DeadlineKind, Quotas, Recipient, ReminderPolicy
from schemas.registration import ReminderStep

# --- workflow -----------------------------------------------------------------------------------


class CampaignWorkflowInput(BaseModel):
    campaign_id: int
    # Ladder steps already run per deadline ("registration:0", "quota:2"), carried across
    # continue-as-new.
    steps_done: dict[str, int] = Field(default_factory=dict)
    waves_run: int = 0


class CampaignWorkflowResult(BaseModel):
    campaign_id: int
    final_status: CampaignStatus
    waves_run: int


class CampaignPlanInput(BaseModel):
    campaign_id: int


class CampaignPlan(BaseModel):
    """What the workflow needs of the campaign row; read once per run."""

    campaign_id: int
    status: CampaignStatus
    window_start: datetime
    window_end: datetime
    registration_deadline: datetime | None
    quotas: Quotas
    reminder_policy: ReminderPolicy
    emergency: bool


class PauseInput(BaseModel):
    actor: str
    reason: str = Field(default="", max_length=500)


class ResumeInput(BaseModel):
    actor: str


class ExtendInput(BaseModel):
    actor: str
    window_end: datetime | None = None
    registration_deadline: datetime | None = None


class CancelInput(BaseModel):
    actor: str
    reason: str = Field(min_length=1, max_length=500)


class CloseInput(BaseModel):
    actor: str


class CampaignStatusChanged(BaseModel):
    campaign_id: int
    status: CampaignStatus
    window_end: datetime
    registration_deadline: datetime | None


class MobiliseInput(BaseModel):
    """平急转换: one task per grid in scope, staffed by batch matching."""

    actor: str
    title: str = Field(default="应急动员", min_length=1, max_length=200)
    category: str = "疫情防控"
    headcount: int = Field(default=2, ge=1, le=50)
    hours: int = Field(default=24, ge=1, le=24 * 14)


class Mobilised(BaseModel):
    tasks_created: int
    offers: int
    unfilled_slots: int


# --- activities ---------------------------------------------------------------------------------


class RecordStatusInput(BaseModel):
    campaign_id: int
    kind: str
    from_statuses: list[CampaignStatus]
    to_status: CampaignStatus | None = None
    actor: str
    detail: dict[str, Any] = Field(default_factory=dict)
    window_end: datetime | None = None
    registration_deadline: datetime | None = None
    at: datetime


class RecordStatusResult(BaseModel):
    changed: bool
    status: CampaignStatus


class MobiliseActivityInput(BaseModel):
    campaign_id: int
    data: MobiliseInput
    at: datetime


class ReminderWaveInput(BaseModel):
    campaign_id: int
    deadline_kind: DeadlineKind
    period: int
    period_start: datetime
    period_end: datetime
    step: ReminderStep
    notify: tuple[Recipient, ...]
    # The campaign's clock when the step started: every partition judges "behind" as of it.
    as_of: datetime
    partitions: int = 128
    concurrency: int = 8
    # Set at the registration deadline's steps at or after it when the campaign has a unit quota
    # ("at least X % of a unit's members registered"): units below it are reminded too.
    unit_quota_rate: float | None = Field(default=None, gt=0, le=1)
    # Reporting units per unit-quota activity.
    unit_page_size: int = Field(default=500, ge=1, le=5000)


class ReminderWaveResult(BaseModel):
    wave_id: int
    behind: int
    reminded: int
    groups_reminded: int
    partitions: int
    # Outbox rows (WeCom / DingTalk / SMS) queued by this run of the wave.
    external_queued: int = 0
    # Units below the unit quota at this step, and those reminded now (not before).
    units_behind: int = 0
    units_reminded: int = 0


class PlanWaveInput(BaseModel):
    wave: ReminderWaveInput
    at: datetime


class PartitionBounds(BaseModel):
    partition: int
    lo: int
    hi: int


class PlanWaveResult(BaseModel):
    wave_id: int
    # Only the partitions not yet done (a wave resumed after a crash skips finished ones).
    pending: list[PartitionBounds]


class PartitionInput(BaseModel):
    wave_id: int
    wave: ReminderWaveInput
    bounds: PartitionBounds
    as_of: datetime


class PartitionResult(BaseModel):
    behind: int
    reminded: int
    already_done: bool = False
    external_queued: int = 0


class FinishWaveInput(BaseModel):
    wave_id: int
    wave: ReminderWaveInput
    at: datetime


class FinishWaveResult(BaseModel):
    behind: int
    reminded: int
    groups_reminded: int
    external_queued: int = 0


class UnitQuotaPageInput(BaseModel):
    """One page of reporting units (by id, after `after_unit_id`) checked against the unit quota."""

    wave: ReminderWaveInput
    after_unit_id: int = 0


class UnitQuotaPageResult(BaseModel):
    # The page's last unit id, None when no unit was left (the pass is over).
    last_unit_id: int | None
    behind: int
    reminded: int
    external_queued: int = 0


class UnitQuotaGroupsInput(BaseModel):
    wave: ReminderWaveInput


class UnitQuotaGroupsResult(BaseModel):
    groups_reminded: int
    external_queued: int = 0
