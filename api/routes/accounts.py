"""Account administration: organization departments (and community staff, for their own staff)
create accounts for people, list them (phones masked per role) and disable them."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks

from api.deps import ActorDep, IdPath, Limit, NowDep, Offset, PoolDep
from db.pool import Pool
from domain.sign_in import CodePurpose
from schemas.account import (
    AccountCreate,
    AccountCreated,
    AccountView,
    RosterAccountsRequest,
    RosterAccountsResult,
)
from schemas.api import Page
from schemas.auth import Role
from services import accounts, sign_in

router = APIRouter(tags=["accounts 账号"])


@router.post("/accounts", response_model=AccountCreated, status_code=201, summary="开通账号")
async def create_account(pool: PoolDep, actor: ActorDep, now: NowDep, body: AccountCreate,
                         background: BackgroundTasks) -> AccountCreated:
    """The account has no password: its setup code is shown once here, or sent by SMS
    (`setup_code_delivery: sms`); the person sets a password at /auth/password/setup."""
    async with pool.acquire() as conn:
        created, to_send = await accounts.create_account(conn, actor, body, now=now)
    if to_send is not None:
        background.add_task(_send_setup_code, pool, body.phone, to_send)
    return created


async def _send_setup_code(pool: Pool, phone: str, code: str) -> None:
    async with pool.acquire() as conn:
        await sign_in.send_code_sms(conn, phone=phone, code=code, purpose=CodePurpose.setup)


@router.get("/accounts", response_model=Page[AccountView], summary="账号列表")
async def list_accounts(pool: PoolDep, actor: ActorDep, role: Role | None = None, limit: Limit = 50,
                        offset: Offset = 0) -> Page[AccountView]:
    async with pool.acquire() as conn:
        return await accounts.list_accounts(conn, actor, role=role, limit=limit, offset=offset)


@router.post("/accounts/{account_id}/disable", response_model=AccountView, summary="停用账号")
async def disable_account(pool: PoolDep, actor: ActorDep, now: NowDep, account_id: IdPath) -> AccountView:
    """Its sessions end at once; disabling twice is harmless."""
    async with pool.acquire() as conn:
        return await accounts.disable_account(conn, actor, account_id=account_id, now=now)


@router.post("/accounts/from-roster", response_model=RosterAccountsResult, summary="从名册批量开通账号")
async def accounts_from_roster(pool: PoolDep, actor: ActorDep, now: NowDep,
                               body: RosterAccountsRequest) -> RosterAccountsResult:
    """Members (their phone from the roster) or units' contact persons within the caller's scope."""
    async with pool.acquire() as conn:
        return await accounts.accounts_from_roster(conn, actor, kind=body.kind, now=now)
