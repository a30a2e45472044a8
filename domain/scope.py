"""Who may see what: an actor's scope in the hierarchy, as a pure rule.

Every API read filters by `ScopeFilter`; every action on one subject checks `allows`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.errors import Forbidden
from schemas.auth import Actor, Role, ScopeKind

# A merchant's account (role provider) works in the points exchange only.
PROVIDER_CONFINED = "兑换商户账号只能使用积分兑换功能"


@dataclass(frozen=True)
class HierarchyPath:
    """Where a subject sits: any of the ids may be unknown (None)."""

    district_id: int | None = None
    subdistrict_id: int | None = None
    community_id: int | None = None
    unit_id: int | None = None
    member_id: int | None = None


class Placed(Protocol):
    """A row that knows its whole place: its district, subdistrict, community, unit and member."""

    @property
    def district_id(self) -> int | None: ...
    @property
    def subdistrict_id(self) -> int | None: ...
    @property
    def community_id(self) -> int | None: ...
    @property
    def unit_id(self) -> int | None: ...
    @property
    def member_id(self) -> int | None: ...


def path_of(row: Placed) -> HierarchyPath:
    """Where a placed row sits, as scope checks read it."""
    return HierarchyPath(district_id=row.district_id, subdistrict_id=row.subdistrict_id,
                         community_id=row.community_id, unit_id=row.unit_id, member_id=row.member_id)


@dataclass(frozen=True)
class ScopeFilter(HierarchyPath):
    """The SQL-side form of a scope: at most one id is set; None everywhere means the city."""


@dataclass(frozen=True)
class PlaceFilter(HierarchyPath):
    """The places a list is narrowed to on top of the caller's scope (None: anywhere); a list
    reads the ids it can be narrowed by and ignores the others."""

    grid_id: int | None = None


ANYWHERE = PlaceFilter()


def scope_filter(actor: Actor) -> ScopeFilter:
    match actor.scope_kind:
        case ScopeKind.city:
            return ScopeFilter()
        case ScopeKind.district:
            return ScopeFilter(district_id=actor.scope_id)
        case ScopeKind.subdistrict:
            return ScopeFilter(subdistrict_id=actor.scope_id)
        case ScopeKind.community:
            return ScopeFilter(community_id=actor.scope_id)
        case ScopeKind.unit:
            return ScopeFilter(unit_id=actor.scope_id)
        case ScopeKind.member:
            return ScopeFilter(member_id=actor.scope_id)
        case ScopeKind.provider:   # a merchant sees no part of the hierarchy (api/deps.py confines it)
            raise Forbidden(PROVIDER_CONFINED)


def allows(actor: Actor, path: HierarchyPath) -> bool:
    """True when the subject at `path` lies inside the actor's scope."""
    match actor.scope_kind:
        case ScopeKind.city:
            return True
        case ScopeKind.district:
            return path.district_id is not None and path.district_id == actor.scope_id
        case ScopeKind.subdistrict:
            return path.subdistrict_id is not None and path.subdistrict_id == actor.scope_id
        case ScopeKind.community:
            return path.community_id is not None and path.community_id == actor.scope_id
        case ScopeKind.unit:
            return path.unit_id is not None and path.unit_id == actor.scope_id
        case ScopeKind.member:
            return path.member_id is not None and path.member_id == actor.scope_id
        case ScopeKind.provider:
            return False


def own_member_id(actor: Actor, refusal: str = "只有党员本人可以查看「我的」页面的信息") -> int:
    """The member a member's own reads (我的) are about; every other role is refused with
    `refusal` before any lookup, the same answer for everyone."""
    if actor.role is not Role.member or actor.scope_kind is not ScopeKind.member or actor.scope_id is None:
        raise Forbidden(refusal)
    return actor.scope_id
