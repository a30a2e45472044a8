"""`shuangbaodao up` as a newcomer runs it: starts, stops cleanly on SIGTERM, resumes intact."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowExecutionStatus

from db.pool import Pool
from schemas.settings import Settings
from tests.conftest import env_without_settings
from workers.main import run_worker

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT = 45.0
STOP_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _clean_env() -> dict[str, str]:
    """The environment without any setting that would point `up` at other servers."""
    return env_without_settings()


def _dead_pid() -> int:
    """A process id no process has right now."""
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


def _tail(log: Path) -> str:
    return log.read_text("utf-8", errors="replace")[-2000:]


def _up_args(data_dir: Path, ports: dict[str, int], *extra: str) -> list[str]:
    return [
        str(Path(sys.executable).parent / "shuangbaodao"), "up",
        "--data-dir", str(data_dir),
        "--api-port", str(ports["api"]),
        "--temporal-port", str(ports["temporal"]),
        "--temporal-ui-port", str(ports["ui"]),
        *extra,
    ]


def _demo_output(log: Path) -> str:
    """The demo's printed report of the latest start, or '' while it is still seeding."""
    text = log.read_text("utf-8", errors="replace")
    latest = text.rsplit("shuangbaodao is up", 1)[-1]
    return latest if "演示令牌" in latest and "member " in latest else ""


async def _start(
    data_dir: Path, ports: dict[str, int], log: Path, *extra: str
) -> tuple[asyncio.subprocess.Process, dict[str, Any]]:
    """Start `up` and wait until it has written its endpoints (everything is up)."""
    endpoints_file = data_dir / "stack.json"
    endpoints_file.unlink(missing_ok=True)
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            *_up_args(data_dir, ports, *extra), stdout=out, stderr=out, env=_clean_env(), cwd=REPO
        )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    try:
        while not endpoints_file.exists():
            assert proc.returncode is None, f"up exited early: {_tail(log)}"
            assert loop.time() < deadline, f"up not ready in time: {_tail(log)}"
            await asyncio.sleep(0.25)
    except BaseException:
        if proc.returncode is None:   # a test that gave up must not leave a stack behind
            proc.kill()
            await proc.wait()
        raise
    endpoints: dict[str, Any] = json.loads(endpoints_file.read_text("utf-8"))
    if endpoints["api_url"]:
        async with httpx.AsyncClient() as http:
            while True:
                try:
                    if (await http.get(endpoints["api_url"] + "/docs")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert loop.time() < deadline, "API did not answer in time"
                await asyncio.sleep(0.25)
    return proc, endpoints


async def _stop(proc: asyncio.subprocess.Process) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(proc.wait(), timeout=STOP_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise


async def _wait_for_demo(proc: asyncio.subprocess.Process, log: Path) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    while not (report := _demo_output(log)):
        assert proc.returncode is None, _tail(log)
        assert loop.time() < deadline, f"demo not done in time: {_tail(log)}"
        await asyncio.sleep(0.25)
    return report


async def _count(database_url: str, table: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        queries = {
            "member": "SELECT count(*) FROM member",
            "member_registration": "SELECT count(*) FROM member_registration",
            "registration_cohort": "SELECT count(*) FROM registration_cohort",
            "unit_registration": "SELECT count(*) FROM unit_registration",
        }
        count: int = await conn.fetchval(queries[table])
        return count
    finally:
        await conn.close()


async def test_sigterm_stops_cleanly_and_restart_keeps_records_and_workflows(tmp_path: Path) -> None:
    """After SIGTERM the stack exits 0 within the timeout, and a restart on the same data directory
    still has a row written and a workflow started before the stop, the workflow still running;
    the small demo seeds once, answers through the API with its token, and is not seeded twice."""
    data_dir = tmp_path / "state"
    ports = {"api": _free_port(), "temporal": _free_port(), "ui": _free_port()}
    log = tmp_path / "up.log"
    district = f"测试区{uuid.uuid4().hex[:6]}"
    workflow_id = f"stack-restart-{uuid.uuid4().hex[:8]}"
    demo = ("--demo", "--demo-size", "small")

    proc, endpoints = await _start(data_dir, ports, log, *demo)
    try:
        report = await _wait_for_demo(proc, log)
        # The bearer token (sbd_...), not the sign-in table's line for the same role.
        token = next(line.split()[-1] for line in report.splitlines()
                     if line.startswith("  org_department") and line.split()[-1].startswith("sbd_"))
        async with httpx.AsyncClient() as http:
            answer = await http.get(
                f"{endpoints['api_url']}/statistics/registration", params={"level": "district"},
                headers={"Authorization": f"Bearer {token}"},
            )
        assert answer.status_code == 200, answer.text
        rates = {item["name"]: item for item in answer.json()["items"]}
        assert sum(item["members"] for item in rates.values()) == 60
        assert any(item["active"] for item in rates.values())
        # the demo member has redeemable points to try the exchange with (demo/exchange.py)
        exchange_line = _exchange_line(report)
        balance = re.search(r"演示党员可兑换积分 (\d+(?:\.\d+)?) 分", exchange_line)
        assert balance is not None and float(balance.group(1)) >= 20, exchange_line
        seeded = {t: await _count(endpoints["database_url"], t) for t in (
            "member", "member_registration", "registration_cohort", "unit_registration")}
        conn = await asyncpg.connect(endpoints["database_url"])
        try:
            await conn.execute("INSERT INTO district (name) VALUES ($1)", district)
        finally:
            await conn.close()
        client = await Client.connect(endpoints["temporal_address"])
        # No worker polls this queue: the workflow simply stays open, which is what must survive.
        await client.start_workflow(
            "StackRestartProbe", id=workflow_id, task_queue=f"nobody-{workflow_id}"
        )
    finally:
        code = await _stop(proc)
    assert code == 0, _tail(log)
    assert not (data_dir / "stack.json").exists()
    assert not (data_dir / "postgres" / "postmaster.pid").exists(), "Postgres still running"
    # A holder of the embedded Postgres that died (kill -9) must not keep it running after the
    # next stop: the next start forgets it.
    handles = data_dir / "postgres" / ".handle_pids.json"
    handles.write_text(json.dumps([*json.loads(handles.read_text("utf-8")), _dead_pid()]), "utf-8")

    proc, endpoints = await _start(data_dir, ports, log, *demo)
    try:
        report = await _wait_for_demo(proc, log)
        assert report.count("已导入过") == 3, report
        assert _exchange_line(report) == exchange_line, "seeding again credits and redeems nothing more"
        for table, count in seeded.items():
            assert await _count(endpoints["database_url"], table) == count, table
        conn = await asyncpg.connect(endpoints["database_url"])
        try:
            assert await conn.fetchval("SELECT count(*) FROM district WHERE name = $1", district) == 1
        finally:
            await conn.close()
        client = await Client.connect(endpoints["temporal_address"])
        described = await client.get_workflow_handle(workflow_id).describe()
        assert described.status == WorkflowExecutionStatus.RUNNING
        await _check_standalone_worker(data_dir, tmp_path / "worker.log")
    finally:
        code = await _stop(proc)
    assert code == 0, _tail(log)
    assert not (data_dir / "postgres" / "postmaster.pid").exists(), "Postgres still running"


def _exchange_line(report: str) -> str:
    return next(line for line in report.splitlines() if line.startswith("积分兑换 points exchange"))


async def _check_standalone_worker(data_dir: Path, log: Path) -> None:
    """`shuangbaodao worker` finds the running stack's servers, reports ready, drains on SIGTERM."""
    port = _free_port()
    with log.open("ab") as out:
        worker = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "shuangbaodao"), "worker", "--data-dir", str(data_dir),
            stdout=out, stderr=out, env={**_clean_env(), "SBD_METRICS_PORT": str(port)}, cwd=REPO,
        )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    try:
        async with httpx.AsyncClient() as http:
            while True:
                assert worker.returncode is None, _tail(log)
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert loop.time() < deadline, f"worker not ready in time: {_tail(log)}"
                await asyncio.sleep(0.25)
    finally:
        code = await _stop(worker)
    assert code == 0, _tail(log)


async def test_busy_port_is_a_one_line_error(tmp_path: Path) -> None:
    """A taken Temporal port makes `up` exit non-zero at once with one line naming the port and
    the flag that moves it, before anything is started."""
    ports = {"api": _free_port(), "temporal": _free_port(), "ui": _free_port()}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports["temporal"]))
        taken.listen()
        proc = await asyncio.create_subprocess_exec(
            *_up_args(tmp_path / "state", ports), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=_clean_env(), cwd=REPO,
        )
        _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode != 0
    lines = err.decode("utf-8").strip().splitlines()
    assert len(lines) == 1, lines
    assert str(ports["temporal"]) in lines[0]
    assert "--temporal-port" in lines[0]
    assert not (tmp_path / "state" / "postgres").exists()


async def test_run_worker_polls_until_stopped_then_drains(pool: Pool, client: Client, task_queue: str) -> None:
    """`run_worker` polls its task queue with the registered workflows, and returns promptly once
    its stop event is set (graceful shutdown, no hang)."""
    settings = Settings(task_queue=task_queue, graceful_shutdown_seconds=2, delivery_dispatcher=False,
                        exchange_sweep=False)
    stop = asyncio.Event()
    running = asyncio.create_task(run_worker(settings, pool=pool, client=client, stop=stop))
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while True:
            described = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace, task_queue=TaskQueue(name=task_queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                )
            )
            if described.pollers:
                break
            assert not running.done(), running
            assert loop.time() < deadline, "the worker never polled its task queue"
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=15)


async def test_worker_without_servers_is_a_one_line_error(tmp_path: Path) -> None:
    """`shuangbaodao worker` with no DATABASE_URL/TEMPORAL_ADDRESS and no running `up` exits
    non-zero with one line saying what to set."""
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "shuangbaodao"), "worker", "--data-dir", str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_clean_env(), cwd=REPO,
    )
    _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 1
    lines = err.decode("utf-8").strip().splitlines()
    assert len(lines) == 1, lines
    assert "DATABASE_URL" in lines[0] and "TEMPORAL_ADDRESS" in lines[0]


async def test_up_uses_configured_servers_instead_of_starting_its_own(
    tmp_path: Path, pg_dsn: str, client: Client
) -> None:
    """With DATABASE_URL and TEMPORAL_ADDRESS set, `up` starts neither Postgres nor Temporal,
    serves the API over the given servers and still stops cleanly on SIGTERM."""
    data_dir = tmp_path / "state"
    ports = {"api": _free_port(), "temporal": _free_port(), "ui": _free_port()}
    log = tmp_path / "up.log"
    env = {
        **_clean_env(), "DATABASE_URL": pg_dsn,
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "SBD_TASK_QUEUE": f"up-external-{uuid.uuid4().hex[:8]}",
    }
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            *_up_args(data_dir, ports), stdout=out, stderr=out, env=env, cwd=REPO
        )
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while not (data_dir / "stack.json").exists():
            assert proc.returncode is None, _tail(log)
            assert loop.time() < deadline, _tail(log)
            await asyncio.sleep(0.25)
        endpoints = json.loads((data_dir / "stack.json").read_text("utf-8"))
        assert endpoints["database_url"] == pg_dsn
        assert endpoints["temporal_address"] == env["TEMPORAL_ADDRESS"]
        assert endpoints["temporal_ui_url"] is None
        assert not (data_dir / "postgres").exists()
        assert not (data_dir / "temporal").exists()
    finally:
        code = await _stop(proc)
    assert code == 0, _tail(log)


async def test_embedded_postgres_is_tuned_for_bulk_loads(pool: Pool) -> None:
    """The embedded Postgres (here the test session's, started like `up` starts it) runs with the
    bulk-load WAL settings, so a million-member import is not cut by checkpoints."""
    async with pool.acquire() as conn:
        assert await conn.fetchval("SHOW max_wal_size") == "4GB"
        assert await conn.fetchval("SHOW checkpoint_timeout") == "15min"


def _children(data_dir: Path) -> dict[str, int]:
    """The pids `up` recorded for its servers, and the postmaster's."""
    known = json.loads((data_dir / "children.json").read_text("utf-8"))
    pids = {name: int(entry["pid"]) for name, entry in known.items()}
    pids["postgres"] = int((data_dir / "postgres" / "postmaster.pid").read_text().splitlines()[0])
    return pids


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] == "Z"   # a zombie is gone too
    except FileNotFoundError:
        return True


async def _until(check: Any, what: str, log: Path, seconds: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        assert loop.time() < deadline, f"{what} not seen in {seconds} s: {_tail(log)}"
        await asyncio.sleep(0.25)


async def test_up_killed_leaves_no_server_and_the_next_up_starts(tmp_path: Path) -> None:
    """`up` killed -9 (an out-of-memory kill, a closed terminal): its Temporal server and Postgres
    stop with it, and the next `up` on the same data directory and ports starts at once."""
    data_dir = tmp_path / "state"
    ports = {"api": _free_port(), "temporal": _free_port(), "ui": _free_port()}
    log = tmp_path / "up.log"
    proc, _ = await _start(data_dir, ports, log)
    servers = _children(data_dir)
    proc.kill()
    await proc.wait()
    for name, pid in servers.items():
        await _until(lambda pid=pid: _gone(pid), f"{name} (pid {pid}) stopping after up died", log)
    proc, endpoints = await _start(data_dir, ports, log)
    try:
        assert endpoints["api_url"]
    finally:
        assert await _stop(proc) == 0, _tail(log)


async def test_up_restarts_a_killed_temporal_postgres_and_worker(tmp_path: Path) -> None:
    """With its worker in a process of its own, `up` starts again whatever is killed under it:
    the worker, the Temporal server, Postgres; and then still answers ready."""
    data_dir = tmp_path / "state"
    ports = {"api": _free_port(), "temporal": _free_port(), "ui": _free_port()}
    log = tmp_path / "up.log"
    proc, endpoints = await _start(data_dir, ports, log, "--worker-processes", "1")
    try:
        import psutil

        def workers() -> list[int]:
            found = []
            for child in psutil.Process(proc.pid).children():
                try:
                    if "worker" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                        found.append(child.pid)
                except psutil.Error:
                    continue   # gone (or a zombie) while we looked
            return found

        await _until(lambda: len(workers()) == 1, "the worker process", log)
        for name in ("worker", "temporal", "postgres"):
            old = workers()[0] if name == "worker" else _children(data_dir)[name]
            os.kill(old, signal.SIGKILL)

            def replaced(name: str = name, old: int = old) -> bool:
                try:
                    now = workers() if name == "worker" else [_children(data_dir)[name]]
                except (OSError, ValueError, IndexError, KeyError):
                    return False
                return bool(now) and old not in now and not _gone(now[0])

            await _until(replaced, f"{name} restarted", log, seconds=60)
        async with httpx.AsyncClient() as http:
            async def ready() -> bool:
                try:
                    return (await http.get(endpoints["api_url"] + "/readyz")).status_code == 200
                except httpx.TransportError:
                    return False
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            while not await ready():
                assert loop.time() < deadline, _tail(log)
                await asyncio.sleep(0.5)
    finally:
        assert await _stop(proc) == 0, _tail(log)
    assert not (data_dir / "postgres" / "postmaster.pid").exists(), "Postgres still running"
