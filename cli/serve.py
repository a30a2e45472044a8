"""CLI commands for a production deployment: `migrate` (one-shot) and `api` (the HTTP front door).

Both read their servers from `DATABASE_URL` / `TEMPORAL_ADDRESS` (see docker-compose.yml); they
never start the embedded stack, because in a deployment a missing setting is a mistake to report,
not a laptop to boot.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from cli.context import process_tracing
from db.migrate import DatabaseAheadError, migrate_database
from schemas.settings import Settings
from telemetry.logging import configure_logging


async def _serve_api(settings: Settings, *, host: str, port: int) -> None:
    # Imported here: the app pulls in every route module, which `migrate` does not need.
    from api.app import create_app
    from api.server import api_server
    from cli.context import open_runtime

    async with open_runtime(settings) as (pool, client):
        server = api_server(create_app(pool=pool, temporal_client=client), settings, host=host, port=port,
                            proxy_headers=True)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Stop accepting, let in-flight requests finish (within the grace period), then close
            # the pool and exit 0.
            loop.add_signal_handler(sig, setattr, server, "should_exit", True)
        await server.serve()


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root command."""

    @app.command("migrate")
    def migrate_command() -> None:
        """应用数据库迁移 (apply pending migrations to DATABASE_URL, then exit)."""
        settings = Settings()
        configure_logging(json=settings.log_json)
        if not settings.database_url:
            typer.echo("未设置 DATABASE_URL: 请提供要迁移的数据库地址", err=True)
            raise typer.Exit(2)
        try:
            applied = asyncio.run(migrate_database(settings.database_url))
        except DatabaseAheadError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
        typer.echo(f"已应用 {len(applied)} 个迁移" + (f": {', '.join(applied)}" if applied else ""))

    @app.command("api")
    def api_command(
        host: Annotated[str | None, typer.Option("--host", help="监听地址 (默认 SBD_API_HOST)")] = None,
        port: Annotated[int | None, typer.Option("--port", help="监听端口 (默认 SBD_API_PORT)")] = None,
    ) -> None:
        """运行 HTTP API (serve the API on DATABASE_URL and TEMPORAL_ADDRESS)."""
        settings = Settings()
        configure_logging(json=settings.log_json)
        if not settings.database_url or not settings.temporal_address:
            typer.echo("未设置 DATABASE_URL 或 TEMPORAL_ADDRESS: API 需要外部数据库和 Temporal", err=True)
            raise typer.Exit(2)
        with process_tracing(settings, role="api"):
            asyncio.run(
                _serve_api(settings, host=host or settings.api_host, port=port or settings.api_port)
            )
