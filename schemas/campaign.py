"""The API's models of campaigns 活动: policies, bodies, views, progress.

The campaign and reminder-wave workflows' own payloads are schemas/campaign_contract.py;
services/campaign.py maps between the two, so an API change never changes a workflow history.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from schemas.delivery import ChannelPolicy
from schemas.evaluation import MAX_SCOPE_IDS, EvaluationRule
from schemas.moments import Moment
from schemas.registration import ReminderStep
from schemas.text import Text

MAX_LADDER_STEPS = 20
# evaluation_rule: an EvaluationRule's fields by name (numbers, or star_bands' four numbers)
MAX_RULE_ITEMS = len(EvaluationRule.model_fields)
RuleKey = Annotated[Text, Field(min_length=1, max_length=64)]
RuleValue = int | float | Annotated[list[float], Field(max_length=8)]

CAMPAIGN_KINDS: tuple[str, ...] = (
    "在职党员进社区", "共产党员社区奉献日", "文明城市创建", "爱国卫生运动", "疫情防控动员",
)


class CampaignStatus(StrEnum):
    draft = "draft"            # 草稿
    launched = "launched"      # 已发布, 未到开始时间
    running = "running"        # 进行中
    paused = "paused"          # 已暂停
    closed = "closed"          # 已结束, 待考核
    evaluated = "evaluated"    # 已考核
    cancelled = "cancelled"    # 已撤销


class DeadlineKind(StrEnum):
    registration = "registration"   # 报到截止
    quota = "quota"                 # 服务指标考核期末


class Recipient(StrEnum):
    """Who is told at a ladder step."""

    member = "member"
    unit = "unit"                   # the member's employer unit party organization 单位党组织
    community = "community"
    subdistrict = "subdistrict"


class QuotaPeriod(StrEnum):
    month = "month"
    quarter = "quarter"


class Quotas(BaseModel):
    """Service quotas per member per period, and the share of a unit's members that must register."""

    model_config = ConfigDict(frozen=True)

    period: QuotaPeriod = QuotaPeriod.quarter
    min_services: int | None = Field(default=None, ge=1)
    min_hours: float | None = Field(default=None, gt=0)
    min_unit_registration_rate: float | None = Field(default=None, gt=0, le=1)

    @property
    def has_service_quota(self) -> bool:
        return self.min_services is not None or self.min_hours is not None


# What the API really sends for a timedelta: ISO 8601 with pydantic's leading minus for a negative
# span ("-P3D", "PT0S", "P1DT1.5S"). JSON Schema's `format: duration` (RFC 3339) has no sign, so a
# generated client would refuse "-P3D": the schema states the pattern instead.
SignedDuration = Annotated[timedelta, WithJsonSchema({
    "type": "string",
    "pattern": r"^-?P(?=\d|T\d)(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$",
    "examples": ["-P3D", "PT0S", "P7D"],
    "description": "ISO 8601 时长, 负值在前加 '-' (如 -P3D 表示截止前 3 天)",
})]


class LadderStep(BaseModel):
    """One step of a campaign's reminder ladder: when (relative to the deadline) and who is told."""

    model_config = ConfigDict(frozen=True)

    step: ReminderStep
    offset: SignedDuration = Field(description="after the deadline; negative means before it")
    notify: tuple[Recipient, ...] = Field(default=(Recipient.member,), max_length=len(Recipient))


def _default_ladder() -> tuple[LadderStep, ...]:
    return (
        LadderStep(step=ReminderStep.remind, offset=timedelta(days=-3), notify=(Recipient.member,)),
        LadderStep(step=ReminderStep.urge, offset=timedelta(0),
                   notify=(Recipient.member, Recipient.unit)),
        LadderStep(step=ReminderStep.supervise, offset=timedelta(days=3),
                   notify=(Recipient.member, Recipient.unit, Recipient.community)),
        LadderStep(step=ReminderStep.public_notice, offset=timedelta(days=7),
                   notify=(Recipient.unit, Recipient.community, Recipient.subdistrict)),
    )


class ReminderPolicy(BaseModel):
    """The ladder run at every deadline, and how a wave is cut up (partitions, concurrency)."""

    model_config = ConfigDict(frozen=True)

    steps: tuple[LadderStep, ...] = Field(default_factory=_default_ladder, max_length=MAX_LADDER_STEPS)
    # Which external channels (group robots, SMS) each recipient also hears on; inbox always.
    channels: ChannelPolicy = Field(default_factory=ChannelPolicy)
    partitions: int = Field(default=128, ge=1, le=1024)
    concurrency: int = Field(default=8, ge=1, le=64)

    @model_validator(mode="after")
    def _ordered(self) -> ReminderPolicy:
        offsets = [s.offset for s in self.steps]
        if offsets != sorted(offsets):
            raise ValueError("督促阶梯的各步须按时间先后排列")
        if len({s.step for s in self.steps}) != len(self.steps):
            raise ValueError("督促阶梯中每一级只能出现一次")
        return self


class CampaignScope(BaseModel):
    """Which districts, subdistricts and communities; all empty means the launcher's whole area."""

    model_config = ConfigDict(frozen=True)

    district_ids: list[int] = Field(default_factory=list, max_length=MAX_SCOPE_IDS)
    subdistrict_ids: list[int] = Field(default_factory=list, max_length=MAX_SCOPE_IDS)
    community_ids: list[int] = Field(default_factory=list, max_length=MAX_SCOPE_IDS)


class CampaignCreate(BaseModel):
    """API/CLI body of a new campaign (a draft)."""

    name: Text = Field(min_length=1, max_length=200)
    kind: Text = Field(default=CAMPAIGN_KINDS[0], min_length=1, max_length=50)
    scope: CampaignScope = CampaignScope()
    window_start: Moment
    window_end: Moment
    registration_deadline: Moment | None = None
    quotas: Quotas = Quotas()
    reminder_policy: ReminderPolicy = ReminderPolicy()
    evaluation_rule: dict[RuleKey, RuleValue] = Field(
        default_factory=dict, max_length=MAX_RULE_ITEMS,
        description="考核规则 (EvaluationRule 的字段), 空则按配额推定")
    redeemable: bool = False
    emergency: bool = False


class CampaignView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: str
    launched_by_kind: str
    launched_by_id: int | None
    scope: CampaignScope
    window_start: datetime
    window_end: datetime
    registration_deadline: datetime | None
    quotas: Quotas
    reminder_policy: ReminderPolicy
    evaluation_rule: dict[str, Any]
    redeemable: bool
    emergency: bool
    status: CampaignStatus
    workflow_id: str | None
    created_at: datetime


class CampaignEventView(BaseModel):
    kind: str
    from_status: str | None
    to_status: str | None
    actor: str
    detail: dict[str, Any]
    at: datetime


# --- what a running campaign answers -----------------------------------------------------------


class CampaignStatusResult(BaseModel):
    campaign_id: int
    status: CampaignStatus
    window_end: datetime
    registration_deadline: datetime | None


class MobiliseResult(BaseModel):
    tasks_created: int
    offers: int
    unfilled_slots: int


class MobilisePreview(BaseModel):
    """What a 平急转换 would touch, shown before anyone confirms it (nothing is changed by asking)."""

    campaign_id: int
    status: CampaignStatus
    communities: int = Field(description="范围内的社区数")
    grids: int = Field(description="范围内的网格数")
    tasks: int = Field(description="将创建的任务数 (每个网格一项)")
    slots: int = Field(description="需要的人次 (任务数 × 每项人数)")
    candidates: int = Field(description="范围内在岗 (已报到或暂停) 的党员数")
    open_mobilised_tasks: int = Field(description="此前动员创建、仍在等待党员的任务数")


# --- progress -----------------------------------------------------------------------------------


class ProgressLevel(StrEnum):
    district = "district"
    subdistrict = "subdistrict"
    community = "community"


class ProgressRow(BaseModel):
    level_id: int
    name: str
    members: int
    registered: int
    served: int
    behind_quota: int
    reminded: dict[str, int]
    tasks_open: int
    tasks_done: int
    tasks_parked: int


class WaveProgress(BaseModel):
    wave_id: int
    deadline_kind: DeadlineKind
    period: int
    step: ReminderStep
    partitions_total: int
    partitions_done: int
    behind: int
    reminded: int
    groups_reminded: int
    started_at: datetime
    finished_at: datetime | None


class UnitQuotaRow(BaseModel):
    """A reporting unit's registration among its members living in the campaign's (viewed) area."""

    unit_id: int
    name: str
    members: int
    registered: int
    registration_rate: float
    shortfall: int    # how many more must register to reach the quota


class UnitQuotaProgress(BaseModel):
    min_rate: float
    units: int            # units with members in the area
    units_behind: int
    # Unit reminders sent per ladder step.
    reminded: dict[str, int]
    # The units behind, largest shortfall first (at most `BEHIND_LIST_LIMIT`).
    behind: list[UnitQuotaRow]


class CampaignProgress(BaseModel):
    campaign_id: int
    status: CampaignStatus
    level: ProgressLevel
    # How many groups of `level` there are; `rows` is all of them, or the page asked for.
    total: int
    rows: list[ProgressRow]
    waves: list[WaveProgress]
    # Only when the campaign sets `quotas.min_unit_registration_rate`.
    unit_quota: UnitQuotaProgress | None = None
