"""The pure sign-in rules: lockout window, session expiry, code lifetimes, password policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain import sign_in as rules
from domain.account_rules import may_manage
from domain.scope import HierarchyPath
from schemas.auth import Actor, Role, ScopeKind

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_the_fifth_failure_within_the_window_locks_for_fifteen_minutes() -> None:
    """Failures 1-4 count; the 5th inside 15 minutes of the first locks until 15 minutes after it."""
    state = rules.FailureState()
    for i in range(4):
        state = rules.after_failure(state, T0 + timedelta(minutes=3 * i))
        assert not rules.is_locked(state, T0 + timedelta(minutes=3 * i))
    fifth = T0 + timedelta(minutes=14)
    state = rules.after_failure(state, fifth)
    assert rules.is_locked(state, fifth) and state.locked_until == fifth + rules.LOCK_DURATION
    assert rules.is_locked(state, fifth + rules.LOCK_DURATION - timedelta(seconds=1))
    assert not rules.is_locked(state, fifth + rules.LOCK_DURATION)
    assert state.failed_attempts == 0   # a fresh count after the lock
    assert rules.locked_message(fifth + rules.LOCK_DURATION) == (
        "账号已锁定: 连续 5 次登录失败, 请 15 分钟后再试 (北京时间 17:29 解锁), 或联系管理员")


def test_a_failure_after_the_window_starts_a_new_count() -> None:
    """The 5th failure 16 minutes after the first does not lock: the count restarts at 1."""
    state = rules.FailureState()
    for i in range(4):
        state = rules.after_failure(state, T0 + timedelta(minutes=i))
    state = rules.after_failure(state, T0 + timedelta(minutes=16))
    assert state.locked_until is None and state.failed_attempts == 1


def test_session_expiry_is_the_earlier_of_idle_and_absolute() -> None:
    """Idle 2 h after the last request, and never beyond 12 h after sign-in."""
    assert rules.session_expires_at(T0, T0) == T0 + rules.SESSION_IDLE
    late = T0 + timedelta(hours=11)
    assert rules.session_expires_at(T0, late) == T0 + rules.SESSION_ABSOLUTE
    assert not rules.session_expired(T0, T0, T0 + rules.SESSION_IDLE - timedelta(seconds=1))
    assert rules.session_expired(T0, T0, T0 + rules.SESSION_IDLE)
    assert not rules.session_needs_touch(T0, T0 + timedelta(seconds=59))
    assert rules.session_needs_touch(T0, T0 + rules.SESSION_TOUCH_EVERY)


def test_codes_have_their_length_lifetime_and_resend_interval() -> None:
    """Sign-in codes: 6 digits, 5 minutes, once a minute; setup codes: 8 digits, 72 hours."""
    login, setup = rules.new_code(rules.CodePurpose.login), rules.new_code(rules.CodePurpose.setup)
    assert login.isdigit() and len(login) == 6 and setup.isdigit() and len(setup) == 8
    assert rules.code_ttl(rules.CodePurpose.login) == timedelta(minutes=5)
    assert rules.code_ttl(rules.CodePurpose.setup) == timedelta(hours=72)
    assert rules.may_send_code(None, T0) and not rules.may_send_code(T0, T0 + timedelta(seconds=59))
    assert rules.may_send_code(T0, T0 + timedelta(minutes=1))


def test_password_policy_speaks_chinese() -> None:
    """At least 8 characters with letters and digits; the reason is a Chinese sentence."""
    assert rules.password_problem("Abc12345") is None
    assert rules.password_problem("Ab1") == "密码至少 8 位"
    assert rules.password_problem("abcdefgh") == "密码须同时包含字母和数字"
    assert rules.password_problem("12345678") == "密码须同时包含字母和数字"
    assert rules.password_problem("a1" * 65) == "密码不能超过 128 位"


def test_who_may_manage_accounts() -> None:
    """District org departments inside their district only; community staff only their own staff; others nobody."""
    district = Actor(role=Role.org_department, scope_kind=ScopeKind.district, scope_id=1, label="d1")
    staff = Actor(role=Role.community_staff, scope_kind=ScopeKind.community, scope_id=7, label="c7")
    unit = Actor(role=Role.unit_admin, scope_kind=ScopeKind.unit, scope_id=3, label="u3")
    in_d1 = HierarchyPath(district_id=1, subdistrict_id=2, community_id=7)
    in_d2 = HierarchyPath(district_id=2, subdistrict_id=5, community_id=9)
    def staff_account(actor: Actor, scope_id: int, path: HierarchyPath) -> bool:
        return may_manage(actor, role=Role.community_staff, scope_kind=ScopeKind.community, scope_id=scope_id,
                          path=path)

    assert staff_account(district, 7, in_d1)
    assert not staff_account(district, 9, in_d2)
    assert not may_manage(district, role=Role.org_department, scope_kind=ScopeKind.city, scope_id=None,
                          path=HierarchyPath())
    assert staff_account(staff, 7, in_d1)
    assert not staff_account(staff, 9, in_d2)
    assert not may_manage(staff, role=Role.member, scope_kind=ScopeKind.member, scope_id=4,
                          path=HierarchyPath(community_id=7, member_id=4))
    assert not staff_account(unit, 7, in_d1)
