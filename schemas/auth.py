"""Who is calling: the authenticated actor every API call and CLI action carries."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Role(StrEnum):
    org_department = "org_department"     # 组织部 (city or district)
    subdistrict = "subdistrict"           # 街道党工委
    community_staff = "community_staff"   # 社区党委 / 社区工作者
    unit_admin = "unit_admin"             # 报到单位管理员
    member = "member"                     # 在职党员
    provider = "provider"                 # 道德联盟商户 (积分兑换的提供方)


# The roles that administer an area (a community and up): they decide registrations, dispatch
# and verify tasks, blow whistles; a unit admin or a member acts only for itself.
STAFF_ROLES = frozenset({Role.community_staff, Role.subdistrict, Role.org_department})


class ScopeKind(StrEnum):
    city = "city"
    district = "district"
    subdistrict = "subdistrict"
    community = "community"
    unit = "unit"
    member = "member"
    provider = "provider"   # an exchange provider (a merchant admitted to 道德联盟)


class Actor(BaseModel):
    """An authenticated caller: a role and the part of the hierarchy it may see and act in."""

    model_config = ConfigDict(frozen=True)

    role: Role
    scope_kind: ScopeKind
    scope_id: int | None = None
    label: str
    token_id: int | None = None
    # Set when the caller signed in as a person (a session); None for bearer tokens and the system.
    account_id: int | None = None

    @property
    def audit_name(self) -> str:
        """How this actor is written in the audit log and status history."""
        return f"{self.role.value}:{self.label}"


SYSTEM_ACTOR = Actor(role=Role.org_department, scope_kind=ScopeKind.city, label="system")
