"""Evaluation 述职评议考核, the API's models: the rule, the scope, the run, the results and their
explanations. The evaluation workflow's own payloads are schemas/evaluation_contract.py."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

# Most places one scope may list (a city has a few thousand communities).
MAX_SCOPE_IDS = 5000


class PeriodKind(StrEnum):
    campaign = "campaign"
    month = "month"
    quarter = "quarter"
    year = "year"


class Grade(StrEnum):
    excellent = "优秀"
    qualified = "合格"
    basic = "基本合格"
    unqualified = "不合格"


class EvaluationLevel(StrEnum):
    member = "member"
    unit = "unit"
    community = "community"
    subdistrict = "subdistrict"
    district = "district"
    city = "city"


class RuleFields(BaseModel):
    """The weights and thresholds of an evaluation, the one home of their fields and defaults.
    Never used itself: the API's EvaluationRule and the workflow contract's RunRule
    (schemas/evaluation_contract.py) each take them and stay distinct types."""

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


class EvaluationRule(RuleFields):
    """Weights and thresholds. Per-month figures are scaled by the period's length in months
    (a quarter needs three times a month's quota); rates are fractions (0.95 = 95 %)."""


class AreaIds(BaseModel):
    """Which communities, by district, subdistrict and community ids; all empty means the whole
    city. Never used itself: the API's EvaluationScope and the contract's RunScope take them."""

    model_config = ConfigDict(frozen=True)

    district_ids: list[int] = Field(default=[], max_length=MAX_SCOPE_IDS)
    subdistrict_ids: list[int] = Field(default=[], max_length=MAX_SCOPE_IDS)
    community_ids: list[int] = Field(default=[], max_length=MAX_SCOPE_IDS)


class EvaluationScope(AreaIds):
    """Which communities are evaluated; everything empty means the whole city."""


class RunStatus(StrEnum):
    running = "running"
    done = "done"
    failed = "failed"


class EvaluationRun(BaseModel):
    id: int
    campaign_id: int | None
    period_kind: PeriodKind
    period_label: str
    period_start: datetime
    period_end: datetime
    scope: EvaluationScope
    rule: EvaluationRule
    status: RunStatus
    workflow_id: str | None
    report_dir: str | None
    started_at: datetime
    finished_at: datetime | None


class MemberResult(BaseModel):
    run_id: int
    member_id: int
    name: str
    phone: str | None   # masked unless the reader may see it
    unit_id: int | None
    community_id: int | None
    services: int
    hours: float
    evaluation_points: float
    ratings: int
    avg_rating: float | None
    score: float
    quota_met: bool
    registration_status: str
    registered: bool
    grade: Grade


class UnitResult(BaseModel):
    run_id: int
    unit_id: int
    name: str
    members: int
    registered: int
    quota_met: int
    services: int
    registration_rate: float
    services_per_member: float
    completion_rate: float
    eligible: bool
    grade: Grade
    stars: int
    rank: int


class CommunityResult(BaseModel):
    run_id: int
    community_id: int
    name: str
    members: int
    registered: int
    needs: int
    responded: int
    resolved: int
    ratings: int
    satisfied: int
    response_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None
    avg_hours_to_respond: float | None
    grids: int
    grids_with_branch: int
    grids_with_members: int
    branch_coverage: float | None
    member_coverage: float | None
    composite: float | None
    stars: int | None
    rank: int


class AreaResult(BaseModel):
    run_id: int
    level: EvaluationLevel
    area_id: int
    name: str
    communities: int
    members: int
    registered: int
    registration_rate: float | None
    needs: int
    response_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None
    grids: int
    branch_coverage: float | None
    member_coverage: float | None
    stars: int | None
    rank: int


class ResultPage(BaseModel):
    total: int
    items: list[MemberResult] | list[UnitResult] | list[CommunityResult] | list[AreaResult]


class ExplainLine(BaseModel):
    """One line of the basis: a ledger row counted, or a threshold checked."""

    kind: str          # ledger / threshold / registration / grade
    label: str         # Chinese, for people
    value: str
    passed: bool | None = None
    ledger_id: int | None = None
    task_id: int | None = None


class MemberExplanation(BaseModel):
    run_id: int
    member_id: int
    grade: Grade
    lines: list[ExplainLine]


class FigureExplanation(BaseModel):
    """The basis of a unit's or a community's figures, line by line, from its stored counts and
    the thresholds the run applied."""

    run_id: int
    subject_kind: str   # unit / community
    subject_id: int
    name: str
    grade: Grade | None = None
    stars: int | None = None
    lines: list[ExplainLine]
