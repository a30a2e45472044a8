"""The API's models of the residents' pages (no account): what a code opens, the follow link of a
placed need, and the public board 晒单. None of them carries a name or a phone number.

The residents' writes (placing a need, rating) are in schemas/dispatch.py beside the rest of dispatch.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from schemas.dispatch import NeedStatus
from schemas.text import Text


class ResidentCode(BaseModel):
    """A code a resident holds (a grid's 点单码, a task's 评价码, a need's follow token)."""

    code: Text = Field(min_length=1, max_length=200)


class NeedCodeOpens(BaseModel):
    """What a grid's need-placing code opens: where the need goes and the categories to pick from."""

    grid_name: str
    community_id: int
    community_name: str
    categories: list[str]
    micro_wish_category: str


class RatingCodeOpens(BaseModel):
    """What a task's rating code opens: the service to rate, before the resident writes anything."""

    task_id: int
    category: str
    community_name: str
    served_on: datetime
    expires_at: datetime
    ready: bool   # the service is done (rating before that is refused)


class FollowedNeed(BaseModel):
    """A need as its follow link shows it: the state, the category, dates and the community's answer."""

    need_id: int
    status: NeedStatus
    status_label: str
    next_step: str
    category: str
    placed_at: datetime
    decided_at: datetime | None
    decision_text: str | None
    service_at: datetime | None
    closed_at: datetime | None


class BoardItem(BaseModel):
    """One completed service: what, where (the grid), when, by how many members, the rating."""

    task_id: int
    category: str
    grid_name: str
    served_at: datetime
    closed_at: datetime
    members: int
    hours: float
    rating: int | None
    rating_defaulted: bool


class PublicBoard(BaseModel):
    community_id: int
    community_name: str
    total: int
    offset: int
    items: list[BoardItem]
