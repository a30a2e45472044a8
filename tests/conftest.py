"""Real services for the whole test session: an embedded Postgres and a Temporal dev server.

One Postgres (fresh data directory, migrated once) and one Temporal dev server serve every test;
tests keep apart by creating their own rows (unique names) and their own task queues.
A time-skipping environment (the dev server with per-workflow virtual clocks) serves the
reminder and deadline tests.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path

import pytest
import structlog
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from db.migrate import migrate_database
from db.pool import Conn, Pool, open_pool
from stack.binaries import temporal_cli
from stack.postgres import start_embedded_postgres
from telemetry.logging import LOG_ALSO_TO_ENV, configure_logging
from tests.log_scan import leak_report, lines_with_personal_data

# As `up` runs it (stack/temporal.py): a worker's shutdown cancels its polls on the server side.
POLL_SHUTDOWN_ARGS = ["--dynamic-config-value", "frontend.enableCancelWorkerPollsOnShutdown=true"]
TIME_SKIPPING_ARGS = [
    "--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true", *POLL_SHUTDOWN_ARGS,
]


# Everything any test logs is also written here, and so is everything the processes the tests
# start log (`up`, `worker`, `api`: they inherit SBD_LOG_ALSO_TO). The session ends with a scan of
# it for personal data (`_no_personal_data_in_the_sessions_logs`).
LOG_CAPTURE = Path(tempfile.gettempdir()) / f"shuangbaodao-test-logs-{os.getpid()}.jsonl"


def pytest_configure(config: pytest.Config) -> None:
    LOG_CAPTURE.unlink(missing_ok=True)
    os.environ[LOG_ALSO_TO_ENV] = str(LOG_CAPTURE)
    configure_logging(json=True)
    # one line of its own, so that a session whose tests log nothing (a pure-function file run
    # alone) still finds the capture wired: the scan's emptiness check tests the wiring, not them
    structlog.get_logger("tests").info("test_session_started", capture=LOG_CAPTURE.name)


@pytest.fixture(scope="session", autouse=True)
def _no_personal_data_in_the_sessions_logs() -> Iterator[None]:
    """After the last test (whichever it is) and every session fixture's teardown: not one raw
    phone or ID number in any line that this process or any process it started logged."""
    yield
    assert LOG_CAPTURE.exists() and LOG_CAPTURE.stat().st_size > 0, (
        "the log capture is empty: logging is not wired to the capture file")
    leaks = lines_with_personal_data(LOG_CAPTURE)
    if leaks:   # not an assert: its diff would print the raw lines
        pytest.fail(leak_report(LOG_CAPTURE, leaks), pytrace=False)


def env_without_settings(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment for a subprocess, without any setting that would point it at
    other servers (SBD_*, DATABASE_URL, TEMPORAL_ADDRESS), but still logging into the session's
    capture (SBD_LOG_ALSO_TO); then `extra`."""
    base = {
        k: v for k, v in os.environ.items()
        if (not k.startswith("SBD_") or k == LOG_ALSO_TO_ENV) and k not in ("DATABASE_URL", "TEMPORAL_ADDRESS")
    }
    return {**base, **(extra or {})}


@pytest.fixture(scope="session")
def pg_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database on an embedded Postgres 18 started for this session."""
    external = os.environ.get("SBD_TEST_DATABASE_URL")
    if external:
        yield external
        return
    server = start_embedded_postgres(tmp_path_factory.mktemp("pg") / "data")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(scope="session")
async def _migrated(pg_dsn: str) -> str:
    await migrate_database(pg_dsn)
    return pg_dsn


@pytest.fixture(scope="session")
async def pool(_migrated: str) -> AsyncIterator[Pool]:
    p = await open_pool(_migrated, min_size=1, max_size=10)
    yield p
    await p.close()


@pytest.fixture
async def conn(pool: Pool) -> AsyncIterator[Conn]:
    """A connection inside a transaction that is rolled back after the test."""
    async with pool.acquire() as c:
        tx = c.transaction()
        await tx.start()
        try:
            yield c
        finally:
            await tx.rollback()


@pytest.fixture(scope="session")
async def temporal_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (SQLite in WAL mode) for this session."""
    db_file = Path(tmp_path_factory.mktemp("temporal")) / "temporal.db"
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(temporal_cli()),
        dev_server_database_filename=str(db_file),
        dev_server_extra_args=[
            "--sqlite-pragma", "journal_mode=wal",
            "--sqlite-pragma", "synchronous=normal",
            *POLL_SHUTDOWN_ARGS,
        ],
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    """The dev server with per-workflow time skipping (temporalio's experimental v2)."""
    env = await WorkflowEnvironment.start_time_skipping_v2(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(temporal_cli()),
        dev_server_extra_args=TIME_SKIPPING_ARGS,
    )
    yield env
    await env.shutdown()


@pytest.fixture
def client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture
def task_queue() -> str:
    """A task queue of this test's own, so workers of different tests never share work."""
    return f"test-{uuid.uuid4().hex[:12]}"


def unique(prefix: str = "") -> str:
    """A short unique suffix for names that must not collide across tests."""
    return f"{prefix}{uuid.uuid4().hex[:8]}"
