"""Accounts of people: made by an administrator or from the roster, listed, disabled.

An account carries a role and a scope exactly as a bearer token does (same pairing rules, see
services/tokens.py), so a person signed in sees and does what a token of that role and scope
would. Who may administer which accounts is the pure rule in domain/account_rules.py. An account
made without a password gets a one-time setup code (shown once to the administrator, or sent by
SMS); the person sets a password with it (services/sign_in.py). Phones are shown masked to
those not entitled to them (domain/privacy.py) and never logged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from db import account as account_db
from db import account_code as code_db
from db import account_session as session_db
from db import audit_log, directory
from db.account import AccountRow, PlacedAccountRow
from db.pool import Conn
from domain.account_rules import may_create_from_roster, may_list, may_manage
from domain.errors import Conflict, Forbidden, NotFound
from domain.pii import mask_phone
from domain.privacy import shown_phone
from domain.scope import HierarchyPath, allows, path_of, scope_filter
from schemas.account import (
    PHONE_PATTERN,
    AccountCreate,
    AccountCreated,
    AccountSource,
    AccountView,
    CodeDelivery,
    RosterAccountKind,
    RosterAccountsResult,
)
from schemas.api import Page
from schemas.auth import SYSTEM_ACTOR, Actor, Role, ScopeKind
from services import sign_in
from services.tokens import check_role_scope

log = structlog.get_logger(__name__)


def _view(actor: Actor, row: PlacedAccountRow) -> AccountView:
    return AccountView(
        id=row.id, phone=shown_phone(actor, path_of(row), row.phone), label=row.label,
        role=Role(row.role), scope_kind=ScopeKind(row.scope_kind), scope_id=row.scope_id,
        source=AccountSource(row.source), password_set=row.password_hash is not None,
        locked_until=row.locked_until, disabled_at=row.disabled_at, created_by=row.created_by,
        created_at=row.created_at,
    )


def _snapshot(row: AccountRow) -> dict[str, Any]:
    return {"label": row.label, "role": row.role, "scope_kind": row.scope_kind,
            "scope_id": row.scope_id, "source": row.source, "phone": mask_phone(row.phone),
            "disabled_at": row.disabled_at}


async def _target_path(conn: Conn, *, scope_kind: ScopeKind, scope_id: int | None) -> HierarchyPath:
    if scope_kind is ScopeKind.city or scope_id is None:
        return HierarchyPath()
    if not await directory.scope_subject_exists(conn, scope_kind=scope_kind.value, scope_id=scope_id):
        raise NotFound(f"范围编号 {scope_id} ({scope_kind.value}) 不存在")
    return await directory.select_scope_path(conn, scope_kind=scope_kind.value, scope_id=scope_id)


async def create_account(
    conn: Conn, actor: Actor, data: AccountCreate, *, now: datetime
) -> tuple[AccountCreated, str | None]:
    """The new account (its setup code shown when asked), and the code to send by SMS, if any."""
    check_role_scope(data.role, data.scope_kind, data.scope_id, what="账号")
    refused = Forbidden("您无权在该范围创建此角色的账号: 组织部可在本辖区内创建, 社区只能创建本社区工作人员账号")
    try:
        path = await _target_path(conn, scope_kind=data.scope_kind, scope_id=data.scope_id)
    except NotFound:   # a missing scope is answered as a foreign one: the ids confirm nothing
        raise refused from None
    if not may_manage(actor, role=data.role, scope_kind=data.scope_kind, scope_id=data.scope_id, path=path):
        raise Forbidden("您无权在该范围创建此角色的账号: 组织部可在本辖区内创建, 社区只能创建本社区工作人员账号")
    async with conn.transaction():
        row = await account_db.insert_account(
            conn, phone=data.phone, label=data.label, role=data.role.value, scope_kind=data.scope_kind.value,
            scope_id=data.scope_id, source=AccountSource.admin.value, created_by=actor.audit_name,
            password_hash=None, now=now,
        )
        if row is None:
            raise Conflict("该手机号已开通账号 (phone)")
        code, expires_at = await sign_in.issue_setup_code(conn, account_id=row.id, now=now)
        await audit_log.insert_audit_entries(
            conn, actor=actor.audit_name, action="account_created", subject_kind="account",
            subject_ids=[row.id], befores=[None], afters=[_snapshot(row)],
        )
    log.info("account_created", account_id=row.id, role=data.role.value, scope_kind=data.scope_kind.value,
             scope_id=data.scope_id, setup_code_delivery=data.setup_code_delivery.value)
    by_sms = data.setup_code_delivery is CodeDelivery.sms
    created = AccountCreated(account=_view(actor, row), setup_code=None if by_sms else code,
                             setup_code_expires_at=expires_at)
    return created, code if by_sms else None


async def list_accounts(
    conn: Conn, actor: Actor, *, role: Role | None, limit: int, offset: int
) -> Page[AccountView]:
    if not may_list(actor):
        raise Forbidden("只有组织部、街道和社区可以查看账号")
    rows, total = await account_db.select_accounts(
        conn, scope=scope_filter(actor), role=None if role is None else role.value, limit=limit, offset=offset,
    )
    return Page(items=[_view(actor, r) for r in rows], total=total, limit=limit, offset=offset)


async def disable_account(conn: Conn, actor: Actor, *, account_id: int, now: datetime) -> AccountView:
    """Disable an account: its sessions end now and its open codes are void. Idempotent."""
    async with conn.transaction():
        row = await account_db.select_account(conn, account_id=account_id)
        if row is None or not may_list(actor) or not allows(actor, path_of(row)):
            raise NotFound(f"账号 {account_id} 不存在")
        if not may_manage(actor, role=Role(row.role), scope_kind=ScopeKind(row.scope_kind),
                          scope_id=row.scope_id, path=path_of(row)):
            raise Forbidden("您无权停用该账号")
        if actor.account_id == account_id:
            raise Conflict("不能停用自己正在使用的账号")
        if row.disabled_at is None:
            await account_db.disable_account(conn, account_id=account_id, now=now)
            ended = await session_db.revoke_account_sessions(conn, account_id=account_id, now=now,
                                                             reason="account_disabled")
            await code_db.void_codes(conn, account_id=account_id, now=now)
            after = await account_db.select_account(conn, account_id=account_id)
            assert after is not None
            await audit_log.insert_audit_entries(
                conn, actor=actor.audit_name, action="account_disabled", subject_kind="account",
                subject_ids=[account_id], befores=[_snapshot(row)], afters=[{**_snapshot(after),
                                                                             "sessions_ended": ended}],
            )
            log.info("account_disabled", account_id=account_id, sessions_ended=ended)
            row = after
    return _view(actor, row)


async def accounts_from_roster(
    conn: Conn, actor: Actor, *, kind: RosterAccountKind, now: datetime
) -> RosterAccountsResult:
    """Accounts for the roster's members (role member) or units' contacts (role unit_admin) in scope.

    Set-based and idempotent: people who already have an account, or whose phone signs in to
    another account, are passed over. The accounts have no password: people sign in with an SMS
    code and set one.
    """
    if not may_create_from_roster(actor):
        raise Forbidden("只有组织部可以从名册批量开通账号")
    insert = (account_db.insert_member_accounts if kind is RosterAccountKind.members
              else account_db.insert_unit_contact_accounts)
    async with conn.transaction():
        ids, skipped = await insert(conn, scope=scope_filter(actor), created_by=actor.audit_name, now=now,
                                    phone_pattern=PHONE_PATTERN)
        source = "roster_member" if kind is RosterAccountKind.members else "roster_unit"
        await audit_log.insert_audit_entries(
            conn, actor=actor.audit_name, action="account_created", subject_kind="account", subject_ids=ids,
            befores=[None] * len(ids), afters=[{"source": source}] * len(ids),
        )
    log.info("accounts_from_roster", kind=kind.value, created=len(ids), skipped=skipped)
    return RosterAccountsResult(created=len(ids), skipped=skipped)


async def ensure_account_with_password(
    conn: Conn, *, phone: str, label: str, role: Role, scope_kind: ScopeKind, scope_id: int | None,
    password: str, source: AccountSource, now: datetime,
) -> int:
    """An account that signs in with this phone and password (the demo's): made when missing, its
    password put back when it no longer matches. Returns its id."""
    check_role_scope(role, scope_kind, scope_id, what="账号")
    async with conn.transaction():
        row = await account_db.select_account_by_phone(conn, phone=phone, for_update=True)
        if row is None:
            row = await account_db.insert_account(
                conn, phone=phone, label=label, role=role.value, scope_kind=scope_kind.value, scope_id=scope_id,
                source=source.value, created_by=SYSTEM_ACTOR.audit_name,
                password_hash=await sign_in.hash_password(password), now=now,
            )
            assert row is not None  # the phone had no account just above (one demo seeder runs at a time)
            await audit_log.insert_audit_entries(
                conn, actor=SYSTEM_ACTOR.audit_name, action="account_created", subject_kind="account",
                subject_ids=[row.id], befores=[None], afters=[_snapshot(row)],
            )
        elif not await sign_in.password_matches(row.password_hash, password):
            await account_db.update_password(conn, account_id=row.id,
                                             password_hash=await sign_in.hash_password(password), now=now)
    return row.id
