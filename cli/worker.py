"""CLI command: `worker`, a standalone worker process (scale out next to `up`, or in production)."""

from __future__ import annotations

import asyncio
import errno
import signal
from pathlib import Path
from typing import Annotated

import typer
from temporalio.client import Client

from cli.context import process_tracing
from db.pool import Pool, open_pool
from schemas.settings import Settings
from stack.embedded import read_endpoints
from stack.temporal import StackStartError, connect_client
from telemetry import metrics
from telemetry.health_server import database_ready, serve_worker_health, temporal_ready
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
    pool = await open_pool(database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max,
                       on_wait=metrics.observe_pool_wait)
    try:
        health = await _serve_health(settings, pool=pool, client=client)
        try:
            await run_worker(settings, pool=pool, client=client, stop=stop)
        finally:
            health.close()
            await health.wait_closed()
    finally:
        await pool.close()


async def _serve_health(settings: Settings, *, pool: Pool, client: Client) -> asyncio.AbstractServer:
    """/healthz, /readyz (Postgres and Temporal answer) and /metrics on `settings.metrics_port`."""

    async def ready() -> bool:
        return await database_ready(pool) and await temporal_ready(client)

    try:
        return await serve_worker_health(settings.metrics_port, ready)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise StackStartError(
            f"worker 健康检查端口 {settings.metrics_port} 已被占用 (port in use): "
            "同一台机器上的每个 worker 请用环境变量 SBD_METRICS_PORT 设置不同端口"
        ) from exc


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
        with process_tracing(settings, role="worker"):
            try:
                asyncio.run(_serve(settings))
            except StackStartError as exc:
                typer.echo(str(exc), err=True)
                raise typer.Exit(1) from None
