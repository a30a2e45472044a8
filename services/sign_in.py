"""Sign-in for people: passwords, one-time codes, server-side sessions, CSRF, lockout, audit.

The rules (lockout window, session expiry, code lifetimes, password policy) are pure, in
domain/sign_in.py; this module applies them to the database and writes the audit log. Only
hashes are stored: argon2id for passwords, SHA-256 for session and CSRF tokens and for codes.

An unknown phone, a disabled account, an account without a password and a wrong password all
get the same answer after the same amount of work (a password check against a fixed hash), so
the answers never tell whether a phone has an account. Every sign-in, failure, lock and sign-out
is one audit row; phones appear there only masked and never in logs.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import httpx
import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from channels import sms_gateway
from db import account as account_db
from db import account_code as code_db
from db import account_session as session_db
from db import audit_log, directory
from db import channel_endpoint as endpoint_db
from db.account import AccountRow
from db.account_session import SessionRow
from db.pool import Conn
from domain import sign_in as rules
from domain.channel_templates import sms_text
from domain.errors import CsrfRejected, InvalidInput, Locked, Unauthenticated
from domain.pii import mask_phone
from schemas.account import Me
from schemas.auth import Actor, Role, ScopeKind
from schemas.delivery import Channel, OwnerKind

log = structlog.get_logger(__name__)

SESSION_COOKIE = "sbd_session"
CSRF_COOKIE = "sbd_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

ANONYMOUS = "anonymous"
SMS_TIMEOUT_SECONDS = 10.0


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()   # argon2id with the library's recommended parameters


@cache
def _dummy_hash() -> str:
    # Checked when there is no real hash, so an unknown phone costs as much as a wrong password.
    return _hasher().hash(secrets.token_urlsafe(16))


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher().hash, password)


async def password_matches(password_hash: str | None, password: str) -> bool:
    """True when `password` is the one hashed (False without a hash, after the same work)."""
    def verify() -> bool:
        try:
            return _hasher().verify(password_hash or _dummy_hash(), password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def code_hash(account_id: int, code: str) -> str:
    # Bound to the account, so one code's hash says nothing about another account's.
    return _sha256(f"{account_id}:{code}")


@dataclass(frozen=True)
class SignedIn:
    """A new session: the person as /auth/me shows them, and the two cookie values (plaintext)."""

    me: Me
    session_token: str
    csrf_token: str


@dataclass(frozen=True)
class SessionActor:
    actor: Actor
    session_id: int
    csrf_hash: str
    expires_at: datetime


def _failure_state(row: AccountRow) -> rules.FailureState:
    return rules.FailureState(failed_attempts=row.failed_attempts, first_failed_at=row.first_failed_at,
                              locked_until=row.locked_until)


def _actor(row: AccountRow | SessionRow, account_id: int) -> Actor:
    return Actor(role=Role(row.role), scope_kind=ScopeKind(row.scope_kind), scope_id=row.scope_id,
                 label=row.label, account_id=account_id)


async def _audit(conn: Conn, *, actor: str, action: str, account_id: int | None,
                 after: dict[str, Any]) -> None:
    await audit_log.insert_audit_entries(
        conn, actor=actor, action=action, subject_kind="account",
        subject_ids=[account_id],
        befores=[None], afters=[after],
    )


async def scope_name(conn: Conn, actor: Actor) -> str | None:
    if actor.scope_kind is ScopeKind.city:
        return "全市"
    if actor.scope_id is None:
        return None
    return await directory.select_scope_name(conn, scope_kind=actor.scope_kind.value, scope_id=actor.scope_id)


async def me(conn: Conn, actor: Actor, *, expires_at: datetime | None) -> Me:
    return Me(role=actor.role, scope_kind=actor.scope_kind, scope_id=actor.scope_id, label=actor.label,
              scope_name=await scope_name(conn, actor), account_id=actor.account_id, expires_at=expires_at)


async def _start_session(conn: Conn, row: AccountRow, *, method: str, now: datetime) -> SignedIn:
    """Clear the failure count, open a session, audit the sign-in (inside the caller's transaction)."""
    account_id: int = row.id
    await account_db.update_failures(conn, account_id=account_id, failed_attempts=0, first_failed_at=None,
                                     locked_until=None)
    session_token = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    session_id = await session_db.insert_session(conn, account_id=account_id, token_hash=_sha256(session_token),
                                                 csrf_hash=_sha256(csrf_token), now=now)
    actor = _actor(row, account_id)
    await _audit(conn, actor=actor.audit_name, action="sign_in", account_id=account_id,
                 after={"method": method, "session_id": session_id})
    log.info("signed_in", account_id=account_id, session_id=session_id, method=method, role=actor.role.value)
    signed = await me(conn, actor, expires_at=rules.session_expires_at(now, now))
    return SignedIn(me=signed, session_token=session_token, csrf_token=csrf_token)


async def _record_failure(conn: Conn, row: AccountRow | None, *, phone: str, method: str, reason: str,
                          now: datetime) -> bool:
    """Audit a failed sign-in and count it on the account; True when this failure locked it."""
    if row is None:
        await _audit(conn, actor=ANONYMOUS, action="sign_in_failed", account_id=None,
                     after={"method": method, "reason": reason, "phone": mask_phone(phone)})
        log.info("sign_in_failed", method=method, reason=reason)
        return False
    account_id: int = row.id
    state = rules.after_failure(_failure_state(row), now)
    await account_db.update_failures(conn, account_id=account_id, failed_attempts=state.failed_attempts,
                                     first_failed_at=state.first_failed_at, locked_until=state.locked_until)
    await _audit(conn, actor=ANONYMOUS, action="sign_in_failed", account_id=account_id,
                 after={"method": method, "reason": reason})
    log.info("sign_in_failed", account_id=account_id, method=method, reason=reason)
    locked_now = state.locked_until is not None and state.locked_until != row.locked_until
    if locked_now:
        await _audit(conn, actor=ANONYMOUS, action="account_locked", account_id=account_id,
                     after={"locked_until": state.locked_until})
        log.info("account_locked", account_id=account_id)
    return locked_now


async def _refuse_locked(conn: Conn, row: AccountRow, *, method: str) -> Locked:
    assert row.locked_until is not None   # called only for an account rules.is_locked found locked
    await _audit(conn, actor=ANONYMOUS, action="sign_in_refused_locked", account_id=row.id,
                 after={"method": method, "locked_until": row.locked_until})
    log.info("sign_in_refused_locked", account_id=row.id, method=method)
    return Locked(rules.locked_message(row.locked_until))


async def login_with_password(conn: Conn, *, phone: str, password: str, now: datetime) -> SignedIn:
    """A new session, or Unauthenticated (same answer for any reason) / Locked."""
    error: Exception
    async with conn.transaction():
        row = await account_db.select_account_by_phone(conn, phone=phone, for_update=True)
        if row is not None and row.disabled_at is None and rules.is_locked(_failure_state(row), now):
            error = await _refuse_locked(conn, row, method="password")
        else:
            usable = row is not None and row.disabled_at is None
            ok = await password_matches(row.password_hash if usable and row is not None else None, password)
            if ok and row is not None:
                return await _start_session(conn, row, method="password", now=now)
            reason = ("unknown_phone" if row is None else "disabled" if row.disabled_at is not None
                      else "no_password" if row.password_hash is None else "wrong_password")
            if await _record_failure(conn, row if usable else None, phone=phone, method="password",
                                     reason=reason, now=now):
                error = Locked(rules.locked_message(now + rules.LOCK_DURATION))
            else:
                error = Unauthenticated(rules.BAD_PASSWORD)
    raise error


async def request_code(conn: Conn, *, phone: str, now: datetime) -> str | None:
    """A fresh sign-in code for the phone's account, to be sent by SMS; None when none is sent.

    None for an unknown phone, a disabled account, or a code sent less than a minute ago: the
    caller answers the same in every case.
    """
    async with conn.transaction():
        row = await account_db.select_account_by_phone(conn, phone=phone, for_update=True)
        if row is None or row.disabled_at is not None:
            log.info("sign_in_code_not_sent", reason="no_account")
            return None
        last = await code_db.select_last_sent_at(conn, account_id=row.id, purpose=rules.CodePurpose.login)
        if not rules.may_send_code(last, now):
            log.info("sign_in_code_not_sent", account_id=row.id, reason="too_soon")
            return None
        code = rules.new_code(rules.CodePurpose.login)
        code_id = await code_db.insert_code(
            conn, account_id=row.id, purpose=rules.CodePurpose.login, code_hash=code_hash(row.id, code),
            now=now, expires_at=now + rules.LOGIN_CODE_TTL,
        )
        await _audit(conn, actor=ANONYMOUS, action="sign_in_code_sent", account_id=row.id,
                     after={"code_id": code_id, "expires_at": now + rules.LOGIN_CODE_TTL})
    return code


async def issue_setup_code(conn: Conn, *, account_id: int, now: datetime) -> tuple[str, datetime]:
    """A first-sign-in code for an account made without a password (inside the caller's transaction)."""
    code = rules.new_code(rules.CodePurpose.setup)
    expires_at = now + rules.SETUP_CODE_TTL
    await code_db.insert_code(conn, account_id=account_id, purpose=rules.CodePurpose.setup,
                              code_hash=code_hash(account_id, code), now=now, expires_at=expires_at)
    return code, expires_at


async def _check_code(
    conn: Conn, *, phone: str, code: str, purposes: Sequence[rules.CodePurpose], method: str, now: datetime
) -> AccountRow | Exception:
    """The account row when the code is right (the code is used up), else the error to raise.

    Runs inside the caller's transaction; failures are recorded in it, so the caller must commit
    before raising.
    """
    row = await account_db.select_account_by_phone(conn, phone=phone, for_update=True)
    if row is None or row.disabled_at is not None:
        await _record_failure(conn, None, phone=phone, method=method,
                              reason="unknown_phone" if row is None else "disabled", now=now)
        return Unauthenticated(rules.BAD_CODE)
    if rules.is_locked(_failure_state(row), now):
        return await _refuse_locked(conn, row, method=method)
    live = await code_db.select_live_code(conn, account_id=row.id, purposes=[p.value for p in purposes],
                                          now=now, max_attempts=rules.CODE_MAX_ATTEMPTS)
    if live is not None and hmac.compare_digest(live.code_hash, code_hash(row.id, code)):
        await code_db.mark_used(conn, code_id=live.id, now=now)
        return row
    if live is not None:
        await code_db.count_wrong_try(conn, code_id=live.id)
    reason = "wrong_code" if live is not None else "no_live_code"
    if await _record_failure(conn, row, phone=phone, method=method, reason=reason, now=now):
        return Locked(rules.locked_message(now + rules.LOCK_DURATION))
    return Unauthenticated(rules.BAD_CODE)


async def login_with_code(conn: Conn, *, phone: str, code: str, now: datetime) -> SignedIn:
    async with conn.transaction():
        found = await _check_code(conn, phone=phone, code=code, purposes=[rules.CodePurpose.login],
                                  method="code", now=now)
        if isinstance(found, AccountRow):
            return await _start_session(conn, found, method="code", now=now)
    raise found


async def setup_password(conn: Conn, *, phone: str, code: str, new_password: str, now: datetime) -> SignedIn:
    """Set the password with a one-time code (first sign-in or reset), then sign in.

    Every other session of the account ends: whoever knew the old password is out.
    """
    problem = rules.password_problem(new_password)
    if problem is not None:
        raise InvalidInput(f"新密码 (new_password) 不符合要求: {problem}")
    async with conn.transaction():
        found = await _check_code(conn, phone=phone, code=code,
                                  purposes=[rules.CodePurpose.setup, rules.CodePurpose.login],
                                  method="password_setup", now=now)
        if isinstance(found, AccountRow):
            account_id: int = found.id
            await account_db.update_password(conn, account_id=account_id,
                                             password_hash=await hash_password(new_password), now=now)
            await session_db.revoke_account_sessions(conn, account_id=account_id, now=now, reason="password_set")
            await code_db.void_codes(conn, account_id=account_id, now=now)
            await _audit(conn, actor=_actor(found, account_id).audit_name, action="password_set",
                         account_id=account_id, after={"first": found.password_hash is None})
            return await _start_session(conn, found, method="password_setup", now=now)
    raise found


async def authenticate_session(conn: Conn, session_token: str, *, now: datetime) -> SessionActor:
    """The actor behind a session cookie; Unauthenticated when unknown, revoked, expired or disabled."""
    row = await session_db.select_session_by_hash(conn, token_hash=_sha256(session_token))
    if row is None or row.revoked_at is not None or row.disabled_at is not None:
        raise Unauthenticated(rules.SESSION_EXPIRED)
    if rules.session_expired(row.created_at, row.last_seen_at, now):
        raise Unauthenticated(rules.SESSION_EXPIRED)
    last_seen = row.last_seen_at
    if rules.session_needs_touch(last_seen, now):
        await session_db.touch_session(conn, session_id=row.id, now=now)
        last_seen = now
    return SessionActor(actor=_actor(row, row.account_id), session_id=row.id, csrf_hash=row.csrf_hash,
                        expires_at=rules.session_expires_at(row.created_at, last_seen))


def check_csrf(session: SessionActor, *, cookie: str | None, header: str | None) -> None:
    """Double submit: the header equals the cookie, and both are this session's CSRF token."""
    if not header or not cookie or not hmac.compare_digest(header, cookie):
        raise CsrfRejected(rules.CSRF_MISSING)
    if not hmac.compare_digest(_sha256(header), session.csrf_hash):
        raise CsrfRejected(rules.CSRF_MISSING)


async def sign_out(conn: Conn, session: SessionActor, *, now: datetime) -> None:
    async with conn.transaction():
        if await session_db.revoke_session(conn, session_id=session.session_id, now=now, reason="sign_out"):
            await _audit(conn, actor=session.actor.audit_name, action="sign_out",
                         account_id=session.actor.account_id, after={"session_id": session.session_id})
            log.info("signed_out", account_id=session.actor.account_id, session_id=session.session_id)


async def send_code_sms(conn: Conn, *, phone: str, code: str, purpose: rules.CodePurpose) -> bool:
    """Send a code through the city's SMS gateway (the channel members' reminders use); True when accepted.

    Sent directly, not through the outbox: the code must not rest in plaintext in a table, and a
    code that arrives after its 5 minutes is worthless, so a failed send is logged, not retried
    (the person asks for a new code).
    """
    endpoints = await endpoint_db.select_endpoints(conn, owner_kind=OwnerKind.city)
    gateway = next((e for e in endpoints if e.channel == Channel.sms.value and e.enabled), None)
    if gateway is None:
        log.warning("sign_in_code_not_sent", reason="no_sms_gateway")
        return False
    minutes = int(rules.code_ttl(purpose).total_seconds() // 60)
    if purpose is rules.CodePurpose.login:
        title, body = "登录验证码", f"您的验证码是 {code}, {minutes} 分钟内有效。如非本人操作请忽略。"
    else:
        title, body = "账号开通", (f"您的双报到平台账号已开通, 初始设置码 {code}, {minutes // 60} 小时内有效, "
                                   "请凭手机号和设置码登录并设置密码。")
    request = sms_gateway.render(phone=phone, template=f"sign_in_{purpose.value}", params={"code": code},
                                 text=sms_text(title, body))
    async with httpx.AsyncClient() as http:
        result = await sms_gateway.send(http, url=gateway.url, request=request,
                                        idempotency_key=f"sign-in-code:{secrets.token_hex(16)}",
                                        timeout=SMS_TIMEOUT_SECONDS)
    if not result.ok:
        log.warning("sign_in_code_send_failed", error=result.error, purpose=purpose.value)
    return result.ok
