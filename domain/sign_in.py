"""Sign-in rules for people, pure: lockout, session expiry, one-time codes, password policy.

The clock is always passed in, so tests move it instead of sleeping.

- Lockout: 5 failed sign-ins (password or code) within 15 minutes of the first lock the account
  for 15 minutes; a successful sign-in clears the count.
- Sessions: end 2 hours after the last request (idle) and 12 hours after sign-in (absolute),
  whichever comes first. `last_seen_at` is written at most once a minute, so a busy page does
  not write on every request.
- One-time codes: a sign-in code lives 5 minutes, a first-sign-in (setup) code handed over by an
  administrator 72 hours; each takes at most 5 wrong tries. A new sign-in code is sent at most
  once a minute per account (no SMS flood).
- Passwords: at least 8 characters with both letters and digits.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from domain.local_time import local

LOCK_THRESHOLD = 5
LOCK_WINDOW = timedelta(minutes=15)
LOCK_DURATION = timedelta(minutes=15)

SESSION_IDLE = timedelta(hours=2)
SESSION_ABSOLUTE = timedelta(hours=12)
SESSION_TOUCH_EVERY = timedelta(minutes=1)

LOGIN_CODE_TTL = timedelta(minutes=5)
SETUP_CODE_TTL = timedelta(hours=72)
CODE_MAX_ATTEMPTS = 5
CODE_RESEND_INTERVAL = timedelta(minutes=1)
LOGIN_CODE_DIGITS = 6
SETUP_CODE_DIGITS = 8

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128

# One message for an unknown phone and a wrong secret, so answers never tell whether an account exists.
BAD_PASSWORD = "手机号或密码错误"
BAD_CODE = "手机号或验证码错误, 或验证码已过期: 请重新获取验证码"
SESSION_EXPIRED = "登录已过期, 请重新登录"
NOT_SIGNED_IN = "未登录: 请先登录, 或在请求头中提供 Authorization: Bearer <令牌>"
CSRF_MISSING = "请求缺少有效的 CSRF 校验 (X-CSRF-Token 请求头): 请刷新页面后重试"


class CodePurpose(StrEnum):
    login = "login"   # requested by the person: sign in, or (re)set the password
    setup = "setup"   # made when an account is created without a password: first sign-in only


@dataclass(frozen=True)
class FailureState:
    """What an account remembers of its recent failed sign-ins."""

    failed_attempts: int = 0
    first_failed_at: datetime | None = None
    locked_until: datetime | None = None


def is_locked(state: FailureState, now: datetime) -> bool:
    return state.locked_until is not None and now < state.locked_until


def after_failure(state: FailureState, now: datetime) -> FailureState:
    """The state after one more failed sign-in at `now`; locks on the LOCK_THRESHOLD-th in the window."""
    if state.first_failed_at is None or now - state.first_failed_at > LOCK_WINDOW:
        count, first = 1, now
    else:
        count, first = state.failed_attempts + 1, state.first_failed_at
    if count >= LOCK_THRESHOLD:
        # The count restarts: after the lock ends, the next failures form a fresh window.
        return FailureState(failed_attempts=0, first_failed_at=None, locked_until=now + LOCK_DURATION)
    return FailureState(failed_attempts=count, first_failed_at=first, locked_until=state.locked_until)


def locked_message(locked_until: datetime) -> str:
    """What a locked-out person reads: why, and when (Beijing time) to try again."""
    minutes = int(LOCK_DURATION.total_seconds() // 60)
    return (f"账号已锁定: 连续 {LOCK_THRESHOLD} 次登录失败, 请 {minutes} 分钟后再试 "
            f"(北京时间 {local(locked_until):%H:%M} 解锁), 或联系管理员")


def session_expires_at(created_at: datetime, last_seen_at: datetime) -> datetime:
    return min(created_at + SESSION_ABSOLUTE, last_seen_at + SESSION_IDLE)


def session_expired(created_at: datetime, last_seen_at: datetime, now: datetime) -> bool:
    return now >= session_expires_at(created_at, last_seen_at)


def session_needs_touch(last_seen_at: datetime, now: datetime) -> bool:
    return now - last_seen_at >= SESSION_TOUCH_EVERY


def code_ttl(purpose: CodePurpose) -> timedelta:
    return LOGIN_CODE_TTL if purpose is CodePurpose.login else SETUP_CODE_TTL


def new_code(purpose: CodePurpose) -> str:
    digits = LOGIN_CODE_DIGITS if purpose is CodePurpose.login else SETUP_CODE_DIGITS
    return "".join(secrets.choice("0123456789") for _ in range(digits))


def may_send_code(last_sent_at: datetime | None, now: datetime) -> bool:
    return last_sent_at is None or now - last_sent_at >= CODE_RESEND_INTERVAL


_LETTER = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"\d")


def password_problem(password: str) -> str | None:
    """What is wrong with a new password, in Chinese; None when it is acceptable."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"密码至少 {PASSWORD_MIN_LENGTH} 位"
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"密码不能超过 {PASSWORD_MAX_LENGTH} 位"
    if not _LETTER.search(password) or not _DIGIT.search(password):
        return "密码须同时包含字母和数字"
    if password.strip() != password:
        return "密码首尾不能是空格"
    return None
