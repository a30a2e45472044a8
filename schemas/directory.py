"""Read models of the directory: hierarchy, units, members, registrations, inbox, audit, tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from schemas.auth import Role, ScopeKind
from schemas.text import Text


class District(BaseModel):
    id: int
    name: str


class Subdistrict(BaseModel):
    id: int
    name: str
    district_id: int


class Community(BaseModel):
    id: int
    name: str
    subdistrict_id: int
    district_id: int


class Grid(BaseModel):
    id: int
    name: str
    branch_name: str | None
    community_id: int
    neighbour_ids: list[int]


class Unit(BaseModel):
    id: int
    name: str
    unit_party_org: str
    kind: str
    community_id: int | None
    subdistrict_id: int | None
    district_id: int | None
    contact_name: str | None
    contact_phone: str | None
    member_count: int
    registration_status: str | None
    created_at: datetime


class Member(BaseModel):
    """A member as the caller may see it: phone and ID number masked unless entitled."""

    id: int
    name: str
    gender: str | None
    phone: str | None
    id_number: str | None
    unit_id: int | None
    unit_name: str | None
    employer_name: str | None
    home_community_id: int | None
    home_grid_id: int | None
    subdistrict_id: int | None
    district_id: int | None
    skills: list[str]
    free_slots: list[int]
    registration_id: int | None
    registration_status: str | None
    created_at: datetime


class MemberRegistration(BaseModel):
    id: int
    member_id: int
    member_name: str
    unit_id: int | None
    community_id: int
    grid_id: int | None
    cohort_id: int | None
    status: str
    reason: str | None
    submitted_at: datetime
    confirmed_at: datetime | None
    valid_until: datetime | None
    updated_at: datetime


class UnitRegistration(BaseModel):
    id: int
    unit_id: int
    unit_name: str
    community_id: int
    status: str
    reason: str | None
    agreement_id: int | None
    submitted_at: datetime
    decided_at: datetime | None
    valid_until: datetime | None


class RegistrationEvent(BaseModel):
    id: int
    registration_kind: str
    registration_id: int
    from_status: str | None
    to_status: str
    actor: str
    reason: str | None
    at: datetime


class Notification(BaseModel):
    id: int
    recipient_kind: str
    recipient_id: int
    category: str
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    subject_kind: str
    subject_id: int | None
    before: Any
    after: Any


class TokenInfo(BaseModel):
    """A token as listed: never its hash, never its plaintext."""

    id: int
    label: str
    role: Role
    scope_kind: ScopeKind
    scope_id: int | None
    created_at: datetime
    revoked_at: datetime | None


class IssueTokenRequest(BaseModel):
    role: Role
    scope_kind: ScopeKind
    scope_id: int | None = None
    label: Text = Field(min_length=1, max_length=100, description="令牌用途说明")


class IssuedToken(BaseModel):
    """The answer to issuing a token: the plaintext appears here once and is never stored."""

    id: int
    token: str
