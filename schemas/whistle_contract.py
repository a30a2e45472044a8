"""The whistle workflow's contract: its input and result, its updates and query, its activities'
inputs and results. These are the payloads saved histories hold (tests/test_replay.py guards
them): a field may be added with a default, never renamed or removed. The API has its own models
(schemas/whistle.py); services/whistle.py maps between the two.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from schemas.whistle import (
    AnswerFields,
    ArrivalFields,
    ResourceFields,
    StateFields,
    SummonStatus,
    WhistleLevel,
    WhistleStatus,
)

# ------------------------------------------------------------------ what units send (as the workflow records it)


class UnitResource(ResourceFields):
    """One line of a unit's resource list."""

    note: str = Field(default="", max_length=200)


class UnitAnswer(AnswerFields):
    """A unit's answer 报到响应 or decline, as checked by the API (schemas.whistle.WhistleAnswer)."""

    resources: list[UnitResource] = Field(default_factory=list, max_length=30)
    eta: datetime | None = None
    contact_name: str | None = Field(default=None, max_length=50)
    contact_phone: str | None = None
    decline_reason: str | None = Field(default=None, max_length=500)


class UnitArrival(ArrivalFields):
    """The community's 到岗 mark as the workflow records it."""


# ------------------------------------------------------------------ the workflow


class WhistlePolicy(BaseModel):
    """Timing of one whistle's workflow; the defaults are the product's policy."""

    model_config = ConfigDict(frozen=True)

    # Each level above the community gets the community's window again, but never less than this.
    min_level_window: timedelta = timedelta(minutes=30)


class WhistleWorkflowInput(BaseModel):
    whistle_id: int
    people_needed: int
    respond_by: datetime
    policy: WhistlePolicy = WhistlePolicy()


class WhistleWorkflowResult(BaseModel):
    whistle_id: int
    status: WhistleStatus
    level: WhistleLevel
    people_committed: int
    units_answered: int


class AnswerInput(BaseModel):
    """Update `answer`: one unit's answer, with who gave it."""

    answer: UnitAnswer
    actor: str


class UnitAnswered(BaseModel):
    unit_id: int
    status: SummonStatus
    people_committed: int
    people_needed: int


class ArriveInput(BaseModel):
    """Update `arrive`."""

    arrival: UnitArrival
    actor: str


class UnitArrived(BaseModel):
    unit_id: int
    people: int
    status: WhistleStatus


class CloseInput(BaseModel):
    """Update `close`."""

    summary: str
    actor: str


class WhistleState(StateFields):
    """The workflow's `state` query."""


class SummonLevelInput(BaseModel):
    whistle_id: int
    level: WhistleLevel
    level_deadline_at: datetime
    as_of: datetime


class SummonLevelResult(BaseModel):
    # Every unit summoned at this level (also those a retried run had already summoned).
    unit_ids: list[int]
    notified: int
    external_queued: int = 0


class UrgeInput(BaseModel):
    whistle_id: int
    level: WhistleLevel
    unit_ids: list[int]
    as_of: datetime


class UrgeResult(BaseModel):
    urged: list[int]
    external_queued: int = 0


class RecordAnswerInput(BaseModel):
    whistle_id: int
    answer: UnitAnswer
    actor: str
    as_of: datetime


class RecordAnswerResult(BaseModel):
    status: SummonStatus
    people: int
    external_queued: int = 0


class RecordArrivalInput(BaseModel):
    whistle_id: int
    unit_id: int
    people: int
    actor: str
    as_of: datetime


class RecordArrivalResult(BaseModel):
    people: int


class SetWhistleStatusInput(BaseModel):
    whistle_id: int
    status: WhistleStatus
    people_committed: int
    shortfall: int = 0
    reason: str | None = None
    actor: str = "system:workflow"
    as_of: datetime


class SetWhistleStatusResult(BaseModel):
    changed: bool
    external_queued: int = 0


class CloseWhistleInput(BaseModel):
    whistle_id: int
    summary: str
    actor: str
    as_of: datetime


class CloseWhistleResult(BaseModel):
    thanked: int
    external_queued: int = 0
