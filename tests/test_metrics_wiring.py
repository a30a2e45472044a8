"""The app's counters move when the work they count happens (not only when a test bumps them)."""

from __future__ import annotations

from datetime import UTC, datetime

from db.pool import Conn
from schemas.auth import Actor, Role, ScopeKind
from services import registration as svc
from telemetry import metrics
from tests.test_registration_seed import add_member, seed_city


def _value(counter: object) -> float:
    value: float = counter._value.get()  # type: ignore[attr-defined]
    return value


async def test_registration_use_cases_count_each_status_reached(conn: Conn) -> None:
    """Submitting and confirming a registration moves registrations{submitted} and {active} by one."""
    city = await seed_city(conn)
    member_id = await add_member(conn, city)
    submitted_before = _value(metrics.REGISTRATIONS.labels(status="submitted"))
    active_before = _value(metrics.REGISTRATIONS.labels(status="active"))
    member = Actor(role=Role.member, scope_kind=ScopeKind.member, scope_id=member_id, label="党员")
    staff = Actor(role=Role.community_staff, scope_kind=ScopeKind.community,
                  scope_id=city.communities[0], label="社区书记")
    now = datetime(2026, 3, 1, tzinfo=UTC)
    registration = await svc.submit_member_registration(conn, member, member_id=member_id, client=None, now=now)
    await svc.confirm_registrations(conn, staff, [registration.id], now=now)
    assert _value(metrics.REGISTRATIONS.labels(status="submitted")) == submitted_before + 1
    assert _value(metrics.REGISTRATIONS.labels(status="active")) == active_before + 1
