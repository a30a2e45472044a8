"""CLI command: `worker`, a standalone worker process (scale out next to `up`, or in production)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer

from db.pool import open_pool
from schemas.settings import Settings
from stack.embedded import read_endpoints
from stack.temporal import StackStartError, connect_client
from telemetry.logging import configure_logging
from workers.main import run_worker


async def _serve(settings: Settings) -> None:
    endpoints = read_endpoints(settings.data_dir.resolve())
    database_url = settings.database_url or (endpoints.database_url if endpoints else None)
    temporal_address = settings.temporal_address or (endpoints.temporal_address if endpoints else None)
    if not database_url or not temporal_address:
        raise StackStartError(
            "找不到数据库或 Temporal (no servers found): 请设置 DATABASE_URL 和 TEMPORAL_ADDRESS, "
            f"或先在数据目录 {settings.data_dir} 上运行 `shuangbaodao up`"
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    client = await connect_client(temporal_address, namespace=settings.temporal_namespace)
    pool = await open_pool(database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
    try:
        await run_worker(settings, pool=pool, client=client, stop=stop)
    finally:
        await pool.close()


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root command."""

    @app.command()
    def worker(
        data_dir: Annotated[
            Path | None, typer.Option("--data-dir", help="`up` 的数据目录, 用于找到其服务")
        ] = None,
    ) -> None:
        """运行一个 worker 进程 (run a standalone worker; SIGTERM drains it gracefully)."""
        settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
        configure_logging(json=settings.log_json)
        try:
            asyncio.run(_serve(settings))
        except StackStartError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
