"""Wire types of members' self-logged service records 服务记录 (API, CLI, workflow, activities)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from schemas.moments import Day
from schemas.registration import ReminderStep
from schemas.text import Text


class ServiceRecordStatus(StrEnum):
    pending = "pending"      # 待核实
    approved = "approved"    # 已核实
    rejected = "rejected"    # 已驳回


class ServiceRecordCreate(BaseModel):
    """What a member logs: when (date, start and end on that day, China time), what, where."""

    service_date: Day
    start_time: time
    end_time: time
    category: Text = Field(min_length=1, max_length=50)
    community_id: int = Field(ge=1)
    grid_id: int | None = Field(default=None, ge=1)
    description: Text = Field(default="", max_length=2000)
    co_server_member_id: int | None = Field(default=None, ge=1)
    # Staff logging on a member's behalf name the member; a member logs for themselves.
    member_id: int | None = Field(default=None, ge=1)


class ServiceRecordView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    member_id: int
    member_name: str | None = None
    community_id: int
    grid_id: int | None
    category: str
    started_at: datetime
    ended_at: datetime
    hours: float
    description: str
    co_server_member_id: int | None
    status: ServiceRecordStatus
    reject_reason: str | None
    points: float | None
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime


class ApproveRecords(BaseModel):
    """Approve 核实 one or many records (bulk): already-approved ones are left as they are."""

    record_ids: list[int] = Field(min_length=1, max_length=1000)


class RejectRecords(BaseModel):
    record_ids: list[int] = Field(min_length=1, max_length=1000)
    reason: Text = Field(min_length=1, max_length=500)


class ServiceRecordPolicy(BaseModel):
    """When an unanswered record nudges: the community after `remind_after`, the subdistrict after
    twice that (the registration ladder's remind → urge)."""

    model_config = ConfigDict(frozen=True)

    remind_after: timedelta = timedelta(days=3)


class ServiceRecordWorkflowInput(BaseModel):
    record_id: int
    policy: ServiceRecordPolicy = ServiceRecordPolicy()


class ServiceRecordWorkflowResult(BaseModel):
    record_id: int
    status: ServiceRecordStatus
    reminders_sent: int


class RecordDecided(BaseModel):
    """Signal `decided`: the community answered (the row is already committed)."""

    status: ServiceRecordStatus


class RecordReminderInput(BaseModel):
    record_id: int
    step: ReminderStep   # remind: the community; urge: the subdistrict


class RecordReminderResult(BaseModel):
    status: ServiceRecordStatus   # the record's status when the step ran
    sent: bool


class ServiceRecordPage(BaseModel):
    items: list[ServiceRecordView]
