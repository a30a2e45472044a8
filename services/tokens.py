"""Bearer tokens: issue (plaintext shown once), revoke, authenticate.

Only the SHA-256 hash of a token is stored, so a leaked table grants nothing. A token carries a
role and a scope; the pairing is checked here so no token can claim a scope its role never has.
"""

from __future__ import annotations

import hashlib
import secrets

import structlog

from db import api_token, directory
from db.pool import Conn
from domain.errors import InvalidInput, NotFound, Unauthenticated
from schemas.auth import Actor, Role, ScopeKind
from schemas.directory import TokenInfo

log = structlog.get_logger(__name__)

TOKEN_PREFIX = "sbd_"

# Which scopes each role may hold: an organization department works for the city or a district,
# every other role for exactly one node of its own kind.
ROLE_SCOPES: dict[Role, frozenset[ScopeKind]] = {
    Role.org_department: frozenset({ScopeKind.city, ScopeKind.district}),
    Role.subdistrict: frozenset({ScopeKind.subdistrict}),
    Role.community_staff: frozenset({ScopeKind.community}),
    Role.unit_admin: frozenset({ScopeKind.unit}),
    Role.member: frozenset({ScopeKind.member}),
    Role.provider: frozenset({ScopeKind.provider}),
}

_SCOPE_LABELS = {
    ScopeKind.city: "全市",
    ScopeKind.district: "区",
    ScopeKind.subdistrict: "街道",
    ScopeKind.community: "社区",
    ScopeKind.unit: "报到单位",
    ScopeKind.member: "党员",
    ScopeKind.provider: "兑换商户",
}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_role_scope(role: Role, scope_kind: ScopeKind, scope_id: int | None, *, what: str = "令牌") -> None:
    """The role may hold this scope (a token or an account, named by `what` in the message)."""
    allowed = ROLE_SCOPES[role]
    if scope_kind not in allowed:
        names = "、".join(_SCOPE_LABELS[k] for k in sorted(allowed))
        raise InvalidInput(f"角色 {role.value} 的{what}范围只能是: {names}")
    if scope_kind is ScopeKind.city and scope_id is not None:
        raise InvalidInput(f"全市范围的{what}不应指定范围编号 (scope_id)")
    if scope_kind is not ScopeKind.city and scope_id is None:
        raise InvalidInput(f"请指定{_SCOPE_LABELS[scope_kind]}编号 (scope_id)")


async def issue_token(
    conn: Conn, *, role: Role, scope_kind: ScopeKind, scope_id: int | None, label: str
) -> tuple[int, str]:
    """Create a token; returns its id and the plaintext, which is never retrievable again."""
    label = label.strip()
    if not label:
        raise InvalidInput("请填写令牌说明 (label), 例如持有人姓名")
    check_role_scope(role, scope_kind, scope_id)
    if scope_id is not None and not await directory.scope_subject_exists(
        conn, scope_kind=scope_kind.value, scope_id=scope_id
    ):
        raise NotFound(f"{_SCOPE_LABELS[scope_kind]}编号 {scope_id} 不存在")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = await api_token.insert_api_token(
        conn,
        token_hash=hash_token(token),
        label=label,
        role=role.value,
        scope_kind=scope_kind.value,
        scope_id=scope_id,
    )
    log.info("token_issued", token_id=token_id, role=role.value, scope_kind=scope_kind.value,
             scope_id=scope_id)
    return token_id, token


async def revoke_token(conn: Conn, *, token_id: int) -> None:
    """Revoke; revoking an already revoked token is a no-op. Unknown id → NotFound."""
    revoked_at = await api_token.revoke_api_token(conn, token_id=token_id)
    if revoked_at is None:
        raise NotFound(f"令牌 {token_id} 不存在")
    log.info("token_revoked", token_id=token_id)


async def list_tokens(conn: Conn, *, include_revoked: bool = False) -> list[TokenInfo]:
    return await api_token.select_api_tokens(conn, include_revoked=include_revoked)


async def authenticate(conn: Conn, token: str) -> Actor:
    """The actor behind a bearer token; Unauthenticated when unknown or revoked."""
    row = await api_token.select_api_token_by_hash(conn, token_hash=hash_token(token))
    if row is None:
        raise Unauthenticated("访问令牌无效: 请检查令牌是否完整, 或联系管理员重新签发")
    if row.revoked_at is not None:
        raise Unauthenticated("访问令牌已被吊销: 请联系管理员重新签发")
    return Actor(role=row.role, scope_kind=row.scope_kind, scope_id=row.scope_id, label=row.label,
                 token_id=row.id)
