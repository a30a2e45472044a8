"""Who may see a member's personal data (phone, ID number) in full, as a pure rule.

个人信息保护法: only those who need the data to do their job see it. The member's own community
staff (who confirm and place them), the admin of the member's employer unit (who imports and
approves them) and the member themself. Organization departments and subdistricts work with
aggregates and see masked values.
"""

from __future__ import annotations

from domain.pii import mask_id_number, mask_phone, mask_text
from domain.scope import HierarchyPath
from schemas.auth import Actor, Role, ScopeKind


def may_see_personal_data(actor: Actor, path: HierarchyPath) -> bool:
    """True when `actor` is entitled to the unmasked phone and ID number of the member at `path`."""
    match actor.role:
        case Role.community_staff:
            return (
                actor.scope_kind is ScopeKind.community
                and path.community_id is not None
                and path.community_id == actor.scope_id
            )
        case Role.unit_admin:
            return (
                actor.scope_kind is ScopeKind.unit
                and path.unit_id is not None
                and path.unit_id == actor.scope_id
            )
        case Role.member:
            return (
                actor.scope_kind is ScopeKind.member
                and path.member_id is not None
                and path.member_id == actor.scope_id
            )
        case Role.org_department | Role.subdistrict | Role.provider:   # a merchant never sees them
            return False


def shown_phone(actor: Actor, path: HierarchyPath, phone: str | None) -> str | None:
    """The phone number as this actor may see it."""
    return phone if may_see_personal_data(actor, path) else mask_phone(phone)


def shown_id_number(actor: Actor, path: HierarchyPath, id_number: str | None) -> str | None:
    """The ID number as this actor may see it."""
    return id_number if may_see_personal_data(actor, path) else mask_id_number(id_number)


def evaluation_phone(phone: str | None) -> str | None:
    """A member's phone on an evaluation result 考核结果, as every reader sees it everywhere.

    Results are scores with names, read and passed on as workbooks (e-mail, USB sticks); nobody
    contacts a member from them (the member record, under the rule above, is for that). So one
    rule for every role and every representation, the JSON page and each .xlsx alike: masked.
    """
    return mask_phone(phone)


def mask_nested(value: object) -> object:
    """Every phone or ID number inside a JSON-like value masked (audit before/after snapshots).

    The audit log's readers (organization departments) are not entitled to full personal data,
    and a snapshot may hold it under any key.
    """
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_nested(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_nested(v) for v in value]
    return value
