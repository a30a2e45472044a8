"""SIGTERM to a real `shuangbaodao worker` process in the middle of a burst loses nothing (issue 5).

The worker is its own process, started the way a deployment starts it (environment only); the
burst is a campaign reminder wave over 8,000 members in 800 partitions, 8 partition activities in
flight at a time (several seconds of work). SIGTERM lands mid-wave: the worker stops polling,
lets its in-flight partitions finish within SBD_GRACEFUL_SHUTDOWN_SECONDS and exits 0; a second
worker process finishes the wave. Every member behind is reminded and notified exactly once.

No in-flight activity is cancelled or abandoned: a partition running at SIGTERM is drained
(completed by the first worker after it began stopping), never cut short and retried. Retries are
tolerated of one kind only: a task the server handed to one of the worker's activity polls in the
very instant of shutdown. With `frontend.enableCancelWorkerPollsOnShutdown` on (as `up`, compose
and the test server run Temporal) that is rare, but the SDK can still cut such polls
(temporalio/sdk-rust#1080; CI hit it once with one task, a fresh-clone run here once with two);
each such task waits out its heartbeat timeout and the second worker runs it. At most one task per
open poll can be lost that way, so the bound is the worker's activity pollers (the SDK's default
maximum, 5). That delays a partition, it loses nothing: the exactly-once checks below hold either
way.

The server cannot tell such a task from an activity abandoned midway: for both it recorded the
first worker as the one the attempt went to, and both end in a heartbeat timeout. The worker
process can: it logs each attempt its activity code begins and how it ended there
(`activity_started` / `activity_finished`, telemetry/temporal_context.py). So every attempt the
first worker's log says it began must be one the history says that worker completed; a lost poll
leaves no such line, an abandoned or cancelled attempt does.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.worker import PollerBehaviorSimpleMaximum

from db import campaign as campaign_db
from db.pool import Pool
from schemas.auth import SYSTEM_ACTOR
from schemas.campaign import CampaignCreate, CampaignScope, DeadlineKind, Recipient
from schemas.campaign_contract import ReminderWaveInput, ReminderWaveResult
from schemas.registration import ReminderStep
from services import campaign as campaign_service
from tests.conftest import env_without_settings, unique
from tests.test_registration_seed import seed_city
from workflows.reminder_wave import ReminderWaveWorkflow

CLI = Path(sys.executable).parent / "shuangbaodao"
MEMBERS = 8000
PARTITIONS = 800
CONCURRENCY = 8
GRACE_SECONDS = 10
EXIT_MARGIN_SECONDS = 5
START_TIMEOUT = 30.0
FINISH_TIMEOUT = 45.0   # covers the 30 s heartbeat timeout of a task lost at shutdown (see above)
# temporalio.worker.PollerBehaviorSimpleMaximum's default, which workers/main.py does not change
ACTIVITY_POLLERS = PollerBehaviorSimpleMaximum().maximum


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class WorkerProcess:
    """One `shuangbaodao worker` process and the file its output goes to."""

    proc: asyncio.subprocess.Process
    log: Path

    @property
    def identity(self) -> str:
        """The Temporal identity its worker reports (the SDK default: pid@host)."""
        return f"{self.proc.pid}@{socket.gethostname()}"

    def tail(self) -> str:
        return self.log.read_text("utf-8", errors="replace")[-3000:]


async def _start_worker(dsn: str, client: Client, task_queue: str, log: Path) -> WorkerProcess:
    """Start a worker process configured only through its environment; wait until /readyz answers."""
    port = _free_port()
    env = env_without_settings({
        "DATABASE_URL": dsn,
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "SBD_TASK_QUEUE": task_queue,
        "SBD_METRICS_PORT": str(port),
        "SBD_GRACEFUL_SHUTDOWN_SECONDS": str(GRACE_SECONDS),
        # the fixed-id dispatcher would outlive this test on a queue nobody polls
        "SBD_DELIVERY_DISPATCHER": "false",
        "SBD_LOG_JSON": "true",
        "SBD_DATA_DIR": str(log.parent / "unused"),
    })
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(str(CLI), "worker", stdout=out, stderr=out, env=env)
    worker = WorkerProcess(proc, log)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    async with httpx.AsyncClient() as http:
        while True:
            assert proc.returncode is None, f"worker exited early: {worker.tail()}"
            try:
                if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return worker
            except httpx.TransportError:
                pass
            assert loop.time() < deadline, f"worker not ready in time: {worker.tail()}"
            await asyncio.sleep(0.1)


async def _kill(worker: WorkerProcess | None) -> None:
    if worker is not None and worker.proc.returncode is None:
        worker.proc.kill()
        await worker.proc.wait()


async def _seed_campaign(pool: Pool, now: datetime) -> tuple[int, list[int], list[int]]:
    """A campaign over four new communities holding MEMBERS unregistered members of two units."""
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=4, units=2)
        rows = await conn.fetch(
            """INSERT INTO member (name, unit_id, home_community_id, home_grid_id)
               SELECT '党员' || $1::text || '-' || g,
                      ($2::bigint[])[1 + g % 2], ($3::bigint[])[1 + g % 4], ($4::bigint[])[1 + g % 4]
               FROM generate_series(0, $5::int - 1) AS g
               RETURNING id""",
            unique(), city.units, city.communities,
            [city.grids[c] for c in city.communities], MEMBERS)
        view = await campaign_service.create_campaign(conn, SYSTEM_ACTOR, CampaignCreate(
            name="双报到 动员", scope=CampaignScope(community_ids=city.communities),
            window_start=now - timedelta(days=1), window_end=now + timedelta(days=30),
            registration_deadline=now), now=now)
        await campaign_db.resolve_scope(conn, campaign_id=view.id)
    return view.id, [int(r["id"]) for r in rows], city.units


async def _progress(pool: Pool, campaign_id: int) -> tuple[int, int]:
    """(partitions done, partitions total) of the campaign's wave; (0, 0) before it is planned."""
    row = await pool.fetchrow(
        "SELECT partitions_done, partitions_total FROM campaign_wave WHERE campaign_id = $1", campaign_id)
    return (int(row["partitions_done"]), int(row["partitions_total"])) if row else (0, 0)


@dataclass
class ActivityRun:
    """One activity of the wave as its history tells it (the history keeps only the last attempt)."""

    activity_id: str
    attempt: int
    last_failure: str          # why the previous attempt ended ("" on the first attempt)
    completed_by: str          # identity of the worker that completed it
    completed_at: datetime


async def _activity_runs(handle: WorkflowHandle[ReminderWaveWorkflow, ReminderWaveResult]) -> list[ActivityRun]:
    """Every activity the wave completed, with its attempt, completing worker and completion time."""
    history = await handle.fetch_history()
    scheduled: dict[int, str] = {}
    started: dict[int, tuple[int, str]] = {}
    runs = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled[event.event_id] = event.activity_task_scheduled_event_attributes.activity_id
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = event.activity_task_started_event_attributes
            started[attrs.scheduled_event_id] = (attrs.attempt, attrs.last_failure.message)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            done = event.activity_task_completed_event_attributes
            attempt, last_failure = started[done.scheduled_event_id]
            runs.append(ActivityRun(scheduled[done.scheduled_event_id], attempt, last_failure, done.identity,
                                    event.event_time.ToDatetime(tzinfo=UTC)))
    return runs


def _attempts_begun(worker: WorkerProcess, workflow_id: str) -> dict[tuple[str, int], str]:
    """Every attempt (activity id, attempt) of the workflow's activities that the worker process
    began, with how it ended there by its own log: completed, failed, cancelled, or "never
    finished" (the process exited in the middle)."""
    begun: dict[tuple[str, int], str] = {}
    for line in _json_lines(worker):
        if line.get("workflow_id") != workflow_id:
            continue
        key = (str(line["activity_id"]), int(line["attempt"]))
        if line["event"] == "activity_started":
            begun[key] = "never finished"
        elif line["event"] == "activity_finished":
            begun[key] = str(line["outcome"])
    return begun


async def test_sigterm_mid_wave_drains_and_a_second_worker_finishes_without_loss_or_duplicates(
    client: Client, pool: Pool, task_queue: str, _migrated: str, tmp_path: Path
) -> None:
    """A worker process sent SIGTERM mid-wave finishes its in-flight partitions and exits 0 within
    the grace period, and a second worker process completes the wave with every member behind
    reminded and notified exactly once."""
    now = datetime.now(UTC)
    campaign_id, members, units = await _seed_campaign(pool, now)
    data = ReminderWaveInput(
        campaign_id=campaign_id, deadline_kind=DeadlineKind.registration, period=0,
        period_start=now - timedelta(days=1), period_end=now, step=ReminderStep.urge,
        notify=(Recipient.member, Recipient.unit), as_of=now, partitions=PARTITIONS, concurrency=CONCURRENCY)
    first: WorkerProcess | None = None
    second: WorkerProcess | None = None
    try:
        first = await _start_worker(_migrated, client, task_queue, tmp_path / "worker-1.log")
        handle = await client.start_workflow(
            ReminderWaveWorkflow.run, data, id=f"campaign-{campaign_id}-sigterm-wave", task_queue=task_queue)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while (progress := await _progress(pool, campaign_id))[0] < PARTITIONS // 5:
            assert loop.time() < deadline, f"the wave did not get going: {progress} {first.tail()}"
            await asyncio.sleep(0.01)
        assert progress[0] < progress[1], f"SIGTERM should land mid-wave, got {progress}"
        first.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(first.proc.wait(), GRACE_SECONDS + EXIT_MARGIN_SECONDS)
        assert code == 0, first.tail()
        stopped = await _progress(pool, campaign_id)
        assert stopped[0] < stopped[1], f"the first worker should leave work behind, got {stopped}"

        second = await _start_worker(_migrated, client, task_queue, tmp_path / "worker-2.log")
        result = ReminderWaveResult.model_validate(await asyncio.wait_for(handle.result(), FINISH_TIMEOUT))
        code = await asyncio.wait_for(_stop(second), GRACE_SECONDS + EXIT_MARGIN_SECONDS)
        assert code == 0, second.tail()
    finally:
        await _kill(first)
        await _kill(second)

    assert result.behind == result.reminded == MEMBERS
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    # The wave cuts partitions from the member-id range; other tests' members in the same
    # database can shift that cut by a few, so the check is "all planned partitions done".
    done, total = await _progress(pool, campaign_id)
    assert done == total and total == result.partitions and total > PARTITIONS // 2
    async with pool.acquire() as conn:
        reminders = await conn.fetch(
            """SELECT recipient_id, step, count(*) AS n FROM reminder
               WHERE ladder = $1 AND recipient_kind = 'member' GROUP BY recipient_id, step""",
            f"campaign:{campaign_id}:registration")
        notes = await conn.fetch(
            """SELECT recipient_id, count(*) AS n FROM notification
               WHERE recipient_kind = 'member' AND recipient_id = ANY($1::bigint[]) GROUP BY recipient_id""",
            members)
        unit_notes = await conn.fetch(
            """SELECT recipient_id, count(*) AS n FROM notification
               WHERE recipient_kind = 'unit' AND dedupe_key LIKE $1 GROUP BY recipient_id""",
            f"campaign:{campaign_id}:registration:%")
    assert sorted(int(r["recipient_id"]) for r in reminders) == sorted(members)
    assert {(r["step"], r["n"]) for r in reminders} == {(ReminderStep.urge.value, 1)}
    assert sorted(int(r["recipient_id"]) for r in notes) == sorted(members)
    assert {r["n"] for r in notes} == {1}
    assert sorted((int(r["recipient_id"]), r["n"]) for r in unit_notes) == sorted((u, 1) for u in units)

    assert first is not None and second is not None
    runs = await _activity_runs(handle)
    # Every attempt the first worker began, it completed, and the server recorded that: the
    # shutdown neither cancelled nor abandoned an activity that was running (a poll cut before the
    # activity began leaves no line in the worker's log and is checked below).
    begun = _attempts_begun(first, handle.id)
    assert begun, f"the first worker's log shows no activity: {first.tail()}"
    completed_by_first = {(run.activity_id, run.attempt) for run in runs if run.completed_by == first.identity}
    abandoned = sorted((key, ended) for key, ended in begun.items() if key not in completed_by_first)
    assert abandoned == [], (
        f"{len(abandoned)} attempts began in the SIGTERMed worker and were not completed there "
        f"((activity id, attempt), how it ended there): {abandoned[:10]}")
    retried = [(run.attempt, run.last_failure, run.completed_by) for run in runs if run.attempt != 1]
    # Only tasks lost in the instant of shutdown may be retried (see the module docstring), one per
    # activity poll at most, and the second worker runs them; a cancelled in-flight activity would
    # show here with another failure and fails the test.
    assert len(retried) <= ACTIVITY_POLLERS, f"more activities retried than polls could lose: {retried}"
    assert all(
        (attempt, failure) == (2, "activity Heartbeat timeout") and by == second.identity
        for attempt, failure, by in retried
    ), f"an activity was cancelled or failed by the shutdown: {retried}"
    by_first = [run.completed_at for run in runs if run.completed_by == first.identity]
    by_second = [run.completed_at for run in runs if run.completed_by == second.identity]
    assert len(by_first) + len(by_second) == len(runs), {run.completed_by for run in runs}
    assert by_second, "the second worker should have finished the wave"
    stopping = _logged_at(first, "worker_stopping")
    assert any(at > stopping for at in by_first), (
        "the first worker should have completed its in-flight partitions after it began stopping")


def _json_lines(worker: WorkerProcess) -> list[dict[str, Any]]:
    """The worker process's JSON log lines."""
    text = worker.log.read_text("utf-8", errors="replace")
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _logged_at(worker: WorkerProcess, event: str) -> datetime:
    """When the worker process logged `event` (its JSON log lines carry a UTC timestamp)."""
    for line in _json_lines(worker):
        if line.get("event") == event:
            return datetime.fromisoformat(str(line["timestamp"]))
    raise AssertionError(f"{event} not logged: {worker.tail()}")


async def _stop(worker: WorkerProcess) -> int:
    worker.proc.send_signal(signal.SIGTERM)
    return await worker.proc.wait()
