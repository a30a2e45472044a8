"""CLI commands: `token issue|revoke|list`, bearer tokens for the API.

The plaintext of a token is printed once, by `issue`; nothing else ever shows it or its hash.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.context import open_runtime
from domain.errors import DomainError
from schemas.auth import Role, ScopeKind
from schemas.directory import TokenInfo
from schemas.settings import Settings
from services import tokens

token_app = typer.Typer(help="访问令牌: 签发、吊销、列出 (API bearer tokens)", no_args_is_help=True)

IdOption = Annotated[int | None, typer.Option(min=1)]


def resolve_scope(
    *,
    role: Role,
    scope_kind: ScopeKind | None,
    scope_id: int | None,
    shortcuts: dict[ScopeKind, int | None],
) -> tuple[ScopeKind, int | None]:
    """The scope from `--community 12`-style shortcuts or `--scope-kind/--scope-id`.

    An organization department with no scope given works for the whole city.
    """
    given: list[tuple[ScopeKind, int | None]] = [
        (kind, sid) for kind, sid in shortcuts.items() if sid is not None
    ]
    if scope_kind is not None:
        given.append((scope_kind, scope_id))
    if len(given) > 1:
        raise typer.BadParameter("只能指定一个范围 (one scope only)")
    if given:
        return given[0]
    if role is Role.org_department:
        return ScopeKind.city, None
    raise typer.BadParameter("请指定范围, 例如 --community 12 (a scope is required for this role)")


async def _issue(role: Role, kind: ScopeKind, scope_id: int | None, label: str) -> tuple[int, str]:
    async with open_runtime(Settings()) as runtime, runtime.pool.acquire() as conn:
        return await tokens.issue_token(conn, role=role, scope_kind=kind, scope_id=scope_id, label=label)


async def _revoke(token_id: int) -> None:
    async with open_runtime(Settings()) as runtime, runtime.pool.acquire() as conn:
        await tokens.revoke_token(conn, token_id=token_id)


async def _list(include_revoked: bool) -> list[TokenInfo]:
    async with open_runtime(Settings()) as runtime, runtime.pool.acquire() as conn:
        return await tokens.list_tokens(conn, include_revoked=include_revoked)


@token_app.command("issue")
def issue(
    role: Annotated[Role, typer.Option(help="角色")],
    label: Annotated[str, typer.Option(help="说明, 例如持有人姓名")],
    city: Annotated[bool, typer.Option("--city", help="全市范围 (仅组织部)")] = False,
    district: IdOption = None,
    subdistrict: IdOption = None,
    community: IdOption = None,
    unit: IdOption = None,
    member: IdOption = None,
    scope_kind: Annotated[ScopeKind | None, typer.Option(help="范围类型")] = None,
    scope_id: IdOption = None,
) -> None:
    """签发令牌 (issue a token; the plaintext is printed once and cannot be shown again)."""
    kind, sid = resolve_scope(
        role=role,
        scope_kind=ScopeKind.city if city else scope_kind,
        scope_id=scope_id,
        shortcuts={
            ScopeKind.district: district, ScopeKind.subdistrict: subdistrict,
            ScopeKind.community: community, ScopeKind.unit: unit, ScopeKind.member: member,
        },
    )
    try:
        token_id, token = asyncio.run(_issue(role, kind, sid, label))
    except DomainError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"令牌 {token_id} 已签发 ({role.value} @ {kind.value}{'' if sid is None else ':' + str(sid)})")
    typer.echo("请妥善保存, 此令牌只显示这一次:")
    typer.echo(token)


@token_app.command("revoke")
def revoke(token_id: Annotated[int, typer.Argument(min=1, help="令牌编号")]) -> None:
    """吊销令牌 (revoke a token by id)."""
    try:
        asyncio.run(_revoke(token_id))
    except DomainError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"令牌 {token_id} 已吊销")


@token_app.command("list")
def list_command(
    include_revoked: Annotated[bool, typer.Option("--all", help="包括已吊销的令牌")] = False,
) -> None:
    """列出令牌 (list tokens; never shows a token or its hash)."""
    rows = asyncio.run(_list(include_revoked))
    table = Table("编号", "说明", "角色", "范围", "签发时间", "吊销时间")
    for t in rows:
        scope = t.scope_kind.value + ("" if t.scope_id is None else f":{t.scope_id}")
        table.add_row(
            str(t.id), t.label, t.role.value, scope, f"{t.created_at:%Y-%m-%d %H:%M}",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "",
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root command."""
    app.add_typer(token_app, name="token")
