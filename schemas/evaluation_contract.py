"""The evaluation workflow's contract: its input and result, its activities' inputs and results.
These are the payloads saved histories hold (tests/test_replay.py guards them): a field may be
added with a default, never renamed or removed. The API has its own models (schemas/evaluation.py).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from schemas.evaluation import AreaIds, PeriodKind, RuleFields, RunStatus


class RunRule(RuleFields):
    """The evaluation workflow's own rule type (the API's is EvaluationRule): the run's weights and
    thresholds as its history holds them; the fields' one home is RuleFields."""


class RunScope(AreaIds):
    """The evaluation workflow's own scope type (the API's is EvaluationScope): which communities a
    run evaluates."""


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
