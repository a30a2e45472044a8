"""Wire types every API route shares: the paging envelope and the error body."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")

MAX_PAGE_SIZE = 500


class Page(BaseModel, Generic[T]):
    """One page of a list: the items, the total matching the filters, and where the page starts."""

    items: list[T]
    total: int
    limit: int
    offset: int


class PageRequest(BaseModel):
    """Which page of a list to read: a list's filter model extends this with what it narrows by."""

    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)
    offset: int = Field(default=0, ge=0)


class GroupOrder(StrEnum):
    """How a list of groups with a rate (communities, units, areas) is sorted: by id, the lowest
    rate first (the worst first), the highest rate first, or by name; ties by id."""

    id = "id"
    rate_asc = "rate_asc"
    rate_desc = "rate_desc"
    name = "name"


class GroupPageRequest(BaseModel):
    """Which page of a list of groups to read, sorted how: every group when `limit` is None."""

    order: GroupOrder = GroupOrder.id
    limit: int | None = Field(default=None, ge=1, le=MAX_PAGE_SIZE, description="每页条数 (1-500)，不填为全部")
    offset: int = Field(default=0, ge=0, le=2**63 - 1, description="跳过的条数")


class GroupPageParams(GroupPageRequest):
    """A page of a list of groups as the API serves it: never more than MAX_PAGE_SIZE rows (a
    megacity's 10,416 communities or 5,000 units are read a page at a time; `total` counts them
    all). The default page holds every district and subdistrict of the megacity (16, 336)."""

    limit: int = Field(default=MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="每页条数 (1-500)，默认 500")


class ErrorBody(BaseModel):
    """What every failed call returns: a stable code and a Chinese message a person can act on."""

    code: str
    message: str
    errors: list[dict[str, Any]] | None = Field(default=None, description="每个无效字段的详情")
