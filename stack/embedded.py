"""`shuangbaodao up`: Postgres, Temporal, migrations, the worker and the API in one process tree.

All state lives under one data directory (`postgres/`, `temporal/temporal.db`, `demo/`), so
stopping and starting again resumes with every record and every running workflow. Parts that
are configured from outside (`DATABASE_URL`, `TEMPORAL_ADDRESS`) are used instead of started.

Shutdown runs in the reverse order of startup: the API stops taking requests, the worker drains
its in-flight tasks, then Temporal and Postgres stop. Either signal (SIGINT, SIGTERM) does it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import structlog
from temporalio.client import Client

from api.app import create_app
from api.server import api_server
from db.migrate import migrate_database
from db.pool import Pool, open_pool
from schemas.settings import Settings
from stack.children import (
    Respawning,
    postmaster_pid,
    record_child,
    start_guard,
    start_worker_process,
    stop_guard,
    stop_leftovers,
    wait_pid,
    wait_process,
)
from stack.postgres import restart_embedded_postgres, start_embedded_postgres
from stack.temporal import (
    StackStartError,
    TemporalDevServer,
    connect_client,
    ensure_port_free,
    start_temporal_dev_server,
)
from telemetry import metrics
from workers.main import run_worker

log = structlog.get_logger(__name__)

ENDPOINTS_FILE = "stack.json"


@dataclass(frozen=True)
class DemoSeeded:
    """A demo step's lines to print, and what keeps running after them (the demo's task stream);
    the stack cancels `then` when it stops, before the API and the worker."""

    lines: list[str]
    then: Callable[[], Coroutine[Any, Any, None]] | None = None


# What the demo step receives: the pool, the client, the settings; it returns lines to print.
DemoStep = Callable[[Pool, Client, Settings], Coroutine[Any, Any, list[str] | DemoSeeded]]


@dataclass(frozen=True)
class StackEndpoints:
    """Where the running stack's servers are; written to `data_dir/stack.json` for other
    processes (`shuangbaodao worker`, tests) to find them."""

    database_url: str
    temporal_address: str
    temporal_ui_url: str | None
    api_url: str | None
    pid: int


def write_endpoints(data_dir: Path, endpoints: StackEndpoints) -> None:
    (data_dir / ENDPOINTS_FILE).write_text(json.dumps(asdict(endpoints), indent=2), "utf-8")


def read_endpoints(data_dir: Path) -> StackEndpoints | None:
    """The endpoints of the stack last started on `data_dir`, or None."""
    path = data_dir / ENDPOINTS_FILE
    if not path.exists():
        return None
    return StackEndpoints(**json.loads(path.read_text("utf-8")))


def redact_dsn(dsn: str) -> str:
    """The connection string without its password, fit to print."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _check_ports(settings: Settings) -> None:
    """Every port we will bind, checked before anything starts, so a clash costs nothing."""
    host = settings.api_host
    ensure_port_free(host, settings.api_port, what="API ", flag="--api-port", env="SBD_API_PORT")
    if settings.temporal_address is None:
        ensure_port_free(
            "127.0.0.1", settings.temporal_port, what="Temporal ", flag="--temporal-port",
            env="SBD_TEMPORAL_PORT",
        )
        ensure_port_free(
            "127.0.0.1", settings.temporal_ui_port, what="Temporal UI ", flag="--temporal-ui-port",
            env="SBD_TEMPORAL_UI_PORT",
        )


def prune_dead_postgres_handles(pgdata: Path) -> None:
    """Forget processes that died holding the embedded Postgres.

    `embedded-postgres` stops the server only when the last process that attached to it lets go,
    counted in `.handle_pids.json`; a holder that was killed never lets go, and every later `up`
    would then leave Postgres running after Ctrl-C. Dead holders are dropped before attaching.
    """
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = [int(p) for p in json.loads(handles.read_text("utf-8"))]
    except (ValueError, TypeError):
        pids = []
    alive = [pid for pid in pids if _alive(pid)]
    if alive != pids:
        log.info("postgres_stale_handles_dropped", dropped=len(pids) - len(alive))
        handles.write_text(json.dumps(alive), "utf-8")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _install_stop_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def run_stack(
    settings: Settings, *, demo: DemoStep | None = None, print_line: Callable[[str], None] = print
) -> None:
    """Run the whole stack until SIGINT/SIGTERM, then stop every part cleanly."""
    stop = asyncio.Event()
    _install_stop_handlers(stop)
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(stop_leftovers, data_dir)   # servers of an `up` that was killed
    _check_ports(settings)
    parts_stopping = asyncio.Event()   # set once the stack stops: nothing is restarted after
    watchers: list[Respawning] = []

    async with contextlib.AsyncExitStack() as parts:
        # Postgres
        if settings.database_url:
            database_url = settings.database_url
        else:
            await asyncio.to_thread(prune_dead_postgres_handles, data_dir / "postgres")
            pgdata = data_dir / "postgres"
            pg_server = await asyncio.to_thread(start_embedded_postgres, pgdata)
            parts.push_async_callback(asyncio.to_thread, pg_server.cleanup)
            guard = await start_guard(pgdata)   # shuts Postgres down if `up` dies
            parts.push_async_callback(stop_guard, guard)
            database_url = pg_server.get_uri()

            async def restart_postgres() -> int | None:
                await asyncio.to_thread(restart_embedded_postgres, pg_server)
                return postmaster_pid(pgdata)

            watchers.append(Respawning("postgres", restart_postgres, alive=wait_pid,
                                       stopping=parts_stopping))
            watchers[-1].current = postmaster_pid(pgdata)
        log.info("postgres_ready", database_url=redact_dsn(database_url))
        applied = await migrate_database(database_url)
        log.info("migrations_applied", count=len(applied))
        pool = await open_pool(database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max,
                           on_wait=metrics.observe_pool_wait)
        parts.push_async_callback(pool.close)

        # Temporal
        temporal: TemporalDevServer | None = None
        if settings.temporal_address:
            client = await connect_client(settings.temporal_address, namespace=settings.temporal_namespace)
            temporal_address = settings.temporal_address
        else:
            temporal, client = await start_temporal_dev_server(
                data_dir / "temporal", port=settings.temporal_port, ui_port=settings.temporal_ui_port,
                namespace=settings.temporal_namespace,
            )
            parts.push_async_callback(temporal.stop)
            temporal_address = temporal.address
            record_child(data_dir, "temporal", temporal.process.pid)
            server = temporal

            async def restart_temporal() -> asyncio.subprocess.Process:
                process = await server.respawn()
                record_child(data_dir, "temporal", process.pid)
                return process

            watchers.append(Respawning("temporal", restart_temporal, alive=wait_process,
                                       stopping=parts_stopping))
            watchers[-1].current = temporal.process

        # Worker: stopped (drained) before Temporal and the pool, which the exit stack closes.
        worker_stop = asyncio.Event()
        worker_task: asyncio.Task[Any]
        if settings.worker_processes:
            worker_task = asyncio.create_task(worker_stop.wait(), name="worker")   # they run apart
        else:
            worker_task = asyncio.create_task(
                run_worker(settings, pool=pool, client=client, stop=worker_stop), name="worker"
            )

        # API
        # The stack owns SIGINT/SIGTERM and stops every part in order; requests still running
        # when the API stops get the grace period, then are cancelled.
        api = api_server(create_app(pool=pool, temporal_client=client), settings, host=settings.api_host,
                         port=settings.api_port, access_log=False, lifespan="on")
        api_task = asyncio.create_task(api.serve(), name="api")
        api_url = f"http://{settings.api_host}:{settings.api_port}"

        endpoints = StackEndpoints(
            database_url=database_url,
            temporal_address=temporal_address,
            temporal_ui_url=temporal.ui_url if temporal else None,
            api_url=api_url,
            pid=os.getpid(),
        )
        write_endpoints(data_dir, endpoints)
        worker_processes = await _start_worker_processes(
            settings, data_dir, database_url=database_url, temporal_address=temporal_address,
            stopping=parts_stopping, watchers=watchers)
        watching = [asyncio.create_task(w.run(), name=f"respawn-{w.name}") for w in watchers]
        for line in summary_lines(endpoints, data_dir=data_dir):
            print_line(line)

        demo_task: asyncio.Task[Any] | None = None
        if demo is not None:
            demo_task = asyncio.create_task(demo(pool, client, settings), name="demo")

        stopping = asyncio.create_task(stop.wait())
        watched: set[asyncio.Task[Any]] = {stopping, worker_task}
        watched.add(api_task)
        if demo_task is not None:
            watched.add(demo_task)
        failure: BaseException | None = None
        while not stop.is_set():
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            if demo_task is not None and demo_task in done:
                watched.discard(demo_task)
                if demo_task.exception() is None:
                    seeded = demo_task.result()
                    if isinstance(seeded, DemoSeeded):
                        for line in seeded.lines:
                            print_line(line)
                        if seeded.then is not None:
                            # The demo goes on in the background, watched like the seeding was.
                            demo_task = asyncio.create_task(seeded.then(), name="demo-stream")
                            watched.add(demo_task)
                            continue
                    elif seeded is not None:
                        for line in seeded:
                            print_line(line)
                else:
                    # The demo is a showcase, not the system: report it and keep serving.
                    log.error("demo_failed", error=repr(demo_task.exception()))
                demo_task = None
                continue
            if stopping not in done:
                # The worker or the API ended by itself: stop everything and report why.
                for task in done:
                    failure = task.exception() if not task.cancelled() else None
                log.error("stack_part_exited", error=repr(failure))
                break

        log.info("stack_stopping")
        stopping.cancel()
        if demo_task is not None:
            # An interrupted demo resumes on the next `up --demo`: every step is idempotent.
            demo_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await demo_task
        api.should_exit = True
        await api_task
        parts_stopping.set()   # from here a part that exits is not started again
        await asyncio.gather(*watching)
        await _stop_worker_processes(worker_processes, grace=settings.graceful_shutdown_seconds)
        worker_stop.set()
        await worker_task
        # The exit stack now closes the pool, stops Temporal, then stops Postgres.
    (data_dir / ENDPOINTS_FILE).unlink(missing_ok=True)
    log.info("stack_stopped")
    if failure is not None:
        raise failure


async def _start_worker_processes(
    settings: Settings, data_dir: Path, *, database_url: str, temporal_address: str,
    stopping: asyncio.Event, watchers: list[Respawning],
) -> list[Respawning]:
    """`settings.worker_processes` standalone workers on this stack, each restarted if it dies."""
    started = []
    for i in range(settings.worker_processes):
        env = {"DATABASE_URL": database_url, "TEMPORAL_ADDRESS": temporal_address,
               "SBD_METRICS_PORT": str(settings.metrics_port + i)}

        async def start(env: dict[str, str] = env) -> asyncio.subprocess.Process:
            return await start_worker_process(data_dir, env)

        watcher = Respawning(f"worker-{i + 1}", start, alive=wait_process, stopping=stopping)
        watcher.current = await start()
        watchers.append(watcher)
        started.append(watcher)
    return started


async def _stop_worker_processes(workers: list[Respawning], *, grace: float) -> None:
    """SIGTERM each worker (it drains its in-flight tasks), SIGKILL after `grace` seconds."""
    processes = [w.current for w in workers if w.current is not None and w.current.returncode is None]
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
    for process in processes:
        try:
            await asyncio.wait_for(process.wait(), timeout=grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


def summary_lines(endpoints: StackEndpoints, *, data_dir: Path) -> list[str]:
    """The short bilingual summary printed once everything is up."""
    lines = ["", "双报到 已启动 / shuangbaodao is up"]
    if endpoints.api_url:
        lines.append(f"  控制台 console:         {endpoints.api_url}/admin")
        lines.append(f"  手机端 phone pages:     {endpoints.api_url}/m")
        lines.append(f"  接口文档 API docs:      {endpoints.api_url}/docs")
    if endpoints.temporal_ui_url:
        lines.append(f"  Temporal 界面 UI:       {endpoints.temporal_ui_url}")
    lines.append(f"  Temporal 地址 address:  {endpoints.temporal_address}")
    lines.append(f"  数据库 Postgres:        {redact_dsn(endpoints.database_url)}")
    lines.append(f"  数据目录 data dir:      {data_dir}")
    lines.append("  按 Ctrl-C 停止 / press Ctrl-C to stop")
    lines.append("")
    return lines


__all__ = [
    "DemoSeeded",
    "StackEndpoints",
    "StackStartError",
    "read_endpoints",
    "redact_dsn",
    "run_stack",
    "summary_lines",
    "write_endpoints",
]
