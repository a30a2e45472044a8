"""Member and unit registration use cases: transitions, scope, reasons, history and audit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from db.audit_log import select_audit_entries
from db.pool import Conn
from db.registration_event import select_events
from domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from domain.registration_rules import MEMBER_TRANSITIONS, MemberAction, add_months, member_transition
from schemas.auth import SYSTEM_ACTOR, Actor, Role, ScopeKind
from schemas.registration import MemberRegistrationStatus
from services import registration as svc
from services import unit_registration as unit_svc
from tests.test_registration_seed import add_member, import_cohort, seed_city


def staff(community_id: int) -> Actor:
    return Actor(role=Role.community_staff, scope_kind=ScopeKind.community, scope_id=community_id,
                 label="社区书记")


def member_actor(member_id: int) -> Actor:
    return Actor(role=Role.member, scope_kind=ScopeKind.member, scope_id=member_id, label="党员")


def test_every_invalid_member_transition_is_a_conflict_naming_the_status() -> None:
    """Each (action, status) pair missing from the transition table is refused with the status named."""
    refused = 0
    for action in MemberAction:
        for status in MemberRegistrationStatus:
            if status in MEMBER_TRANSITIONS[action]:
                continue
            with pytest.raises(Conflict) as caught:
                member_transition(action, status, registration_id=7)
            assert status.value in caught.value.message and "当前状态为" in caught.value.message
            refused += 1
    assert refused > 30


def test_add_months_clamps_to_month_end() -> None:
    """Six months after 31 August is the last day of February."""
    assert add_months(datetime(2025, 8, 31, tzinfo=UTC), 6) == datetime(2026, 2, 28, tzinfo=UTC)


async def test_submit_then_confirm_places_in_home_grid_with_history_and_audit(conn: Conn) -> None:
    """A self-submitted registration confirmed by its community becomes active in the home grid,
    valid six months, with a status event and an audit row holding before and after."""
    city = await seed_city(conn)
    member_id = await add_member(conn, city)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    submitted = await svc.submit_member_registration(conn, member_actor(member_id), member_id=member_id,
                                                     client=None, now=now)
    assert submitted.status == "submitted" and submitted.cohort_id is not None
    [confirmed] = await svc.confirm_registrations(conn, staff(city.communities[0]), [submitted.id], now=now)
    assert confirmed.status == "active"
    assert confirmed.grid_id == city.grids[city.communities[0]]
    assert confirmed.valid_until == datetime(2026, 9, 1, tzinfo=UTC)
    events = await select_events(conn, kind="member", registration_id=submitted.id)
    assert [(e.from_status, e.to_status) for e in events] == [(None, "submitted"), ("submitted", "active")]
    audits = await select_audit_entries(conn, subject_kind="member_registration", subject_id=submitted.id)
    assert [a.action for a in audits] == ["member_registration.submit", "member_registration.confirm"]
    assert audits[1].before["status"] == "submitted" and audits[1].after["status"] == "active"
    assert audits[1].actor == "community_staff:社区书记"


async def test_confirm_without_grid_awaits_placement(conn: Conn) -> None:
    """A member with no home grid is confirmed but not active until placed in a grid."""
    city = await seed_city(conn)
    member_id = await add_member(conn, city, with_grid=False)
    _, [reg] = await import_cohort(conn, city, [member_id], at=datetime.now(UTC))
    [confirmed] = await svc.confirm_registrations(conn, SYSTEM_ACTOR, [reg])
    assert confirmed.status == "confirmed" and confirmed.valid_until is None
    placed = await svc.place_in_grid(conn, SYSTEM_ACTOR, reg, city.grids[city.communities[0]])
    assert placed.status == "active" and placed.valid_until is not None


async def test_bulk_confirm_is_all_or_nothing(conn: Conn) -> None:
    """A batch holding one already-rejected registration is refused whole, naming its status."""
    city = await seed_city(conn)
    members = [await add_member(conn, city) for _ in range(3)]
    _, ids = await import_cohort(conn, city, members, at=datetime.now(UTC))
    await svc.reject_registrations(conn, SYSTEM_ACTOR, [ids[0]], "不在本社区居住")
    with pytest.raises(Conflict, match="rejected"):
        await svc.confirm_registrations(conn, SYSTEM_ACTOR, ids)
    statuses = {r["status"] for r in await conn.fetch(
        "SELECT status FROM member_registration WHERE id = ANY($1::bigint[])", ids[1:])}
    assert statuses == {"submitted"}


async def test_invalid_use_case_transitions_are_refused(conn: Conn) -> None:
    """Pausing a submitted registration, resuming an active one and confirming a withdrawn one fail
    with a Conflict naming the current status."""
    city = await seed_city(conn)
    member_id = await add_member(conn, city)
    _, [reg] = await import_cohort(conn, city, [member_id], at=datetime.now(UTC))
    with pytest.raises(Conflict, match="待确认"):
        await svc.pause(conn, SYSTEM_ACTOR, reg)
    await svc.confirm_registrations(conn, SYSTEM_ACTOR, [reg])
    with pytest.raises(Conflict, match="已报到"):
        await svc.resume(conn, SYSTEM_ACTOR, reg)
    paused = await svc.pause(conn, SYSTEM_ACTOR, reg, reason="外派学习")
    assert paused.status == "paused"
    assert (await svc.resume(conn, SYSTEM_ACTOR, reg)).status == "active"
    assert (await svc.withdraw(conn, member_actor(member_id), reg)).status == "withdrawn"
    with pytest.raises(Conflict, match="withdrawn"):
        await svc.confirm_registrations(conn, SYSTEM_ACTOR, [reg])
    with pytest.raises(Conflict, match="已退出"):
        await svc.renew(conn, SYSTEM_ACTOR, reg)


async def test_reject_requires_a_reason(conn: Conn) -> None:
    """Rejecting without a reason is refused and changes nothing."""
    city = await seed_city(conn)
    member_id = await add_member(conn, city)
    _, [reg] = await import_cohort(conn, city, [member_id], at=datetime.now(UTC))
    with pytest.raises(InvalidInput, match="原因"):
        await svc.reject_registrations(conn, SYSTEM_ACTOR, [reg], "  ")
    [rejected] = await svc.reject_registrations(conn, SYSTEM_ACTOR, [reg], "信息不全")
    assert rejected.status == "rejected" and rejected.reason == "信息不全"


async def test_out_of_scope_actors_are_forbidden(conn: Conn) -> None:
    """Staff of another community cannot confirm, a member cannot confirm even themselves, and a
    member cannot withdraw someone else's registration."""
    city = await seed_city(conn, communities=2)
    member_id, other_member = await add_member(conn, city), await add_member(conn, city)
    _, [reg, other_reg] = await import_cohort(conn, city, [member_id, other_member], at=datetime.now(UTC))
    with pytest.raises(NotFound):   # another community's registration reads as absent
        await svc.confirm_registrations(conn, staff(city.communities[1]), [reg])
    with pytest.raises(Forbidden):
        await svc.confirm_registrations(conn, member_actor(member_id), [reg])
    with pytest.raises(NotFound):
        await svc.withdraw(conn, member_actor(member_id), other_reg)
    unit_admin = Actor(role=Role.unit_admin, scope_kind=ScopeKind.unit, scope_id=city.units[0], label="单位")
    assert (await svc.withdraw(conn, unit_admin, other_reg)).status == "withdrawn"


async def test_transfer_closes_old_and_opens_new_in_new_cohort(conn: Conn) -> None:
    """A transfer closes the open registration as transferred and submits a new one in the new
    community in a new cohort; transferring again to the same community is a conflict."""
    city = await seed_city(conn, communities=2)
    member_id = await add_member(conn, city)
    cohort_id, [reg] = await import_cohort(conn, city, [member_id], at=datetime.now(UTC))
    await svc.confirm_registrations(conn, SYSTEM_ACTOR, [reg])
    new = await svc.transfer_member(conn, member_actor(member_id), member_id, city.communities[1],
                                    city.grids[city.communities[1]])
    assert new.status == "submitted" and new.community_id == city.communities[1]
    assert new.cohort_id != cohort_id
    old_status = await conn.fetchval("SELECT status FROM member_registration WHERE id = $1", reg)
    assert old_status == "transferred"
    with pytest.raises(Conflict):
        await svc.transfer_member(conn, SYSTEM_ACTOR, member_id, city.communities[1])


async def test_second_open_registration_is_a_conflict(conn: Conn) -> None:
    """A member with an open registration cannot submit another."""
    city = await seed_city(conn)
    member_id = await add_member(conn, city)
    await svc.submit_member_registration(conn, SYSTEM_ACTOR, member_id=member_id, client=None)
    with pytest.raises(Conflict, match="已有未结束的报到"):
        await svc.submit_member_registration(conn, SYSTEM_ACTOR, member_id=member_id, client=None)


async def test_unit_registration_reject_needs_reason_and_confirm_needs_staff(conn: Conn) -> None:
    """A unit admin cannot confirm its own registration; rejecting needs a reason; a rejected one
    cannot be confirmed."""
    city = await seed_city(conn)
    unit_admin = Actor(role=Role.unit_admin, scope_kind=ScopeKind.unit, scope_id=city.units[0], label="单位")
    submitted = await unit_svc.submit_unit_registration(conn, unit_admin, unit_id=city.units[0], client=None)
    with pytest.raises(Forbidden):
        await unit_svc.confirm_unit_registration(conn, unit_admin, submitted.id)
    with pytest.raises(InvalidInput):
        await unit_svc.reject_unit_registration(conn, staff(city.communities[0]), submitted.id, "")
    rejected = await unit_svc.reject_unit_registration(conn, staff(city.communities[0]), submitted.id, "非本社区单位")
    assert rejected.status == "rejected"
    with pytest.raises(Conflict, match="已退回"):
        await unit_svc.confirm_unit_registration(conn, staff(city.communities[0]), submitted.id)
    events = await select_events(conn, kind="unit", registration_id=submitted.id)
    assert [e.to_status for e in events] == ["submitted", "rejected"]


async def test_grid_override_must_lie_in_the_registration_community(conn: Conn) -> None:
    """Confirming into another community's grid is refused; into its own grid it places there."""
    city = await seed_city(conn, communities=2)
    member_id = await add_member(conn, city, with_grid=False)
    _, [reg] = await import_cohort(conn, city, [member_id], at=datetime.now(UTC))
    with pytest.raises(InvalidInput, match="不属于"):
        await svc.confirm_registrations(conn, SYSTEM_ACTOR, [reg], grid_override=city.grids[city.communities[1]])
    [confirmed] = await svc.confirm_registrations(conn, SYSTEM_ACTOR, [reg],
                                                  grid_override=city.grids[city.communities[0]])
    assert confirmed.status == "active" and confirmed.grid_id == city.grids[city.communities[0]]
