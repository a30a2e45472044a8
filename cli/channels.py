"""CLI commands: `channel add|list|disable`, the group robots and the SMS gateway notifications go
to, and `channel kick`, which starts the delivery dispatcher (or wakes it).

`list` never prints a robot's key, token or signing secret.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.context import open_runtime
from db import channel_endpoint as endpoint_db
from domain.errors import DomainError
from schemas.delivery import Channel, ChannelEndpointInput, ChannelEndpointView, OwnerKind
from schemas.settings import Settings
from services import delivery

channel_app = typer.Typer(help="消息渠道: 企业微信/钉钉群机器人、短信网关 (notification endpoints)",
                          no_args_is_help=True)


async def _add(data: ChannelEndpointInput) -> ChannelEndpointView:
    async with open_runtime(Settings()) as runtime, runtime.pool.acquire() as conn:
        return await delivery.add_endpoint(conn, data)


async def _list(owner_kind: OwnerKind | None, owner_id: int | None) -> list[ChannelEndpointView]:
    async with open_runtime(Settings()) as runtime, runtime.pool.acquire() as conn:
        return await delivery.list_endpoints(conn, owner_kind=owner_kind, owner_id=owner_id)


async def _set_enabled(endpoint_id: int, enabled: bool) -> bool:
    async with open_runtime(Settings()) as runtime, runtime.pool.acquire() as conn:
        return await endpoint_db.set_enabled(conn, endpoint_id=endpoint_id, enabled=enabled)


@channel_app.command("add")
def add(
    owner_kind: Annotated[OwnerKind, typer.Option(help="所属: unit / community / subdistrict / city ...")],
    channel: Annotated[Channel, typer.Option(help="wecom / dingtalk / sms")],
    url: Annotated[str, typer.Option(help="Webhook 地址 (含 key / access_token)")],
    owner_id: Annotated[int | None, typer.Option(min=1, help="所属单位/社区的编号 (短信网关不填)")] = None,
    secret: Annotated[str | None, typer.Option(help="钉钉加签密钥")] = None,
    mention: Annotated[list[str] | None, typer.Option(help="群内 @ 的手机号, 可重复")] = None,
    rate_per_minute: Annotated[
        int | None, typer.Option(min=1, help="每分钟最多发送条数 (默认: 群机器人 20, 短信网关 600)")
    ] = None,
) -> None:
    """添加或替换一个消息端点 (add or replace an endpoint)."""
    try:
        data = ChannelEndpointInput(
            owner_kind=owner_kind, owner_id=owner_id, channel=channel, url=url, secret=secret,
            mentioned_mobiles=mention or [], rate_per_minute=rate_per_minute,
        )
        view = asyncio.run(_add(data))
    except DomainError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    owner = view.owner_kind.value + ("" if view.owner_id is None else f":{view.owner_id}")
    typer.echo(f"端点 {view.id} 已保存 ({view.channel.value} @ {owner}, {view.url_masked})")


@channel_app.command("list")
def list_command(
    owner_kind: Annotated[OwnerKind | None, typer.Option(help="所属类型")] = None,
    owner_id: Annotated[int | None, typer.Option(min=1, help="所属编号")] = None,
) -> None:
    """列出消息端点 (keys, tokens and secrets are masked)."""
    rows = asyncio.run(_list(owner_kind, owner_id))
    table = Table("编号", "所属", "渠道", "地址", "加签", "@人数", "限速/分钟", "启用")
    for e in rows:
        owner = e.owner_kind.value + ("" if e.owner_id is None else f":{e.owner_id}")
        table.add_row(str(e.id), owner, e.channel.value, e.url_masked, "是" if e.has_secret else "",
                      str(e.mentioned_count), str(e.rate_per_minute), "是" if e.enabled else "否")
    Console().print(table)


@channel_app.command("disable")
def disable(endpoint_id: Annotated[int, typer.Argument(min=1, help="端点编号")]) -> None:
    """停用一个端点 (its queued deliveries fail as dead: nowhere to send)."""
    if not asyncio.run(_set_enabled(endpoint_id, False)):
        typer.echo(f"端点 {endpoint_id} 不存在", err=True)
        raise typer.Exit(1)
    typer.echo(f"端点 {endpoint_id} 已停用")


async def _kick() -> None:
    settings = Settings()
    async with open_runtime(settings) as runtime:
        await delivery.kick_dispatcher(runtime.client, settings.task_queue, reason="cli")


@channel_app.command("kick")
def kick() -> None:
    """启动或唤醒消息发送调度 (start the delivery dispatcher if needed, and send what is due now)."""
    asyncio.run(_kick())
    typer.echo("消息发送调度已唤醒")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root command."""
    app.add_typer(channel_app, name="channel")
