"""Who may administer which accounts, as a pure rule.

- An organization department (city or district) manages accounts of any role whose scope lies
  inside its own (a district cannot make a city-wide account).
- A community's staff manage their own community's staff accounts, and the accounts of the
  exchange's merchants located in their community (道德联盟), nobody else's.
- Everyone else manages no accounts.
Listing follows the same scope: organization departments and subdistricts see the accounts inside
their scope; community staff the accounts inside their community; units and members none.
"""

from __future__ import annotations

from domain.scope import HierarchyPath, allows
from schemas.auth import STAFF_ROLES, Actor, Role, ScopeKind


def may_manage(actor: Actor, *, role: Role, scope_kind: ScopeKind, scope_id: int | None,
               path: HierarchyPath) -> bool:
    """True when `actor` may create or disable an account with this role and scope at `path`."""
    match actor.role:
        case Role.org_department:
            if scope_kind is ScopeKind.city:
                return actor.scope_kind is ScopeKind.city
            return allows(actor, path)
        case Role.community_staff:
            if role is Role.provider and scope_kind is ScopeKind.provider:
                return path.community_id is not None and path.community_id == actor.scope_id
            return (role is Role.community_staff and scope_kind is ScopeKind.community
                    and actor.scope_kind is ScopeKind.community and scope_id == actor.scope_id)
        case _:
            return False


def may_list(actor: Actor) -> bool:
    return actor.role in STAFF_ROLES


def may_create_from_roster(actor: Actor) -> bool:
    """Bulk accounts from the roster: organization departments, over their scope."""
    return actor.role is Role.org_department
