"""CLI commands for the points exchange 积分兑换: `exchange sweep`.

The sweep returns the points of redemptions whose code expired and that still wait to be collected
(their own timer was lost); the Temporal Schedule `exchange-redemption-sweep` runs it every 10
minutes, this command runs one now (after an outage) and waits for it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from cli.context import Runtime, run_job
from schemas.exchange_contract import SweepResult
from schemas.settings import Settings
from services import exchange

app = typer.Typer(help="积分兑换 (the points exchange)", no_args_is_help=True)


@app.command("sweep")
def sweep(
    grace_minutes: Annotated[float, typer.Option(min=0, max=10_080, help="兑换码过期多少分钟后仍未领取才处理")] = 10,
) -> None:
    """立即清理过期未领取的兑换并退回积分 (run the expiry sweep once now)."""
    settings = Settings()

    async def job(rt: Runtime) -> SweepResult:
        return await exchange.sweep_now(rt.client, task_queue=settings.task_queue,
                                        grace=timedelta(minutes=grace_minutes), now=datetime.now(UTC))

    result = run_job(job)
    typer.echo(f"过期未领取 {result.looked_at} 条: 本次过期 {result.expired}, 退回积分 {result.refunded}")


def register(root: typer.Typer) -> None:
    """Attach this module's commands to the root command."""
    root.add_typer(app, name="exchange")
