"""Chaos benchmark: the embedded stack keeps its promises while its servers are killed under it.

    .venv/bin/python -m bench.chaos [--seed 1 --tasks 60 --members 2000 --kills 5]

Starts `shuangbaodao up --worker-processes 1` as a subprocess on a temporary data directory and
free ports, seeds a small city of its own (the dispatch benchmark's city, with reporting units,
and a running campaign with a service quota), then runs a workload:

- a dispatch burst: tasks created at a steady pace through the chaos, each taken through its
  whole life by `RealDriver` (offer → accept → check-in → check-out → rating → verification →
  points credited → closed);
- reminder waves (the quota ladder's steps, one per kill), started a moment before each kill.

The simulated people retry on transient errors (connection refused, Temporal unavailable, pool
errors) as a phone app would, and take a retried call's "already done" refusal as done.

Meanwhile, at seeded moments, it kills -9 the worker process, the Temporal server, Postgres, and
all three at once (each at least once); `up` restarts them itself. Printed per kill: the time since
the start, what was killed and its pid, and how long until everything was back (a new process for
each killed part, and /readyz answering 200).

Then, once the workload has finished (bounded), the audits, from Postgres and Temporal (all 0):
  tasks_lost                a task row with no running or completed workflow, or not closed
  duplicate_points          more than one evaluation_points row per (task, member) or service record
  duplicate_reminders       by meaning: the same ladder, subject, cycle, step and recipient
  duplicate_notifications   by meaning: the same recipient, category and subject (title and body)
                            of one wave or task event, whatever the dedupe_key
  workflows_stuck           failed / terminated / timed out, or still running with an activity
                            retried past its deadline, or a workflow of the workload not finished
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from bench.dispatch_e2e import BenchCity, RealDriver, refusal_code, seed_city
from bench.reminder_wave import seed_campaign
from db.pool import Pool, open_pool
from domain import task_rules
from schemas.auth import Actor
from schemas.campaign import DeadlineKind, Recipient
from schemas.campaign_contract import ReminderWaveInput
from schemas.registration import ReminderStep
from schemas.settings import DEFAULT_TASK_QUEUE
from services.workflow_calls import start_once
from stack.children import CHILDREN_FILE, postmaster_pid
from stack.temporal import connect_client
from telemetry.logging import configure_logging
from workflows.reminder_wave import ReminderWaveWorkflow

REPO = Path(__file__).resolve().parent.parent
PARTS = ("worker", "temporal", "postgres")
START_TIMEOUT = 180.0
RECOVERY_TIMEOUT = 120.0
GIVE_UP_AFTER = 300.0   # a person stops retrying one step after this long
STEPS = (ReminderStep.remind, ReminderStep.urge, ReminderStep.supervise, ReminderStep.public_notice)


# ---------------------------------------------------------------------------------------------
# The stack under test
# ---------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Stack:
    """`up --worker-processes 1` on its own data directory and ports, and its servers' pids."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        self.data_dir, self.log = data_dir, log
        self.ports = {"api": _free_port(), "temporal": _free_port(), "ui": _free_port(),
                      "metrics": _free_port()}
        self.proc: asyncio.subprocess.Process | None = None
        self.endpoints: dict[str, Any] = {}

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SBD_") and k not in ("DATABASE_URL", "TEMPORAL_ADDRESS")}
        env["SBD_METRICS_PORT"] = str(self.ports["metrics"])
        env["SBD_API_HOST"] = "127.0.0.1"
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "shuangbaodao"), "up", "--data-dir", str(self.data_dir),
                "--api-port", str(self.ports["api"]), "--temporal-port", str(self.ports["temporal"]),
                "--temporal-ui-port", str(self.ports["ui"]), "--worker-processes", "1",
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out, env=env, cwd=REPO)
        deadline = time.monotonic() + START_TIMEOUT
        endpoints_file = self.data_dir / "stack.json"
        while not endpoints_file.exists() or not await self.ready() or not self.pids()["worker"]:
            if self.proc.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"up did not start: {self.tail()}")
            await asyncio.sleep(0.5)
        self.endpoints = json.loads(endpoints_file.read_text("utf-8"))

    def tail(self) -> str:
        return self.log.read_text("utf-8", errors="replace")[-3000:]

    async def ready(self) -> bool:
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                return (await http.get(self.api_url + "/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    def pids(self) -> dict[str, list[int]]:
        """The live pid(s) of each part: worker processes (children of `up` whose command line
        says worker), the Temporal server (children.json) and the postmaster (postmaster.pid)."""
        found: dict[str, list[int]] = {part: [] for part in PARTS}
        assert self.proc is not None
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.proc.pid).children():
                with contextlib.suppress(psutil.Error):
                    if "worker" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                        found["worker"].append(child.pid)
        with contextlib.suppress(OSError, ValueError, KeyError):
            pid = int(json.loads((self.data_dir / CHILDREN_FILE).read_text("utf-8"))["temporal"]["pid"])
            with contextlib.suppress(psutil.Error):
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    found["temporal"].append(pid)
        pg = postmaster_pid(self.data_dir / "postgres")
        if pg is not None:
            found["postgres"].append(pg)
        return found

    async def stop(self) -> list[str]:
        """SIGTERM `up` (SIGKILL after 90 s); what of its servers was still alive afterwards."""
        if self.proc is None:
            return []
        servers = [pid for part in ("temporal", "postgres") for pid in self.pids()[part]]
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=90)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        await asyncio.sleep(1)
        left = []
        for pid in servers:
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                if proc.status() != psutil.STATUS_ZOMBIE:
                    left.append(f"{pid} {' '.join(proc.cmdline())[:80]}")
                    proc.kill()
        return left


# ---------------------------------------------------------------------------------------------
# The people: retrying as a phone app would
# ---------------------------------------------------------------------------------------------


@dataclass
class Outages:
    """What the simulated people met and retried, by kind."""

    seen: Counter[str] = field(default_factory=Counter)


def transient(exc: BaseException) -> bool:
    """An error a person meets while a server is down or restarting: worth asking again."""
    if isinstance(exc, RPCError):
        return exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED,
                              RPCStatusCode.CANCELLED, RPCStatusCode.UNKNOWN, RPCStatusCode.INTERNAL,
                              RPCStatusCode.RESOURCE_EXHAUSTED)
    if isinstance(exc, asyncpg.PostgresConnectionError | asyncpg.InterfaceError | asyncpg.CannotConnectNowError
                  | asyncpg.AdminShutdownError | asyncpg.ConnectionFailureError):
        return True
    if isinstance(exc, asyncpg.InternalClientError):
        # asyncpg's protocol state after the server died mid-operation ("cannot switch to state
        # 12; another operation is in progress", MagicStack/asyncpg#1069): the API answers 500,
        # the connection is dropped from the pool, and the next attempt gets a fresh one.
        return True
    if isinstance(exc, OSError | TimeoutError | ConnectionError):
        return True
    # The SDK's own wrappers of an RPC that did not get through (update polls, connect).
    name = type(exc).__name__
    return name in ("WorkflowUpdateRPCTimeoutOrCancelledError", "RPCTimeoutOrCancelledError") or (
        isinstance(exc, RuntimeError) and ("connect" in str(exc).lower() or "transport" in str(exc).lower()))


class PatientDriver(RealDriver):
    """RealDriver whose people retry transient outages (with a short backoff), for a while."""

    def __init__(self, pool: Pool, client: Client, city: BenchCity, task_queue: str, *, seed: int,
                 outages: Outages) -> None:
        super().__init__(pool, client, city, task_queue, seed=seed)
        self._outages = outages
        self.left_to_workflow = 0   # created by an attempt whose answer was lost: no token to scan

    async def _create(self, i: int, need_id: int, staff: Actor) -> tuple[int, str] | None:
        created = await super()._create(i, need_id, staff)
        if created is None:
            self.left_to_workflow += 1
        return created

    def _retry_after(self, exc: BaseException) -> float | None:
        pause = super()._retry_after(exc)
        if pause is not None:
            return pause
        if refusal_code(exc) is not None or not transient(exc):
            return None
        self._outages.seen[type(exc).__name__] += 1
        return 0.5 + random.random()


async def _patiently(outages: Outages, call: Any, what: str) -> Any:
    """`call()` retried on transient errors for up to GIVE_UP_AFTER seconds."""
    began = time.monotonic()
    while True:
        try:
            return await call()
        except Exception as exc:
            if not transient(exc) or time.monotonic() - began > GIVE_UP_AFTER:
                raise
            outages.seen[type(exc).__name__] += 1
        await asyncio.sleep(1.0)


# ---------------------------------------------------------------------------------------------
# Seeding and workload
# ---------------------------------------------------------------------------------------------


async def _seed(pool: Pool, members: int) -> tuple[BenchCity, int]:
    """The dispatch benchmark's city (4 communities × 5 grids), each member in a reporting unit,
    and a running campaign with a service quota (nobody has served yet: all behind)."""
    per_grid = max(1, members // 20)
    city = await seed_city(pool, communities=4, grids_per_community=5, members_per_grid=per_grid)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            """INSERT INTO reporting_unit (name, unit_party_org, community_id)
               SELECT '基准单位' || i, '基准单位党组织' || i, (SELECT min(id) FROM community)
               FROM generate_series(1, 20) i""")
        await conn.execute(
            """UPDATE member m SET unit_id = u.id FROM
               (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM reporting_unit) u
               WHERE u.k = m.id % 20""")
        campaign_id = await seed_campaign(conn, datetime.now(UTC).replace(microsecond=0))
    return city, campaign_id


def _wave(campaign_id: int, n: int, now: datetime) -> ReminderWaveInput:
    """The n-th wave: the ladder's steps in turn, a new cycle (period) once they are used up."""
    return ReminderWaveInput(
        campaign_id=campaign_id, deadline_kind=DeadlineKind.quota, period=n // len(STEPS),
        period_start=now - timedelta(days=30), period_end=now, step=STEPS[n % len(STEPS)],
        notify=(Recipient.member, Recipient.unit, Recipient.community), as_of=now,
        partitions=16, concurrency=4)


@dataclass
class Workload:
    driver: PatientDriver
    client: Client
    outages: Outages
    campaign_id: int
    wave_ids: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    finished: int = 0

    async def task(self, i: int) -> None:
        try:
            await self.driver.one(i)
            self.finished += 1
        except Exception as exc:
            self.failures.append(f"task #{i}: {type(exc).__name__}: {exc}"[:300])

    async def wave(self, n: int) -> None:
        workflow_id = f"chaos-wave-{self.campaign_id}-{n}"
        self.wave_ids.append(workflow_id)
        data = _wave(self.campaign_id, n, datetime.now(UTC).replace(microsecond=0))
        try:
            await _patiently(self.outages, lambda: start_once(
                self.client, ReminderWaveWorkflow.run, data, workflow_id=workflow_id,
                task_queue=DEFAULT_TASK_QUEUE), "start wave")
            await _patiently(self.outages, lambda: self.client.get_workflow_handle(workflow_id).result(),
                             "wave result")
        except Exception as exc:
            self.failures.append(f"wave {n}: {type(exc).__name__}: {exc}"[:300])


# ---------------------------------------------------------------------------------------------
# The kills
# ---------------------------------------------------------------------------------------------


def kill_plan(rng: random.Random, kills: int) -> list[tuple[str, ...]]:
    """Each part alone at least once and all three at once at least once, in a seeded order;
    kills beyond four are drawn at random among the same four choices."""
    choices: list[tuple[str, ...]] = [("worker",), ("temporal",), ("postgres",), PARTS]
    plan = list(choices) + [rng.choice(choices) for _ in range(max(0, kills - len(choices)))]
    rng.shuffle(plan)
    return plan


@dataclass
class Kill:
    at: float
    parts: tuple[str, ...]
    pids: dict[str, int]
    recovered_after: float | None = None


async def _recovered(stack: Stack, killed: dict[str, int]) -> bool:
    now = stack.pids()
    for part, old in killed.items():
        if not now[part] or old in now[part]:
            return False
    return await stack.ready()


async def run_kills(stack: Stack, plan: list[tuple[str, ...]], rng: random.Random, began: float,
                    workload: Workload, waves: list[asyncio.Task[None]]) -> list[Kill]:
    done: list[Kill] = []
    for n, parts in enumerate(plan):
        gap = rng.uniform(12, 35)
        wave_lead = rng.uniform(0.5, 4.0)   # the wave is started this long before the kill
        await asyncio.sleep(max(0.0, gap - wave_lead))
        waves.append(asyncio.create_task(workload.wave(n)))
        await asyncio.sleep(wave_lead)
        found = stack.pids()
        pids = {part: found[part][0] for part in parts if found[part]}
        at = time.monotonic() - began
        for pid in pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        kill = Kill(at=at, parts=parts, pids=pids)
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        while time.monotonic() < deadline:
            if await _recovered(stack, pids):
                kill.recovered_after = time.monotonic() - began - at
                break
            await asyncio.sleep(0.25)
        done.append(kill)
        what = " + ".join(f"{part} (pid {pid})" for part, pid in pids.items())
        back = f"{kill.recovered_after:.1f} s" if kill.recovered_after is not None else "NOT within 120 s"
        print(f"  t={at:6.1f} s  kill -9 {what:60} ready again after {back}", flush=True)
    return done


# ---------------------------------------------------------------------------------------------
# The audits
# ---------------------------------------------------------------------------------------------


async def _describe(outages: Outages, client: Client, workflow_id: str) -> Any:
    try:
        return await _patiently(outages, lambda: client.get_workflow_handle(workflow_id).describe(), "describe")
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return None
        raise


async def audit(pool: Pool, client: Client, outages: Outages, workload: Workload) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    findings: list[str] = []
    async with pool.acquire() as conn:
        tasks = await conn.fetch("SELECT id, status FROM task ORDER BY id")
        dup_points = await conn.fetchval(
            """SELECT (SELECT count(*) FROM (SELECT 1 FROM evaluation_points WHERE task_id IS NOT NULL
                                             GROUP BY task_id, member_id HAVING count(*) > 1) a)
                    + (SELECT count(*) FROM (SELECT 1 FROM evaluation_points WHERE service_record_id IS NOT NULL
                                             GROUP BY service_record_id, member_id HAVING count(*) > 1) b)""")
        credited = await conn.fetchval("SELECT count(DISTINCT task_id) FROM evaluation_points")
        dup_reminders = await conn.fetchval(
            """SELECT count(*) FROM (SELECT 1 FROM reminder
               GROUP BY ladder, subject_kind, subject_id, cycle, step, recipient_kind, recipient_id
               HAVING count(*) > 1) d""")
        reminders = await conn.fetchval("SELECT count(*) FROM reminder")
        # By meaning, not by key: a notification tells one recipient of one event. Campaign
        # notifications: one per reminder sent to that recipient (more means the same reminder
        # was told twice). Offers: one per member and task (the offer rows say which task).
        # Anything else: the same recipient, category, title and body twice.
        dup_notes = await conn.fetch(
            """WITH told AS (
                 SELECT recipient_kind, recipient_id, count(*) AS n FROM notification
                 WHERE category LIKE 'campaign%' GROUP BY 1, 2),
               reminded AS (
                 SELECT recipient_kind, recipient_id, count(*) AS n FROM reminder
                 WHERE ladder LIKE 'campaign:%' GROUP BY 1, 2)
               SELECT 'campaign' AS what, t.recipient_kind || ' ' || t.recipient_id AS who,
                      t.n - coalesce(r.n, 0) AS extra
               FROM told t LEFT JOIN reminded r USING (recipient_kind, recipient_id)
               WHERE t.n > coalesce(r.n, 0)
               UNION ALL
               SELECT 'offer of task ' || o.task_id, 'member ' || n.recipient_id, count(*) - 1
               FROM notification n JOIN offer o ON n.dedupe_key = 'offer:' || o.id
               WHERE n.category = 'dispatch_offer' GROUP BY o.task_id, n.recipient_id HAVING count(*) > 1
               UNION ALL
               SELECT category || ': ' || title, recipient_kind || ' ' || recipient_id, count(*) - 1
               FROM notification WHERE category NOT LIKE 'campaign%' AND category <> 'dispatch_offer'
               GROUP BY recipient_kind, recipient_id, category, title, body HAVING count(*) > 1""")
        untied_offers = await conn.fetchval(
            """SELECT count(*) FROM notification n WHERE n.category = 'dispatch_offer'
               AND NOT EXISTS (SELECT 1 FROM offer o WHERE n.dedupe_key = 'offer:' || o.id)""")
        notes = await conn.fetchval("SELECT count(*) FROM notification")
    figures["tasks"] = len(tasks)
    figures["tasks_finished_by_people"] = workload.finished - workload.driver.left_to_workflow
    figures["tasks_left_to_workflow"] = workload.driver.left_to_workflow
    figures["tasks_with_points"] = credited
    figures["reminders"] = reminders
    figures["notifications"] = notes

    lost = 0
    for row in tasks:
        desc = await _describe(outages, client, task_rules.task_workflow_id(row["id"]))
        status = desc.status if desc is not None else None
        if status not in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED) or row["status"] != "closed":
            lost += 1
            findings.append(f"task {row['id']}: row status {row['status']}, workflow "
                            f"{status.name if status is not None else 'none'}")
    figures["tasks_lost"] = lost
    figures["duplicate_points"] = dup_points
    figures["duplicate_reminders"] = dup_reminders
    figures["duplicate_notifications"] = sum(int(n["extra"]) for n in dup_notes)
    for note in dup_notes[:5]:
        findings.append(f"notification told {note['extra']} extra time(s): {note['what']} to {note['who']}")
    if untied_offers:
        # The offer check above relies on the offer's key; an offer notification it cannot tie
        # to an offer row would escape it, so that alone fails the audit.
        figures["duplicate_notifications"] += untied_offers
        findings.append(f"{untied_offers} offer notification(s) tied to no offer row")

    stuck = 0
    ours = set(workload.driver.workflow_ids) | set(workload.wave_ids)
    now = datetime.now(UTC)

    async def listed() -> list[Any]:
        return [w async for w in client.list_workflows()]

    for wf in await _patiently(outages, listed, "list workflows"):
        why = None
        if wf.status in (WorkflowExecutionStatus.FAILED, WorkflowExecutionStatus.TERMINATED,
                         WorkflowExecutionStatus.TIMED_OUT):
            why = wf.status.name
        elif wf.status is WorkflowExecutionStatus.RUNNING:
            if wf.id in ours:
                why = "still running after the workload"
            else:
                desc = await _describe(outages, client, wf.id)
                for act in desc.raw_description.pending_activities if desc is not None else []:
                    expires = act.expiration_time.ToDatetime(tzinfo=UTC) if act.HasField("expiration_time") else None
                    if act.attempt > 5 or (expires is not None and expires < now) or (
                            act.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED and act.attempt > 3):
                        why = f"activity {act.activity_type.name} attempt {act.attempt}"
        if why is not None:
            stuck += 1
            findings.append(f"workflow {wf.id}: {why}")
    figures["workflows_stuck"] = stuck
    figures["findings"] = findings
    return figures


# ---------------------------------------------------------------------------------------------


async def run(seed: int, tasks: int, members: int, kills: int, keep: bool) -> int:
    rng = random.Random(seed)
    plan = kill_plan(rng, kills)
    tmp = Path(tempfile.mkdtemp(prefix="sbd-chaos-"))
    stack = Stack(tmp / "state", tmp / "up.log")
    print(f"chaos: seed {seed}, {tasks} tasks, {members} members, kills {[' + '.join(p) for p in plan]}")
    print(f"  data dir {stack.data_dir}, up's log {stack.log}", flush=True)
    began = time.monotonic()
    exit_code = 1
    try:
        await stack.start()
        print(f"  up ready in {time.monotonic() - began:.1f} s (pids {stack.pids()})", flush=True)
        dsn = stack.endpoints["database_url"]
        pool = await open_pool(dsn, min_size=2, max_size=20)
        client = await connect_client(stack.endpoints["temporal_address"])
        try:
            city, campaign_id = await _seed(pool, members)
            outages = Outages()
            driver = PatientDriver(pool, client, city, DEFAULT_TASK_QUEUE, seed=seed, outages=outages)
            workload = Workload(driver, client, outages, campaign_id)
            began = time.monotonic()
            print("  workload and kills start (t=0)", flush=True)
            # The burst is spread over about the time the kills take, so tasks are in every state
            # when the servers die: one started every `pace` seconds, 12 at most in flight.
            pace = max(0.2, 25.0 * len(plan) / max(1, tasks))
            gate = asyncio.Semaphore(12)

            async def paced(i: int) -> None:
                await asyncio.sleep(i * pace)
                async with gate:
                    await workload.task(i)

            burst = [asyncio.create_task(paced(i)) for i in range(tasks)]
            waves: list[asyncio.Task[None]] = []
            done_kills = await run_kills(stack, plan, rng, began, workload, waves)
            try:
                await asyncio.wait_for(asyncio.gather(*burst, *waves), timeout=GIVE_UP_AFTER + 60)
            except TimeoutError:
                print("  workload NOT finished within its bound", flush=True)
            workload_s = time.monotonic() - began
            for t in burst + waves:
                t.cancel()
            print(f"  workload finished at t={workload_s:.1f} s: {workload.finished}/{tasks} tasks, "
                  f"{len(waves)} waves; people retried through: {dict(outages.seen)}", flush=True)
            for failure in workload.failures[:10]:
                print(f"  failed: {failure}")
            figures = await audit(pool, client, outages, workload)
        finally:
            await pool.close()
        survived = sum(1 for k in done_kills if k.recovered_after is not None)
        parts_killed = Counter(p for k in done_kills for p in k.parts)
        print(f"kills survived            {survived}/{len(done_kills)} "
              f"(worker {parts_killed['worker']}, temporal {parts_killed['temporal']}, "
              f"postgres {parts_killed['postgres']}, all at once {sum(1 for k in done_kills if len(k.parts) == 3)})")
        if done_kills:
            worst = max((k.recovered_after or RECOVERY_TIMEOUT) for k in done_kills)
            print(f"worst recovery            {worst:.1f} s")
        for key in ("tasks", "tasks_finished_by_people", "tasks_left_to_workflow", "tasks_with_points",
                    "reminders", "notifications"):
            print(f"{key:26}{figures[key]}")
        audits = ("tasks_lost", "duplicate_points", "duplicate_reminders", "duplicate_notifications",
                  "workflows_stuck")
        for key in audits:
            print(f"{key:26}{figures[key]}")
        for finding in figures["findings"][:20]:
            print(f"  finding: {finding}")
        ok = (all(figures[key] == 0 for key in audits) and survived == len(done_kills)
              and not workload.failures)
        print("result                    " + ("all audits 0" if ok else "FAILED"))
        exit_code = 0 if ok else 1
    finally:
        left = await stack.stop()
        if left:
            print(f"  servers left after up stopped (killed now): {left}")
            exit_code = 1
        if not keep:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return exit_code


def main() -> None:
    parser = argparse.ArgumentParser(description="Chaos benchmark: kill -9 the stack's servers mid-workload")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tasks", type=int, default=60)
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=5, help="at least 4: each part alone and all at once")
    parser.add_argument("--keep", action="store_true", help="keep the data directory and up's log")
    args = parser.parse_args()
    if args.kills < 4:
        parser.error("--kills: at least 4 (worker, temporal, postgres, all three at once)")
    configure_logging(json=True, level=logging.ERROR)
    raise SystemExit(asyncio.run(run(args.seed, args.tasks, args.members, args.kills, args.keep)))


if __name__ == "__main__":
    main()
