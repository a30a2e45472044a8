"""The evaluation workflow's contract: its input and result, its activities' inputs and results.
These are the payloads saved histories hold (tests/test_replay.py guards them): a field may be
added with a default, never renamed or removed. The API has its own models (schemas/evaluation.py).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from schemas.evaluation import MAX_SCOPE_IDS, PeriodKind, RunStatus


class RunRule(BaseModel):
    """The evaluation workflow's copy of an EvaluationRule (the API's and the rules' model): the
    run's weights and thresholds as its history holds them, so an API change never changes it."""

    model_config = ConfigDict(frozen=True)

    min_services_per_month: float = Field(default=1, ge=0)
    min_hours_per_month: float = Field(default=2, ge=0)
    # 优秀: quota met and score ≥ this × months (30 a month: 90 points a quarter).
    excellent_score_per_month: float = Field(default=30, ge=0)
    # 基本合格: at least this share of both quotas.
    basic_share: float = Field(default=0.5, ge=0, le=1)
    weight_points: float = 1
    weight_hours: float = 0
    weight_services: float = 0
    # A unit below either rate loses eligibility 失去评优资格.
    unit_min_registration_rate: float = Field(default=0.95, ge=0, le=1)
    unit_min_completion_rate: float = Field(default=0.95, ge=0, le=1)
    unit_basic_rate: float = Field(default=0.8, ge=0, le=1)
    unit_excellent_services_per_month: float = Field(default=2, ge=0)
    # A rating at or above this many stars counts as satisfied 满意.
    satisfied_min_score: int = Field(default=4, ge=1, le=5)
    # composite ≥ band[i] earns i + 2 stars; below the first band, one star.
    star_bands: tuple[float, float, float, float] = (0.6, 0.8, 0.9, 0.95)


class RunScope(BaseModel):
    """The evaluation workflow's copy of an EvaluationScope: which communities a run evaluates."""

    model_config = ConfigDict(frozen=True)

    district_ids: list[int] = Field(default=[], max_length=MAX_SCOPE_IDS)
    subdistrict_ids: list[int] = Field(default=[], max_length=MAX_SCOPE_IDS)
    community_ids: list[int] = Field(default=[], max_length=MAX_SCOPE_IDS)


class EvaluationInput(BaseModel):
    """Start of one run. A manual run passes `run_id` (created by the service); a campaign's
    hand-over passes `campaign_id` (the run takes the campaign's window, scope and rule); a
    scheduled run passes only `period_kind` and evaluates the period before its start time."""

    run_id: int | None = None
    campaign_id: int | None = None
    period_kind: PeriodKind = PeriodKind.month
    scope: RunScope = RunScope()
    rule: RunRule | None = None
    unit_reports: bool = True
    partition_size: int = Field(default=100_000, ge=1)
    concurrency: int = Field(default=2, ge=1, le=16)


class EvaluationResult(BaseModel):
    run_id: int
    members: int
    units: int
    communities: int
    reports: int
    notified: int


class OpenRunInput(BaseModel):
    """Either a campaign (its window, scope and rule) or a period with scope and rule."""

    workflow_id: str
    campaign_id: int | None = None
    period_kind: PeriodKind = PeriodKind.campaign
    period_label: str = ""
    period_start: datetime | None = None
    period_end: datetime | None = None
    scope: RunScope = RunScope()
    rule: RunRule = RunRule()


class OpenRunResult(BaseModel):
    run_id: int


class PartitionsInput(BaseModel):
    run_id: int
    partition_size: int


class PartitionsResult(BaseModel):
    bounds: list[tuple[int, int]]


class MemberPartitionInput(BaseModel):
    run_id: int
    lo: int
    hi: int


class MemberPartitionResult(BaseModel):
    members: int


class RunStepInput(BaseModel):
    run_id: int


class AggregateResult(BaseModel):
    units: int
    communities: int
    areas: int


class ReportsResult(BaseModel):
    reports: int
    notified: int


class FinishRunResult(BaseModel):
    status: RunStatus
