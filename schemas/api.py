"""Wire types every API route shares: the paging envelope and the error body."""

from __future__ import annotations

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


class ErrorBody(BaseModel):
    """What every failed call returns: a stable code and a Chinese message a person can act on."""

    code: str
    message: str
    errors: list[dict[str, Any]] | None = Field(default=None, description="每个无效字段的详情")
