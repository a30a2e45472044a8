"""The points exchange's pure rules: who acts as a provider, who may redeem what, the one-time
code's shape and when it lapses, how a provider sees the member who redeems.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.certificate import mask_name
from schemas.auth import STAFF_ROLES, Actor, Role

CODE_DIGITS = 8

# The roles that act for a provider: a co-building unit's admin, a merchant's keeper.
PROVIDER_ROLES = frozenset({Role.unit_admin, Role.provider})
# Who admits merchants to 道德联盟: an organization department, a community's staff.
ADMITTING_ROLES = frozenset({Role.org_department, Role.community_staff})
OVERSEEING_ROLES = STAFF_ROLES


def new_code() -> str:
    """An 8-digit one-time code (typed by the provider, shown large to the member)."""
    return "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))


def normalized_code(code: str) -> str:
    """What a provider typed, as hashed: digits only (spaces and dashes dropped)."""
    return "".join(ch for ch in code if ch.isdigit())


def code_hash(code: str) -> str:
    return hashlib.sha256(normalized_code(code).encode("ascii")).hexdigest()


def expires_at(*, now: datetime, collect_hours: int, valid_until: datetime) -> datetime:
    """A code lapses `collect_hours` after the redemption, and never after the item's window."""
    return min(now + timedelta(hours=collect_hours), valid_until)


@dataclass(frozen=True)
class MemberPlace:
    community_id: int
    district_id: int | None


def may_redeem(place: MemberPlace, *, community_id: int | None, district_id: int | None) -> bool:
    """An item is for one community's members, or one district's."""
    if community_id is not None:
        return place.community_id == community_id
    return district_id is not None and place.district_id == district_id


def shown_member_name(actor: Actor, name: str) -> str:
    """A provider sees the redeeming member's name masked; the member and staff see it whole."""
    return mask_name(name) if actor.role in PROVIDER_ROLES else name
