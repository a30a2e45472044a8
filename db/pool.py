"""The asyncpg pool. Opened only by entrypoints and tests, never at import time."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# What every query function takes first: a plain connection or one borrowed from the pool.
Conn: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"
Pool: TypeAlias = "asyncpg.Pool[Any]"


async def _init_connection(conn: asyncpg.Connection[Any]) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


# How many pooled connections the running task holds right now (acquired, not yet released).
_held: ContextVar[int] = ContextVar("pool_connections_held", default=0)


def connections_held() -> int:
    """Pooled connections the calling task holds: anything that waits on another service (Temporal)
    should see 0 here, or it keeps a connection idle that others may be queueing for."""
    return _held.get()


class _MeasuredPool(asyncpg.Pool):
    """asyncpg's pool, which also reports how long each acquire waited for a connection (queueing
    behind a full pool, or opening a new connection) and keeps count of the connections a task holds."""

    def __init__(self, *args: Any, on_wait: Callable[[float], None] | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_wait = on_wait

    async def _acquire(self, timeout: float | None) -> PoolConnectionProxy[Any]:
        began = time.perf_counter()
        conn: PoolConnectionProxy[Any] = await super()._acquire(timeout)  # type: ignore[misc]
        if self._on_wait is not None:
            self._on_wait(time.perf_counter() - began)
        _held.set(_held.get() + 1)
        return conn

    async def release(self, connection: Any, *, timeout: float | None = None) -> None:
        _held.set(max(0, _held.get() - 1))
        await super().release(connection, timeout=timeout)


async def open_pool(dsn: str, *, min_size: int = 2, max_size: int = 10,
                    on_wait: Callable[[float], None] | None = None) -> Pool:
    """A pool of `min_size`..`max_size` connections; `on_wait(seconds)` hears every acquire's wait
    (entrypoints pass telemetry's histogram)."""
    pool: Pool = await _MeasuredPool(
        dsn, min_size=min_size, max_size=max_size, max_queries=50000, max_inactive_connection_lifetime=300.0,
        connect=None, setup=None, init=_init_connection, reset=None, loop=None,
        connection_class=asyncpg.Connection, record_class=asyncpg.Record, on_wait=on_wait,
    )
    return pool


async def connect(dsn: str) -> asyncpg.Connection[Any]:
    conn: asyncpg.Connection[Any] = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


@asynccontextmanager
async def custom_plans(conn: Conn) -> AsyncIterator[None]:
    """Plan the statements inside for each call's own parameters. A read with optional filters
    (`$1 IS NULL OR ...`) is a prepared statement; after five calls Postgres may switch it to one
    generic plan, which cannot drop the filters not given nor use the index of the ones given."""
    async with conn.transaction():
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        yield


# Tables a bulk write of history touches; ANALYZE names only these (never text from a caller).
_ANALYZABLE = frozenset({"need", "task", "task_event", "offer", "assignment", "resident_rating",
                         "evaluation_points", "member_registration", "registration_event",
                         "service_record"})


async def analyze(conn: Conn, tables: Sequence[str]) -> None:
    """Refresh the planner's statistics of `tables` right after a bulk write: until autovacuum
    gets to them the planner still sees the tables as nearly empty and may pick nested loops
    that take minutes on the new rows."""
    unknown = set(tables) - _ANALYZABLE
    if unknown:
        raise ValueError(f"not analyzable here: {sorted(unknown)}")
    await conn.execute("ANALYZE " + ", ".join(sorted(set(tables))))


async def fetch_custom_plan(conn: Conn, query: str, *args: object) -> list[asyncpg.Record]:
    """`conn.fetch`, planned for these very arguments every time (SET LOCAL plan_cache_mode =
    force_custom_plan), never with the cached statement's generic plan: for the dashboard reads
    whose filters are optional parameters and whose level picks the grouping, where a generic
    plan guesses the sizes and nests per-row lookups (measured 3x slower over 10,000 communities)."""
    async with custom_plans(conn):
        rows: list[asyncpg.Record] = await conn.fetch(query, *args)
    return rows
