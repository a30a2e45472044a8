"""The task workflow's contract: its input and result, its updates and query, its activities'
inputs and results. These are the payloads saved histories hold (tests/test_replay.py guards
them): a field may be added with a default, never renamed or removed. The API has its own models
(schemas/dispatch.py); services/dispatch.py maps between the two.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from schemas.dispatch import AssignmentStatus, OfferStatus, Rating, TaskMode, TaskStateFields, TaskStatus
from schemas.matching import EscalationLevel

# ---------------------------------------------------------------- the workflow, its updates and query


class DispatchPolicy(BaseModel):
    """Timing of one task's workflow; the product's values are domain/dispatch_policy.py."""

    model_config = ConfigDict(frozen=True)

    offer_timeout: timedelta
    # Offers per open slot in a wave: more than one makes it a race 抢单, first accept wins.
    offers_per_slot: int = Field(ge=1, le=10)
    level_deadlines: dict[EscalationLevel, timedelta]
    no_show_grace: timedelta
    overdue_community_after: timedelta
    rating_window: timedelta
    default_rating: Rating
    low_rating_threshold: int = Field(ge=1, le=5)


class TaskWorkflowInput(BaseModel):
    task_id: int
    mode: TaskMode
    headcount: int
    window_start: datetime
    window_end: datetime
    policy: DispatchPolicy


class TaskWorkflowResult(BaseModel):
    task_id: int
    status: TaskStatus
    parked_reason: str | None = None
    rating: int | None = None
    points_credited: int = 0


class AnswerOfferUpdate(BaseModel):
    member_id: int
    accept: bool
    reason: str | None = Field(default=None, max_length=500)


class OfferAnswered(BaseModel):
    offer_id: int
    status: OfferStatus


class ClaimUpdate(BaseModel):
    member_id: int


class Claimed(BaseModel):
    assignment_id: int
    filled: int
    headcount: int


class ScanUpdate(BaseModel):
    """Updates `check_in` and `check_out`: the scan as the workflow records it (the API's body is
    schemas.dispatch.ScanInput)."""

    member_id: int
    token: str = Field(min_length=1, max_length=200)
    report: str | None = Field(default=None, max_length=2000)


class ScanRecorded(BaseModel):
    member_id: int
    status: AssignmentStatus
    hours: float | None = None


class RateUpdate(BaseModel):
    score: Rating
    comment: str | None = Field(default=None, max_length=1000)


class Rated(BaseModel):
    score: int
    follow_up: bool


class VerifyInput(BaseModel):
    actor: str
    note: str | None = Field(default=None, max_length=1000)


class Verified(BaseModel):
    points_credited: int


class RejectVerifyInput(BaseModel):
    """核查未通过: the service is not accepted as it is (e.g. the check-in was not genuine, the work
    was not done); no points, the task goes back to follow-up 整改 until a later verification passes."""

    actor: str
    reason: str = Field(min_length=1, max_length=1000)


class VerificationRejected(BaseModel):
    status: TaskStatus
    rejections: int   # how many times this task's verification has been rejected so far


class RequeueInput(BaseModel):
    actor: str


class CancelInput(BaseModel):
    actor: str
    reason: str = Field(min_length=1, max_length=500)


class TaskState(TaskStateFields):
    """The workflow's `state` query: its view of its task."""


# ---------------------------------------------------------------- activities


class OfferSent(BaseModel):
    offer_id: int
    member_id: int
    expires_at: datetime


class SetStatusInput(BaseModel):
    task_id: int
    status: TaskStatus
    level: EscalationLevel | None = None
    level_deadline_at: datetime | None = None
    reason: str | None = None
    actor: str = "system:workflow"
    as_of: datetime


class FindCandidatesInput(BaseModel):
    task_id: int
    level: EscalationLevel
    wave: int
    count: int
    expires_at: datetime
    as_of: datetime
    # The status the wave opens (the first level's "offering"), written in the wave's own transaction.
    status: SetStatusInput | None = None


class FindCandidatesResult(BaseModel):
    offers: list[OfferSent]


class ExpireOffersInput(BaseModel):
    task_id: int
    wave: int
    offer_ids: list[int]   # only those still unanswered in the workflow; answers in flight stay
    status: OfferStatus = OfferStatus.expired   # withdrawn when the task filled up first
    as_of: datetime


class ExpireOffersResult(BaseModel):
    expired_member_ids: list[int]


class RecordAnswerInput(BaseModel):
    task_id: int
    offer_id: int
    member_id: int
    accept: bool
    reason: str | None
    as_of: datetime


class RecordAnswerResult(BaseModel):
    status: OfferStatus
    assignment_id: int | None


class RecordClaimInput(BaseModel):
    task_id: int
    member_id: int
    source: str
    as_of: datetime


class RecordClaimResult(BaseModel):
    assignment_id: int


class SetStatusResult(BaseModel):
    changed: bool


class NotifyLevelInput(BaseModel):
    task_id: int
    level: EscalationLevel
    cycle: int
    topic: str = "escalated"   # escalated / parked / follow_up
    as_of: datetime


class NotifyLevelResult(BaseModel):
    notified: int


class ScanActivityInput(BaseModel):
    task_id: int
    member_id: int
    token: str
    check_out: bool
    report: str | None
    as_of: datetime


class NoShowInput(BaseModel):
    task_id: int
    member_ids: list[int]
    as_of: datetime


class NoShowResult(BaseModel):
    marked: int


class OverdueReminderInput(BaseModel):
    task_id: int
    step: str   # "member" then "community"
    member_ids: list[int]
    cycle: int
    as_of: datetime


class OverdueReminderResult(BaseModel):
    notified: int


class RecordRatingInput(BaseModel):
    task_id: int
    score: Rating
    comment: str | None
    defaulted: bool
    low_rating_threshold: int
    as_of: datetime


class RecordRatingResult(BaseModel):
    score: int
    defaulted: bool


class CancelTaskInput(BaseModel):
    task_id: int
    offer_ids: list[int]
    reason: str
    actor: str
    as_of: datetime


class CancelTaskResult(BaseModel):
    withdrawn_members: list[int]


class AwardPointsInput(BaseModel):
    task_id: int
    actor: str
    as_of: datetime


class AwardPointsResult(BaseModel):
    credited: int
    already_credited: int
    total_points: float


class RecordVerifyRejectionInput(BaseModel):
    task_id: int
    actor: str
    reason: str
    rejection: int   # 1 for the first rejection of this task, 2 for the second ...
    as_of: datetime


class RecordVerifyRejectionResult(BaseModel):
    notified_members: list[int]


class FlagUnderstaffedInput(BaseModel):
    task_id: int
    headcount: int
    filled: int
    flag: int   # numbers this task's flag changes, so a retry is recognised and a new change is not
    as_of: datetime


class FlagUnderstaffedResult(BaseModel):
    shortfall: int
    notified: int
