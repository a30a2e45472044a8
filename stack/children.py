"""The embedded servers as children of `up`: they die with it, they are found again after it died,
and they are started again when they die under it.

- Dying with `up`: every child `up` starts itself gets PR_SET_PDEATHSIG (SIGTERM) on Linux, so
  an `up` killed -9 (an out-of-memory kill, a closed terminal) does not leave a Temporal server
  or a worker behind. Postgres is started by `pg_ctl`, which detaches it, so a small guard child
  (`python -m stack.guard`) stands in for it: when `up` dies the guard gets SIGTERM and asks the
  postmaster for a fast shutdown.
- Found again: `up` records the pid and start time of each server in `data_dir/children.json`;
  a later `up` on the same data directory stops those still alive before it starts its own.
- Started again: `Respawning` watches a child process and starts it again when it exits while
  the stack is not stopping (a crash, an operator's kill -9), with a short backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import psutil
import structlog

log = structlog.get_logger(__name__)

CHILDREN_FILE = "children.json"
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: SIGTERM this child when the process that started it dies (Linux only)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _identity(pid: int) -> dict[str, Any] | None:
    try:
        proc = psutil.Process(pid)
        return {"pid": pid, "started": proc.create_time()}
    except psutil.Error:
        return None


def record_child(data_dir: Path, name: str, pid: int | None) -> None:
    """Remember (or, with pid None, forget) the server `name` started on this data directory."""
    path = data_dir / CHILDREN_FILE
    known: dict[str, Any] = {}
    if path.exists():
        with contextlib.suppress(ValueError):
            known = json.loads(path.read_text("utf-8"))
    if pid is None:
        known.pop(name, None)
    else:
        identity = _identity(pid)
        if identity is None:
            return
        known[name] = identity
    path.write_text(json.dumps(known, indent=2), "utf-8")


def stop_leftovers(data_dir: Path, *, grace: float = 10.0) -> list[str]:
    """Stop the servers a previous `up` on `data_dir` started and left running (it was killed);
    the names of those stopped. A recorded pid now used by another process is left alone."""
    path = data_dir / CHILDREN_FILE
    if not path.exists():
        return []
    try:
        known: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except ValueError:
        known = {}
    stopped = []
    for name, identity in known.items():
        try:
            proc = psutil.Process(int(identity["pid"]))
            if abs(proc.create_time() - float(identity["started"])) > 1.0:
                continue   # the pid was reused by an unrelated process
            proc.terminate()
            try:
                proc.wait(grace)
            except psutil.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            stopped.append(name)
            log.warning("leftover_server_stopped", server=name, pid=proc.pid)
        except (psutil.Error, KeyError, TypeError, ValueError):
            continue
    path.unlink(missing_ok=True)
    return stopped


async def start_guard(pgdata: Path) -> asyncio.subprocess.Process:
    """The guard that shuts the (detached) Postgres down if `up` dies."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "stack.guard", str(pgdata), stdin=asyncio.subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )


async def stop_guard(guard: asyncio.subprocess.Process) -> None:
    """Dismiss the guard without it acting (`up` is stopping Postgres itself)."""
    with contextlib.suppress(ProcessLookupError):
        guard.send_signal(signal.SIGUSR1)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(guard.wait(), timeout=5)
    if guard.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            guard.kill()
        await guard.wait()


def postmaster_pid(pgdata: Path) -> int | None:
    """The running postmaster's pid from `postmaster.pid`, or None when it is not running."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE else None


class Respawning:
    """Keep one child alive while the stack runs: `start()` launches it and returns the process;
    when it exits and `stopping` is not set, it is started again after a backoff (1 s doubling to
    30 s, reset after a minute of life). `on_restart` hears of each restart."""

    def __init__(self, name: str, start: Callable[[], Awaitable[Any]], *,
                 alive: Callable[[Any], Awaitable[None]], stopping: asyncio.Event) -> None:
        self.name = name
        self._start = start
        self._alive = alive
        self._stopping = stopping
        self.restarts = 0
        self.current: Any = None

    async def run(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            began = time.monotonic()
            gone = asyncio.ensure_future(self._alive(self.current))   # done when the child has gone
            stop = asyncio.ensure_future(self._stopping.wait())
            await asyncio.wait({gone, stop}, return_when=asyncio.FIRST_COMPLETED)
            for waiting in (gone, stop):
                waiting.cancel()
            if self._stopping.is_set():
                return
            lived = time.monotonic() - began
            backoff = 1.0 if lived > 60 else min(backoff * 2, 30.0)
            log.warning("child_exited_restarting", child=self.name, after_seconds=round(lived, 1),
                        backoff_seconds=backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=backoff if self.restarts else 0.5)
            if self._stopping.is_set():
                return
            try:
                self.current = await self._start()
                self.restarts += 1
                log.warning("child_restarted", child=self.name, restarts=self.restarts)
            except Exception as exc:
                log.error("child_restart_failed", child=self.name, error=repr(exc))


async def wait_process(process: asyncio.subprocess.Process | None) -> None:
    if process is not None:
        await process.wait()


async def wait_pid(pid: int | None, *, poll: float = 1.0) -> None:
    """Return when `pid` (not our child) is gone."""
    while pid is not None and psutil.pid_exists(pid):
        with contextlib.suppress(psutil.Error):
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        await asyncio.sleep(poll)


def worker_command(data_dir: Path) -> Sequence[str]:
    """A standalone worker on this stack's servers (it finds them through stack.json)."""
    return [sys.executable, "-m", "cli.main", "worker", "--data-dir", str(data_dir)]


async def start_worker_process(data_dir: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *worker_command(data_dir), stdin=asyncio.subprocess.DEVNULL, env={**os.environ, **env},
        preexec_fn=die_with_parent,
    )
