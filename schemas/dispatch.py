"""The API's models of dispatch: needs, tasks, offers, the ledger, and the requests and answers
of a running task (answer, claim, scan, rate, verify).

The task workflow's own payloads (its input, updates, activities) are schemas/task_contract.py;
services/dispatch.py maps between the two, so an API change never changes a workflow history.
Chinese labels for states live in domain/task_rules.py.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.matching import EscalationLevel, ScoreParts
from schemas.moments import Moment
from schemas.text import Text


class Urgency(StrEnum):
    red = "red"         # 红色: hours
    yellow = "yellow"   # 黄色: a day
    blue = "blue"       # 蓝色: days


class NeedStatus(StrEnum):
    submitted = "submitted"
    verified = "verified"
    rejected = "rejected"
    converted = "converted"
    closed = "closed"


class TaskMode(StrEnum):
    dispatch = "dispatch"   # 派单: the engine chooses and offers
    claim = "claim"         # 认领/抢单: first come, capped at headcount
    post = "post"           # 认岗: members sign up for a standing post


class TaskStatus(StrEnum):
    open = "open"
    offering = "offering"
    staffed = "staffed"
    in_progress = "in_progress"
    done = "done"
    follow_up = "follow_up"
    verified = "verified"
    closed = "closed"
    parked = "parked"
    cancelled = "cancelled"


class OfferStatus(StrEnum):
    offered = "offered"
    accepted = "accepted"
    declined = "declined"
    expired = "expired"
    withdrawn = "withdrawn"
    no_show = "no_show"


class AssignmentStatus(StrEnum):
    accepted = "accepted"
    checked_in = "checked_in"
    checked_out = "checked_out"
    no_show = "no_show"
    withdrawn = "withdrawn"


Rating = Annotated[int, Field(ge=1, le=5)]


# ---------------------------------------------------------------- needs


class NeedCreate(BaseModel):
    category: Text = Field(min_length=1, max_length=40)
    grid_id: int
    urgency: Urgency = Urgency.blue
    description: Text = Field(min_length=1, max_length=2000)
    resident_name: Text | None = Field(default=None, max_length=50)
    resident_phone: Text | None = Field(default=None, max_length=20)
    donor_name: Text | None = Field(default=None, max_length=100)
    donor_anonymous: bool = False


class NeedCategory(BaseModel):
    """One category of the need catalogue 需求类别: its time limits per urgency and points bonus."""

    name: str
    red_hours: int
    yellow_hours: int
    blue_hours: int
    category_bonus: float


class NeedDecision(BaseModel):
    approve: bool
    reason: Text | None = Field(default=None, max_length=500)


class NeedView(BaseModel):
    id: int
    category: str
    community_id: int
    grid_id: int
    urgency: Urgency
    deadline_at: datetime
    description: str
    resident_name: str | None
    resident_phone: str | None
    donor_name: str | None
    donor_anonymous: bool
    status: NeedStatus
    reject_reason: str | None
    duplicate_of: int | None
    likely_duplicate: bool
    created_by: str
    created_at: datetime


# ---------------------------------------------------------------- tasks


class PointsRule(BaseModel):
    """Points by rule: per hour, a category bonus, a bonus per star above 3, a cap per activity."""

    model_config = ConfigDict(frozen=True)

    points_per_hour: float = Field(default=10.0, ge=0)
    category_bonus: float = Field(default=0.0, ge=0)
    rating_bonus: float = Field(default=2.0, ge=0)
    cap: float = Field(default=100.0, ge=0)


class PointsBreakdown(BaseModel):
    """How one credit was computed, stored with the ledger row so it can be explained."""

    model_config = ConfigDict(frozen=True)

    hours: float
    base: float
    category_bonus: float
    rating_bonus: float
    uncapped: float
    cap: float
    total: float


class TaskCreate(BaseModel):
    need_id: int | None = None
    grid_id: int | None = Field(default=None, description="taken from the need when omitted")
    title: Text = Field(min_length=1, max_length=200)
    category: Text | None = Field(default=None, max_length=40, description="taken from the need when omitted")
    mode: TaskMode = TaskMode.dispatch
    headcount: int = Field(default=1, ge=1, le=1000)
    required_skills: list[Annotated[Text, Field(max_length=40)]] = Field(default=[], max_length=20)
    window_start: Moment
    window_end: Moment
    place: Text = Field(default="", max_length=200)
    points_per_hour: float = Field(default=10.0, ge=0, le=1000)
    rating_bonus: float = Field(default=2.0, ge=0, le=1000)
    points_cap: float = Field(default=100.0, ge=0, le=100000)
    redeemable: bool = False


class TaskView(BaseModel):
    id: int
    need_id: int | None
    community_id: int
    grid_id: int
    title: str
    category: str
    mode: TaskMode
    headcount: int
    required_skills: list[str]
    window_start: datetime
    window_end: datetime
    place: str
    status: TaskStatus
    escalation_level: EscalationLevel
    level_deadline_at: datetime | None
    parked_reason: str | None
    workflow_id: str | None
    filled: int = 0
    understaffed_shortfall: int = 0   # 人手不足: people still lacking after the ladder was exhausted


class TaskCreated(BaseModel):
    """The new task and the QR token members scan on site (shown once; only its hash is kept).

    A task made from a resident's need also carries the resident's rating code 评价码, for the
    community staff to hand to the resident (a link or QR code); shown once, only its hash is kept.
    """

    task: TaskView
    qr_token: str
    resident_rating_code: str | None = None
    resident_rating_expires_at: datetime | None = None


class OfferView(BaseModel):
    id: int
    task_id: int
    member_id: int
    wave: int
    level: EscalationLevel
    status: OfferStatus
    score_parts: ScoreParts
    offered_at: datetime
    expires_at: datetime
    answered_at: datetime | None


class MemberFit(BaseModel):
    """Why a member was (not) chosen for a task: the rules they fail and the score they would get."""

    task_id: int
    member_id: int
    level: EscalationLevel
    eligible: bool
    reasons: list[str]
    score: ScoreParts
    offers: list[OfferView]


class TaskEventView(BaseModel):
    kind: str
    from_status: str | None
    to_status: str | None
    member_id: int | None
    actor: str
    detail: dict[str, Any] = {}   # e.g. the reason of a rejected verification, a shortfall
    at: datetime


class LedgerRow(BaseModel):
    """One line of the ledger 挂账销号: a task, its state, holder, deadlines."""

    task_id: int
    need_id: int | None
    community_id: int
    grid_id: int
    title: str
    category: str
    status: TaskStatus
    escalation_level: EscalationLevel
    level_deadline_at: datetime | None
    need_deadline_at: datetime | None
    window_end: datetime
    overdue: bool
    parked_reason: str | None
    holders: list[int]
    understaffed_shortfall: int = 0


class MyOffer(BaseModel):
    """The member's latest offer on a task: answer it before `expires_at`."""

    id: int
    status: OfferStatus
    offered_at: datetime
    expires_at: datetime
    answered_at: datetime | None


class MyAssignment(BaseModel):
    """The member's place on a task (from an accepted offer, a claim or a post), its scans and report."""

    source: str
    status: AssignmentStatus
    accepted_at: datetime
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    hours: float | None
    report: str | None


class MyTask(BaseModel):
    """A task as the member sees it on the phone: the task, my offer and my place on it, and the
    evaluation points credited to me for it (None until the community verifies)."""

    task: TaskView
    offer: MyOffer | None
    assignment: MyAssignment | None
    points: float | None


class LedgerFilter(BaseModel):
    grid_id: int | None = None
    community_id: int | None = None
    status: TaskStatus | None = None
    overdue: bool | None = None
    parked: bool | None = None
    understaffed: bool | None = None
    limit: int = Field(default=100, ge=1, le=1000)


# ---------------------------------------------------------------- a running task's requests and answers


class AnswerOfferInput(BaseModel):
    member_id: int
    accept: bool
    reason: Text | None = Field(default=None, max_length=500)


class ClaimInput(BaseModel):
    member_id: int


class ScanInput(BaseModel):
    """A member scanning the task's QR code on site: check-in, or check-out with a report."""

    member_id: int
    token: Text = Field(min_length=1, max_length=200)
    report: Text | None = Field(default=None, max_length=2000)


class RateInput(BaseModel):
    score: Rating
    comment: Text | None = Field(default=None, max_length=1000)


class AnswerOfferResult(BaseModel):
    offer_id: int
    status: OfferStatus


class ClaimResult(BaseModel):
    assignment_id: int
    filled: int
    headcount: int


class ScanResult(BaseModel):
    member_id: int
    status: AssignmentStatus
    hours: float | None = None


class RateResult(BaseModel):
    score: int
    follow_up: bool


class VerifyResult(BaseModel):
    points_credited: int


class RejectVerifyResult(BaseModel):
    status: TaskStatus
    rejections: int   # how many times this task's verification has been rejected so far


class TaskStateFields(BaseModel):
    """What a running task answers, the one home of its fields: the API's TaskSnapshot and the
    workflow query's TaskState (schemas/task_contract.py) take them and stay distinct types."""

    status: TaskStatus
    level: EscalationLevel
    wave: int
    filled: int
    open_offers: list[int]
    parked_reason: str | None
    shortfall: int = 0   # 人手不足: going ahead this many short of the headcount


class TaskSnapshot(TaskStateFields):
    """The workflow's view of its task, for queries."""


# ---------------------------------------------------------------- the residents' doors (no account)


class ResidentNeedCreate(BaseModel):
    """A resident placing a need 居民点单 with their grid's public code 点单码 (no account)."""

    code: Text = Field(min_length=1, max_length=200)
    category: Text = Field(min_length=1, max_length=40)
    urgency: Urgency = Urgency.blue
    description: Text = Field(min_length=1, max_length=2000)
    resident_name: Text | None = Field(default=None, max_length=50)
    resident_phone: Text | None = Field(default=None, max_length=20)
    donor_name: Text | None = Field(default=None, max_length=100, description="微心愿的认捐人 (可匿名)")
    donor_anonymous: bool = False


class ResidentNeedReceipt(BaseModel):
    """What the resident gets back: no one else's data, only their need's number and state, and the
    token of the link to follow it (shown once; only its hash is kept)."""

    need_id: int
    status: NeedStatus
    deadline_at: datetime
    likely_duplicate: bool
    message: str
    follow_token: str


class ResidentRateInput(BaseModel):
    """A resident rating the service with the task's rating code 评价码 (no account)."""

    code: Text = Field(min_length=1, max_length=200)
    score: Rating
    comment: Text | None = Field(default=None, max_length=1000)


class ResidentRateResult(BaseModel):
    task_id: int
    score: int
    message: str


class GridNeedCodeIssued(BaseModel):
    """A grid's need-placing code 点单码; shown once, only its hash is kept. Issuing again
    revokes the previous code."""

    grid_id: int
    code: str
    issued_at: datetime


class ResidentRatingCodeIssued(BaseModel):
    """A task's resident rating code 评价码, (re)issued by community staff; the previous one stops
    working. Shown once, only its hash is kept."""

    task_id: int
    code: str
    expires_at: datetime
