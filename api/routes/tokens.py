"""Token administration over the API: city organization departments issue, list and revoke."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ActorDep, IdPath, PoolDep
from domain.errors import Forbidden
from schemas.auth import Actor, Role, ScopeKind
from schemas.directory import IssuedToken, IssueTokenRequest, TokenInfo
from services import tokens

router = APIRouter(tags=["tokens 令牌"])


def _require_city_org(actor: Actor) -> None:
    # A district org department could otherwise mint a city-wide token for itself.
    if actor.role is not Role.org_department or actor.scope_kind is not ScopeKind.city:
        raise Forbidden("只有市委组织部可以管理访问令牌")


@router.post("/tokens", response_model=IssuedToken, status_code=201, summary="签发令牌")
async def issue_token(pool: PoolDep, actor: ActorDep, body: IssueTokenRequest) -> IssuedToken:
    _require_city_org(actor)
    async with pool.acquire() as conn:
        token_id, token = await tokens.issue_token(
            conn, role=body.role, scope_kind=body.scope_kind, scope_id=body.scope_id,
            label=body.label,
        )
    return IssuedToken(id=token_id, token=token)


@router.get("/tokens", response_model=list[TokenInfo], summary="令牌列表")
async def list_tokens(pool: PoolDep, actor: ActorDep, include_revoked: bool = False) -> list[TokenInfo]:
    _require_city_org(actor)
    async with pool.acquire() as conn:
        return await tokens.list_tokens(conn, include_revoked=include_revoked)


@router.post("/tokens/{token_id}/revoke", status_code=204, summary="吊销令牌")
async def revoke_token(pool: PoolDep, actor: ActorDep, token_id: IdPath) -> None:
    _require_city_org(actor)
    async with pool.acquire() as conn:
        await tokens.revoke_token(conn, token_id=token_id)
