"""What a CLI command runs against: a pool and a Temporal client, from settings.

`DATABASE_URL` wins; otherwise the embedded Postgres under `<data_dir>/postgres` is attached (the
one `shuangbaodao up` runs) or started for the duration of the command. The Temporal client is
created lazily, so commands that only touch the database (tokens, listings) work without a
Temporal server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any, NamedTuple, TypeVar

import typer
from rich.console import Console
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from db.migrate import migrate_database
from db.pool import Conn, Pool, open_pool
from domain.errors import DomainError
from schemas.auth import SYSTEM_ACTOR, Actor
from schemas.settings import Settings
from services.tokens import authenticate
from stack.postgres import start_embedded_postgres
from telemetry.tracing import TracingUnavailable, configure_tracing, temporal_interceptors

T = TypeVar("T")

# A command that takes `--token` acts as the token's actor, so the API's scope rules apply.
TokenOption = Annotated[str | None, typer.Option("--token", help="以该令牌的身份操作 (默认: 系统)")]


@contextmanager
def process_tracing(settings: Settings, *, role: str) -> Iterator[None]:
    """Tracing for a long-running command (`up`, `worker`, `api`), shut down when it ends so the
    last spans leave before the process does; exit 1 when it is asked for but cannot start."""
    try:
        tracing = configure_tracing(settings, role=role)
    except TracingUnavailable as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    try:
        yield
    finally:
        if tracing is not None:
            tracing.shutdown()


class Runtime(NamedTuple):
    pool: Pool
    client: Client


def temporal_target(settings: Settings) -> str:
    return settings.temporal_address or f"localhost:{settings.temporal_port}"


async def _migrated_embedded_dsn(server: Any) -> str:
    dsn: str = server.get_uri()
    # The embedded database may be fresh (no `up` yet): bring its schema current first.
    # A configured DATABASE_URL is migrated by the `migrate` command instead.
    await migrate_database(dsn)
    return dsn


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Open the pool (and a lazy Temporal client); close them, and any Postgres we started, after."""
    server: Any = None
    if settings.database_url is None:
        # Attaches to a running embedded server; the handle's cleanup stops it only when no other
        # process (e.g. `shuangbaodao up`) still holds it.
        server = start_embedded_postgres((settings.data_dir / "postgres").resolve())
    try:
        dsn = settings.database_url or await _migrated_embedded_dsn(server)
        pool = await open_pool(dsn, min_size=1, max_size=settings.db_pool_max)
        try:
            client = await Client.connect(
                temporal_target(settings),
                namespace=settings.temporal_namespace,
                data_converter=pydantic_data_converter,
                interceptors=temporal_interceptors(),  # none unless the entrypoint turned tracing on
                lazy=True,
            )
            yield Runtime(pool, client)
        finally:
            await pool.close()
    finally:
        if server is not None:
            server.cleanup()


def run_job(job: Callable[[Runtime], Awaitable[T]]) -> T:
    """Run one command's job against a fresh runtime; a refusal prints its Chinese message and exits 1."""

    async def go() -> T:
        async with open_runtime(Settings()) as runtime:
            return await job(runtime)

    try:
        return asyncio.run(go())
    except DomainError as err:
        Console(stderr=True).print(f"[red]{err.message}[/red]")
        raise typer.Exit(1) from err


async def acting_actor(conn: Conn, token: str | None) -> Actor:
    """The actor behind `--token`, else the system actor (city organization department)."""
    return await authenticate(conn, token) if token else SYSTEM_ACTOR
