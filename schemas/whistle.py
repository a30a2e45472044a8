"""The API's models of 吹哨报到: blowing a whistle, units' answers and arrivals, closing, and the
views the API and CLI show.

The whistle workflow's own payloads are schemas/whistle_contract.py; services/whistle.py maps
between the two, so an API change never changes a workflow history. Chinese labels and the
resource vocabulary live in domain/whistle.py.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.api import PageRequest
from schemas.dispatch import Urgency
from schemas.moments import Moment
from schemas.text import Text

# A mainland mobile or a landline with area code; what a unit leaves for the community to call.
_PHONE_PATTERN = r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$"


class WhistleLevel(StrEnum):
    """How far a whistle has climbed: whose reporting units are summoned."""

    community = "community"       # units located in, registered with or paired with the community
    subdistrict = "subdistrict"   # ... and units registered with the subdistrict's other communities
    district = "district"         # ... and units registered in the district's other subdistricts


class WhistleStatus(StrEnum):
    summoning = "summoning"   # 召集中
    responded = "responded"   # 已响应 (enough people committed, or short-handed at the top)
    on_site = "on_site"       # 到岗处置中
    parked = "parked"         # 挂账 (nobody answered)
    closed = "closed"         # 已办结


class SummonStatus(StrEnum):
    summoned = "summoned"   # 已召集, 未响应
    answered = "answered"   # 已报到响应
    declined = "declined"   # 婉拒
    arrived = "arrived"     # 已到岗


class ResourceCategory(StrEnum):
    """The resource-list vocabulary 资源清单 a whistle asks from and a unit answers with (the
    categories a unit's `resource_item` rows use too)."""

    vehicle = "车辆"
    pump = "抽排设备"
    flood_supplies = "防汛物资"
    epidemic_supplies = "防疫物资"
    daily_supplies = "生活物资"
    medical = "医疗救护"
    expertise = "专业技术"
    tools = "工具器械"
    communication = "通讯设备"
    venue = "场地"


# The fields the API's models and the workflow contract's (schemas/whistle_contract.py) share have
# their one home in these bases, never used themselves: an API body and a history payload stay
# distinct types.


class ResourceFields(BaseModel):
    model_config = ConfigDict(frozen=True)

    category: ResourceCategory
    quantity: int = Field(default=1, ge=1, le=100_000)


class AnswerFields(BaseModel):
    unit_id: int
    accept: bool
    people: int = Field(default=0, ge=0, le=10_000)


class ArrivalFields(BaseModel):
    unit_id: int
    people: int | None = Field(default=None, ge=0, le=10_000)


class ResourceItem(ResourceFields):
    """One line of a resource list: a category from the vocabulary, how many, a note."""

    note: Text = Field(default="", max_length=200)


# ------------------------------------------------------------------ front doors


class WhistleBlow(BaseModel):
    """What community staff say when they blow the whistle."""

    community_id: int
    grid_id: int | None = None
    place: Text = Field(default="", max_length=200)
    title: Text = Field(min_length=1, max_length=100)
    matter: Text = Field(min_length=1, max_length=2000)
    urgency: Urgency = Urgency.red
    people_needed: int = Field(ge=1, le=10_000)
    resources_needed: list[ResourceItem] = Field(default_factory=list, max_length=30)
    # Missing: from the urgency (red 2 h, yellow 24 h, blue 72 h).
    respond_by: Moment | None = None


class WhistleAnswer(AnswerFields):
    """A unit's answer 报到响应: who and what it sends and when they arrive, or a decline."""

    resources: list[ResourceItem] = Field(default_factory=list, max_length=30)
    eta: Moment | None = None
    contact_name: Text | None = Field(default=None, max_length=50)
    contact_phone: Text | None = Field(default=None, max_length=13, pattern=_PHONE_PATTERN)
    decline_reason: Text | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _consistent(self) -> WhistleAnswer:
        if self.accept:
            if self.people < 1 and not self.resources:
                raise ValueError("报到响应须派出至少 1 人或提供资源")
            if self.eta is None:
                raise ValueError("报到响应须说明预计到达时间 (eta)")
            if not self.contact_name or not self.contact_phone:
                raise ValueError("报到响应须留下现场联系人及电话")
        elif not (self.decline_reason and self.decline_reason.strip()):
            raise ValueError("婉拒须说明理由")
        return self


class WhistleArrival(ArrivalFields):
    """The community marks a unit on site 到岗; `people` defaults to what the unit committed."""


class WhistleClose(BaseModel):
    summary: Text = Field(min_length=1, max_length=4000)


class WhistleFilter(PageRequest):
    community_id: int | None = None
    status: WhistleStatus | None = None
    unit_id: int | None = None   # whistles summoning this unit


class SummonView(BaseModel):
    unit_id: int
    unit_name: str
    level: WhistleLevel
    basis: str
    status: SummonStatus
    summoned_at: datetime
    urged_at: datetime | None
    people: int | None
    resources: list[ResourceItem]
    eta: datetime | None
    contact_name: str | None
    contact_phone: str | None   # masked unless the reader coordinates (see services/whistle.py)
    decline_reason: str | None
    answered_by: str | None
    answered_at: datetime | None
    arrived_people: int | None
    arrived_at: datetime | None


class WhistleEventView(BaseModel):
    kind: str
    unit_id: int | None
    actor: str
    detail: dict[str, Any] = {}
    at: datetime


class WhistleView(BaseModel):
    id: int
    community_id: int
    community_name: str
    subdistrict_id: int
    district_id: int
    grid_id: int | None
    place: str
    title: str
    matter: str
    urgency: Urgency
    people_needed: int
    resources_needed: list[ResourceItem]
    respond_by: datetime
    status: WhistleStatus
    level: WhistleLevel
    level_deadline_at: datetime | None
    shortfall: int
    parked_reason: str | None
    summary: str | None
    workflow_id: str | None
    created_by: str
    created_at: datetime
    closed_at: datetime | None
    units_summoned: int = 0
    units_answered: int = 0
    people_committed: int = 0


class WhistleDetail(BaseModel):
    whistle: WhistleView
    responses: list[SummonView]
    history: list[WhistleEventView]


# ------------------------------------------------------------------ what a running whistle answers


class AnswerResult(BaseModel):
    unit_id: int
    status: SummonStatus
    people_committed: int
    people_needed: int


class ArriveResult(BaseModel):
    unit_id: int
    people: int
    status: WhistleStatus


class StateFields(BaseModel):
    """What a running whistle answers, the one home of its fields: the API's WhistleSnapshot and
    the workflow query's WhistleState (schemas/whistle_contract.py) take them."""

    status: WhistleStatus
    level: WhistleLevel
    people_needed: int
    people_committed: int
    units: dict[int, SummonStatus]
    urged: list[int]
    parked_reason: str | None = None
    shortfall: int = 0


class WhistleSnapshot(StateFields):
    pass  # a running whistle's state, as the API shows it
