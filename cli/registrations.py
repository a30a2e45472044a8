"""CLI commands: `registration confirm|reject|transfer|pause|withdraw` (个人报到的处理).

The CLI acts as the system actor (city organization department), or as the actor behind
`--token`, so the same scope rules as the API apply. A refusal prints the Chinese message and
exits 1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated

import typer
from rich.console import Console
from temporalio.client import Client

from cli import units
from cli.context import TokenOption, acting_actor, open_runtime
from db.pool import Conn
from domain.errors import DomainError
from schemas.auth import Actor
from schemas.registration import MemberRegistrationOut
from schemas.settings import Settings
from services import registration as members

registration_app = typer.Typer(help="个人报到: 确认、退回、转移、暂停、退出 (member registrations)",
                               no_args_is_help=True)

ReasonOption = Annotated[str | None, typer.Option("--reason", help="原因")]

Action = Callable[[Conn, Actor, Client, str], Awaitable[list[MemberRegistrationOut]]]


def _run(action: Action, token: str | None) -> None:
    async def go() -> list[MemberRegistrationOut]:
        settings = Settings()
        async with open_runtime(settings) as runtime, runtime.pool.acquire() as conn:
            actor = await acting_actor(conn, token)
            return await action(conn, actor, runtime.client, settings.task_queue)

    console = Console()
    try:
        rows = asyncio.run(go())
    except DomainError as error:
        console.print(f"[red]{error.message}[/red]")
        raise typer.Exit(1) from error
    for row in rows:
        grid = f" 网格 {row.grid_id}" if row.grid_id else ""
        console.print(f"报到 {row.id}: 党员 {row.member_id} 社区 {row.community_id}{grid} 状态 {row.status.value}")


def _change(step: Callable[..., Awaitable[MemberRegistrationOut]], registration_id: int, reason: str | None,
            token: str | None) -> None:
    """Pause or withdraw one registration (`step`: the service's members.pause or members.withdraw)."""

    async def action(conn: Conn, actor: Actor, client: Client, task_queue: str) -> list[MemberRegistrationOut]:
        del task_queue
        return [await step(conn, actor, registration_id, reason=reason, client=client)]

    _run(action, token)


@registration_app.command("confirm")
def confirm(ids: list[int], grid: Annotated[int | None, typer.Option(help="统一编入的网格")] = None,
            token: TokenOption = None) -> None:
    """确认报到 (可批量), 编入居住网格或 --grid 指定的网格."""

    async def action(conn: Conn, actor: Actor, client: Client, task_queue: str) -> list[MemberRegistrationOut]:
        del task_queue
        return await members.confirm_registrations(conn, actor, ids, grid_override=grid, client=client)

    _run(action, token)


@registration_app.command("reject")
def reject(ids: list[int], reason: Annotated[str, typer.Option("--reason", help="退回原因 (必填)")],
           token: TokenOption = None) -> None:
    """退回报到 (可批量, 须填原因)."""

    async def action(conn: Conn, actor: Actor, client: Client, task_queue: str) -> list[MemberRegistrationOut]:
        del task_queue
        return await members.reject_registrations(conn, actor, ids, reason, client=client)

    _run(action, token)


@registration_app.command("transfer")
def transfer(member_id: int, to_community: Annotated[int, typer.Option(help="转入社区")],
             to_grid: Annotated[int | None, typer.Option(help="转入网格")] = None,
             token: TokenOption = None) -> None:
    """党员转移到新的居住社区: 原报到转出, 在新社区重新提交."""

    async def action(conn: Conn, actor: Actor, client: Client, task_queue: str) -> list[MemberRegistrationOut]:
        return [await members.transfer_member(conn, actor, member_id, to_community, to_grid,
                                              client=client, task_queue=task_queue)]

    _run(action, token)


@registration_app.command("pause")
def pause(registration_id: int, reason: ReasonOption = None, token: TokenOption = None) -> None:
    """暂停报到 (如外派、病休)."""
    _change(members.pause, registration_id, reason, token)


@registration_app.command("withdraw")
def withdraw(registration_id: int, reason: ReasonOption = None, token: TokenOption = None) -> None:
    """退出报到."""
    _change(members.withdraw, registration_id, reason, token)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root command."""
    app.add_typer(registration_app, name="registration")
    units.register(app, registration_app)  # unit transfers 转单位 and the certificate 报到证
