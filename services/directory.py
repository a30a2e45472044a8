"""Directory reads for every front door: scope-filtered, paged, personal data masked by role.

A single subject outside the caller's scope reads as NotFound (404), never Forbidden, so an actor
cannot probe which ids exist elsewhere.
"""

from __future__ import annotations

from datetime import datetime

from db import directory, inbox
from db.pool import Conn
from domain.errors import Forbidden, InvalidInput, NotFound
from domain.privacy import mask_nested, shown_id_number, shown_phone
from domain.scope import ANYWHERE, HierarchyPath, PlaceFilter, ScopeFilter, scope_filter
from schemas import directory as read_models
from schemas.api import Page
from schemas.auth import Actor, Role, ScopeKind


def hierarchy_scope(actor: Actor) -> ScopeFilter:
    """Hierarchy reads: unit admins and members see the whole map (to choose where to register)."""
    if actor.scope_kind in (ScopeKind.unit, ScopeKind.member):
        return ScopeFilter()
    return scope_filter(actor)


async def list_districts(
    conn: Conn, actor: Actor, *, name: str | None = None, limit: int, offset: int
) -> Page[read_models.District]:
    return await directory.select_districts(
        conn, scope=hierarchy_scope(actor), name=name, limit=limit, offset=offset
    )


async def list_subdistricts(
    conn: Conn, actor: Actor, *, place: PlaceFilter = ANYWHERE, name: str | None = None,
    limit: int, offset: int,
) -> Page[read_models.Subdistrict]:
    """Narrowed by district only."""
    return await directory.select_subdistricts(
        conn, scope=hierarchy_scope(actor), place=place, name=name, limit=limit, offset=offset
    )


async def list_communities(
    conn: Conn, actor: Actor, *, place: PlaceFilter = ANYWHERE, name: str | None = None,
    limit: int, offset: int,
) -> Page[read_models.Community]:
    return await directory.select_communities(
        conn, scope=hierarchy_scope(actor), place=place, name=name, limit=limit, offset=offset
    )


async def list_grids(
    conn: Conn, actor: Actor, *, place: PlaceFilter = ANYWHERE, name: str | None = None,
    limit: int, offset: int,
) -> Page[read_models.Grid]:
    return await directory.select_grids(
        conn, scope=hierarchy_scope(actor), place=place, name=name, limit=limit, offset=offset
    )


def _unit(actor: Actor, unit: read_models.Unit) -> read_models.Unit:
    path = HierarchyPath(community_id=unit.community_id, unit_id=unit.id)
    return unit.model_copy(update={"contact_phone": shown_phone(actor, path, unit.contact_phone)})


async def list_units(
    conn: Conn, actor: Actor, *, place: PlaceFilter = ANYWHERE, name: str | None = None,
    status: str | None = None, limit: int, offset: int,
) -> Page[read_models.Unit]:
    """Narrowed by district, subdistrict, community."""
    page = await directory.select_units(
        conn, scope=scope_filter(actor), place=place, name=name, status=status, limit=limit,
        offset=offset,
    )
    return page.model_copy(update={"items": [_unit(actor, u) for u in page.items]})


async def get_unit(conn: Conn, actor: Actor, *, unit_id: int) -> read_models.Unit:
    page = await directory.select_units(
        conn, scope=scope_filter(actor), place=PlaceFilter(unit_id=unit_id), limit=1, offset=0
    )
    if not page.items:
        raise NotFound(f"报到单位 {unit_id} 不存在或不在您的管辖范围内")
    return _unit(actor, page.items[0])


def _member(actor: Actor, member: read_models.Member) -> read_models.Member:
    path = HierarchyPath(
        district_id=member.district_id, subdistrict_id=member.subdistrict_id,
        community_id=member.home_community_id, unit_id=member.unit_id, member_id=member.id,
    )
    return member.model_copy(update={
        "phone": shown_phone(actor, path, member.phone),
        "id_number": shown_id_number(actor, path, member.id_number),
    })


async def list_members(
    conn: Conn, actor: Actor, *, place: PlaceFilter = ANYWHERE, name: str | None = None,
    name_prefix: str | None = None, status: str | None = None, limit: int, offset: int,
) -> Page[read_models.Member]:
    """Narrowed by district, subdistrict, community (of home), grid, unit."""
    page = await directory.select_members(
        conn, scope=scope_filter(actor), place=place, name=name, name_prefix=name_prefix,
        status=status, limit=limit, offset=offset,
    )
    return page.model_copy(update={"items": [_member(actor, m) for m in page.items]})


async def get_member(conn: Conn, actor: Actor, *, member_id: int) -> read_models.Member:
    page = await directory.select_members(
        conn, scope=scope_filter(actor), place=PlaceFilter(member_id=member_id), limit=1, offset=0
    )
    if not page.items:
        raise NotFound(f"党员 {member_id} 不存在或不在您的管辖范围内")
    return _member(actor, page.items[0])


async def list_member_registrations(
    conn: Conn, actor: Actor, *, place: PlaceFilter = ANYWHERE, name: str | None = None,
    status: str | None = None, limit: int, offset: int,
) -> Page[read_models.MemberRegistration]:
    """Narrowed by district, subdistrict, community (registered with), grid, unit, member."""
    return await directory.select_member_registrations(
        conn, scope=scope_filter(actor), place=place, name=name, status=status, limit=limit,
        offset=offset,
    )


async def list_unit_registrations(
    conn: Conn, actor: Actor, *, place: PlaceFilter = ANYWHERE, name: str | None = None,
    status: str | None = None, limit: int, offset: int,
) -> Page[read_models.UnitRegistration]:
    """Narrowed by district, subdistrict, community (registered with), unit."""
    return await directory.select_unit_registrations(
        conn, scope=scope_filter(actor), place=place, name=name, status=status, limit=limit,
        offset=offset,
    )


async def member_registration_history(
    conn: Conn, actor: Actor, *, registration_id: int
) -> list[read_models.RegistrationEvent]:
    """Status history of one member registration, oldest first; NotFound outside the scope."""
    page = await directory.select_member_registrations(
        conn, scope=scope_filter(actor), place=ANYWHERE, registration_id=registration_id, limit=1,
        offset=0,
    )
    if not page.items:
        raise NotFound(f"报到记录 {registration_id} 不存在或不在您的管辖范围内")
    return await directory.select_registration_events(
        conn, registration_kind="member", registration_id=registration_id
    )


async def list_audit(
    conn: Conn, actor: Actor, *, subject_kind: str | None = None, subject_id: int | None = None,
    actor_name: str | None = None, action: str | None = None, since: datetime | None = None,
    until: datetime | None = None, limit: int, offset: int,
) -> Page[read_models.AuditEntry]:
    """The audit log, for organization departments only: a city's sees every entry, a district's
    those whose subject lies in its district (see db.directory.select_audit_log)."""
    if actor.role is not Role.org_department:
        raise Forbidden("只有组织部可以查看审计日志")
    if since is not None and until is not None and since >= until:
        raise InvalidInput("起始时间 since 必须早于截止时间 until")
    page = await directory.select_audit_log(
        conn, scope=scope_filter(actor), subject_kind=subject_kind, subject_id=subject_id,
        actor=actor_name, action=action, since=since, until=until, limit=limit, offset=offset,
    )
    entries = [e.model_copy(update={"before": mask_nested(e.before), "after": mask_nested(e.after)})
               for e in page.items]
    return page.model_copy(update={"items": entries})


def _recipient(actor: Actor) -> tuple[str, int | None]:
    """Whose inbox the actor reads: the node (or unit, or member) its token is scoped to."""
    return actor.scope_kind.value, actor.scope_id


async def list_inbox(
    conn: Conn, actor: Actor, *, unread_only: bool = False, limit: int, offset: int
) -> Page[read_models.Notification]:
    kind, rid = _recipient(actor)
    return await inbox.select_inbox(
        conn, recipient_kind=kind, recipient_id=rid, unread_only=unread_only, limit=limit,
        offset=offset,
    )


async def mark_read(conn: Conn, actor: Actor, *, notification_id: int) -> read_models.Notification:
    kind, rid = _recipient(actor)
    row = await inbox.mark_notification_read(
        conn, notification_id=notification_id, recipient_kind=kind, recipient_id=rid
    )
    if row is None:
        raise NotFound(f"通知 {notification_id} 不存在")
    return row
