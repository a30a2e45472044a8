"""End-to-end dispatch benchmark on the embedded stack, against a bare workflow of the same shape.

Run with `.venv/bin/python -m bench.dispatch_e2e --tasks 300`. It starts its own embedded
Postgres and Temporal dev server (SQLite in WAL mode, as `up` does) in a temporary directory, an
in-process worker, and seeds a small city (districts, grids, members free all week). Then:

- real: N tasks through the whole lifecycle with simulated members answering through the same
  use cases the API calls: need placed and verified → task created (workflow started) → offer
  → accept → check-in → check-out → resident rating → community verification → closed.
- bare: the same number of workflows of the same shape (the same activities, updates and timers
  in the same order, empty bodies, no database) driven the same way against the same server by
  the same process.

Printed: tasks/s sustained for both and their ratio (goal >= 0.7); need → first offer measured
commit to commit (the need's verification commit, `need.verified_committed_at`, to its task's
first offer's, `offer.committed_at`: both the database's clock_timestamp()) p50/p95/p99, beside
the old figure (need placed → the find activity's scheduled time `offered_at`) and the bare
workflow's baseline (start requested → its first activity running, and → its second, the step
that wrote the offers when a task began with a status activity), all from the same run; and
Temporal history events per completed task (a sample of histories). The commit-to-commit span is
also printed in its parts: verification committed → the driver's create call → the workflow task
that wrote the first wave started (the server's time) → the find activity running (this worker)
→ the offers' insert.

`--rates 2,3,4` runs the latency phase once per rate (each with its bare baseline) and prints the
highest rate, counting up from the lowest, at which the goal still held.
"""

from __future__ import annotations

from temporalio import workflow

# The bare workflow below is defined in this module, which the workflow sandbox re-imports for
# every run: everything else passes through, so the bare run pays only for its own small body,
# as TaskWorkflow pays only for workflows/task.py.
with workflow.unsafe.imports_passed_through():
    import argparse
    import asyncio
    import contextlib
    import itertools
    import logging
    import random
    import socket
    import statistics
    import tempfile
    import time
    from collections.abc import Awaitable, Callable
    from dataclasses import dataclass
    from datetime import UTC, datetime, timedelta
    from pathlib import Path
    from typing import Any, TypeVar

    from temporalio import activity
    from temporalio.client import Client, WorkflowUpdateFailedError
    from temporalio.common import RetryPolicy
    from temporalio.exceptions import ApplicationError
    from temporalio.worker import (
        ActivityInboundInterceptor,
        ExecuteActivityInput,
        Interceptor,
        Worker,
    )

    from activities.dispatch import DispatchActivities
    from db import hierarchy as hierarchy_db
    from db.migrate import migrate
    from db.pool import Pool, connect, open_pool
    from domain import task_rules
    from domain.errors import Conflict
    from schemas.auth import Actor, Role, ScopeKind
    from schemas.dispatch import (
        AnswerOfferInput,
        NeedCreate,
        NeedDecision,
        RateInput,
        ScanInput,
        TaskCreate,
    )
    from services import dispatch
    from services.workflow_calls import run_update
    from stack.postgres import start_embedded_postgres
    from stack.temporal import start_temporal_dev_server
    from telemetry.logging import configure_logging
    from workflows.task import TaskWorkflow

T = TypeVar("T")

GOAL_P50, GOAL_P99 = 0.3, 1.0   # need -> first offer, commit to commit (seconds)
POLL = 0.02          # seconds between a simulated person's retries (offer not out yet, not done yet)
_ACT = timedelta(seconds=30)
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
# Refusals that only mean "too early": the driver waits a moment and asks again.
EARLY = frozenset({"no_offer", "not_assigned", "not_checked_in", "cannot_rate", "not_rated"})


# ---------------------------------------------------------------------------------------------
# The bare workflow: TaskWorkflow's happy path with empty bodies
# ---------------------------------------------------------------------------------------------


# The real driver learns of its offer from the offer table the find activity writes; the bare
# driver learns of it the same way, in process, instead of asking the server until it is allowed.
_OFFERED: dict[str, asyncio.Event] = {}
# The baseline: when each bare workflow's start was requested, and when its first and second
# activities (status:offering, find_candidates) began running (wall clock, this process).
_STARTED: dict[str, float] = {}
_STEP_AT: dict[tuple[str, str], float] = {}


@activity.defn(name="bare_step")
async def bare_step(step: str) -> str:
    workflow_id = activity.info().workflow_id
    if workflow_id is not None and step in ("status:offering", "find_candidates"):
        _STEP_AT.setdefault((workflow_id, step), time.time())
    if step == "find_candidates" and workflow_id is not None:
        _OFFERED.setdefault(workflow_id, asyncio.Event()).set()
    return step


# Where the real first offer's time goes: when each task's first find activity (a local activity
# since PATCH_LOCAL_OFFER_STEPS) began and ended running in this process (wall clock), by workflow id.
# Its start splits the span at the worker; the database's and the server's stamps do the rest.
_FIND_AT: dict[str, tuple[float, float]] = {}
# When the create use case (its transaction, then the start request) returned to the driver.
_CREATED_AT: dict[int, float] = {}


class _FindTimes(Interceptor):
    """Stamps the first run of dispatch_find_candidates of each workflow (the first wave)."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _FindTimesInbound(next)


class _FindTimesInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        if info.activity_type != "dispatch_find_candidates" or info.workflow_id in _FIND_AT:
            return await self.next.execute_activity(input)
        began = time.time()
        result = await self.next.execute_activity(input)
        _FIND_AT.setdefault(info.workflow_id or "", (began, time.time()))
        return result


async def _step(name: str) -> None:
    await workflow.execute_activity(bare_step, name, start_to_close_timeout=_ACT, retry_policy=_RETRY)


async def _bare_wait(condition: Callable[[], bool], timeout: timedelta) -> None:
    # The same timer TaskWorkflow's waits start (and cancel when the condition holds first).
    with contextlib.suppress(TimeoutError):
        await workflow.wait_condition(condition, timeout=timeout)


@workflow.defn(name="BareTaskWorkflow")
class BareTaskWorkflow:
    """12 activities, 5 updates and 4 timers in TaskWorkflow's order for one member, one wave."""

    def __init__(self) -> None:
        self._offered = self._accepted = self._in = self._out = self._rated = False
        self._verify = self._awarded = False
        self._done = False

    @workflow.run
    async def run(self, task_id: int) -> int:
        await _step("status:offering")
        await _step("find_candidates")
        self._offered = True
        await _bare_wait(lambda: self._accepted, timedelta(minutes=30))       # the wave's timer
        await _step("status:staffed")
        await _bare_wait(lambda: self._in, timedelta(hours=1, minutes=30))    # the no-show timer
        await _bare_wait(lambda: self._out, timedelta(hours=2))               # the window's end
        self._done = True
        await _step("status:done")
        await _bare_wait(lambda: self._rated, timedelta(hours=72))           # the rating window
        await workflow.wait_condition(lambda: self._verify)
        await _step("award_points")
        await _step("status:verified")
        await _step("status:closed")
        self._awarded = True
        return task_id

    @workflow.update(name="answer_offer")
    async def answer_offer(self, member_id: int) -> int:
        await _step("record_answer")
        self._accepted = True
        return member_id

    @answer_offer.validator
    def _v_answer(self, member_id: int) -> None:
        if not self._offered or self._accepted:
            raise ApplicationError("no offer", type="no_offer", non_retryable=True)

    @workflow.update(name="check_in")
    async def check_in(self, member_id: int) -> int:
        await _step("scan")
        self._in = True
        await _step("status:in_progress")
        return member_id

    @check_in.validator
    def _v_in(self, member_id: int) -> None:
        if not self._accepted or self._in:
            raise ApplicationError("not assigned", type="not_assigned", non_retryable=True)

    @workflow.update(name="check_out")
    async def check_out(self, member_id: int) -> int:
        await _step("scan")
        self._out = True
        return member_id

    @check_out.validator
    def _v_out(self, member_id: int) -> None:
        if not self._in or self._out:
            raise ApplicationError("not checked in", type="not_checked_in", non_retryable=True)

    @workflow.update(name="rate")
    async def rate(self, score: int) -> int:
        await _step("record_rating")
        self._rated = True
        return score

    @rate.validator
    def _v_rate(self, score: int) -> None:
        if not self._done or self._rated:
            raise ApplicationError("not done", type="cannot_rate", non_retryable=True)

    @workflow.update(name="verify")
    async def verify(self, note: str) -> int:
        self._verify = True
        await workflow.wait_condition(lambda: self._awarded)
        return 1

    @verify.validator
    def _v_verify(self, note: str) -> None:
        if not self._rated or self._verify:
            raise ApplicationError("not rated", type="not_rated", non_retryable=True)


# ---------------------------------------------------------------------------------------------
# The city and the drivers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchCity:
    grids: list[tuple[int, int]]   # (grid id, community id)


async def seed_city(pool: Pool, *, communities: int, grids_per_community: int, members_per_grid: int) -> BenchCity:
    """A district of communities, grids in a chain of neighbours, members free all week (COPY)."""
    async with pool.acquire() as conn, conn.transaction():
        # The hierarchy through the product's own bulk path (db/hierarchy.py, as a roster import).
        districts, _ = await hierarchy_db.upsert_districts(conn, names=["基准区"])
        d = districts["基准区"]
        subdistricts, _ = await hierarchy_db.upsert_subdistricts(conn, district_ids=[d], names=["基准街道"])
        s = subdistricts[(d, "基准街道")]
        names = [f"基准社区{c}" for c in range(communities)]
        by_name, _ = await hierarchy_db.upsert_communities(conn, subdistrict_ids=[s] * communities, names=names)
        community_ids = [by_name[(s, name)] for name in names]
        pairs = [(cid, f"网格{c}-{g}") for c, cid in enumerate(community_ids) for g in range(grids_per_community)]
        grid_ids, _ = await hierarchy_db.upsert_grids(
            conn, community_ids=[cid for cid, _ in pairs], names=[name for _, name in pairs],
            branch_names=[None] * len(pairs))
        grids: list[tuple[int, int]] = [(grid_ids[pair], pair[0]) for pair in pairs]
        await hierarchy_db.insert_grid_adjacency(  # a chain of neighbours
            conn, grid_ids=[a for a, _ in grids[:-1]], neighbour_ids=[b for b, _ in grids[1:]])
        everything = list(range(21))
        await conn.copy_records_to_table(
            "member", columns=["name", "home_community_id", "home_grid_id", "free_slots", "max_concurrent_tasks"],
            records=[(f"党员{gid}-{i}", cid, gid, everything, 5) for gid, cid in grids
                     for i in range(members_per_grid)],
        )
        await conn.execute(
            """
            INSERT INTO member_registration (member_id, community_id, grid_id, status, confirmed_at)
            SELECT id, home_community_id, home_grid_id, 'active', now() FROM member
            WHERE home_grid_id = ANY($1::bigint[])
            """,
            [gid for gid, _ in grids],
        )
    return BenchCity(grids=grids)


def _staff(community_id: int) -> Actor:
    return Actor(role=Role.community_staff, scope_kind=ScopeKind.community, scope_id=community_id, label="基准网格员")


def _member(member_id: int) -> Actor:
    return Actor(role=Role.member, scope_kind=ScopeKind.member, scope_id=member_id, label=f"党员{member_id}")


async def _until_allowed(call: Callable[[], Awaitable[T]]) -> T:
    """Ask again while the answer is only "too early" (the workflow has not got there yet)."""
    while True:
        try:
            return await call()
        except Conflict as err:
            if err.code not in EARLY:
                raise
        except WorkflowUpdateFailedError as err:
            if not isinstance(err.cause, ApplicationError) or err.cause.type not in EARLY:
                raise
        await asyncio.sleep(POLL)


def refusal_code(exc: BaseException) -> str | None:
    """The code of a refusal (the service's Conflict or the workflow's ApplicationError), else None."""
    if isinstance(exc, Conflict):
        return exc.code
    if isinstance(exc, WorkflowUpdateFailedError) and isinstance(exc.cause, ApplicationError):
        return exc.cause.type or "refused"
    return None


class RealDriver:
    """A grid worker, a member and a resident taking one task through its whole life.

    Every step goes through `_call`, which asks again while the answer is only "too early";
    a subclass can widen `_retry_after` (the chaos benchmark retries transient outages as a phone
    app would) and every step says how to recognise that an earlier attempt already did it."""

    def __init__(self, pool: Pool, client: Client, city: BenchCity, task_queue: str, *, seed: int = 7) -> None:
        self._pool, self._client, self._city, self._queue = pool, client, city, task_queue
        self._rng = random.Random(seed)
        self.workflow_ids: list[str] = []
        self.task_ids: list[int] = []

    def _retry_after(self, exc: BaseException) -> float | None:
        """Seconds to wait before asking again after `exc`, or None to give up (raise it)."""
        return POLL if refusal_code(exc) in EARLY else None

    async def _call(self, call: Callable[[], Awaitable[T]], *,
                    done: Callable[[], Awaitable[bool]] | None = None) -> T | None:
        """`call`'s result, asked again while `_retry_after` allows. After an attempt that failed
        otherwise than "too early" (its answer lost), a refusal for which `done` holds means that
        attempt did it: None."""
        in_doubt = False
        while True:
            try:
                return await call()
            except Exception as exc:
                code = refusal_code(exc)
                if in_doubt and code is not None and done is not None and await self._call(done):
                    return None
                pause = self._retry_after(exc)
                if pause is None:
                    raise
                in_doubt = in_doubt or code not in EARLY
            await asyncio.sleep(pause)

    async def _assignment_status(self, task_id: int, member_id: int) -> str | None:
        async with self._pool.acquire() as conn:
            status: str | None = await conn.fetchval(
                "SELECT status FROM assignment WHERE task_id = $1 AND member_id = $2", task_id, member_id)
            return status

    async def _task_status(self, task_id: int) -> str | None:
        async with self._pool.acquire() as conn:
            status: str | None = await conn.fetchval("SELECT status FROM task WHERE id = $1", task_id)
            return status

    async def _place_need(self, i: int, grid_id: int, staff: Actor) -> int:
        async def place() -> int:
            now = datetime.now(UTC)
            async with self._pool.acquire() as conn, conn.transaction():
                need = await dispatch.place_need(conn, staff, NeedCreate(
                    category="助老助残", grid_id=grid_id, description=f"基准需求 {i}"), now=now)
                await dispatch.decide_need(conn, staff, need.id, NeedDecision(approve=True), now=now)
                return need.id
        need_id = await self._call(place)
        assert need_id is not None
        return need_id

    async def _create(self, i: int, need_id: int, staff: Actor) -> tuple[int, str] | None:
        """The task and its check-in token; None when an attempt whose answer was lost created it
        (the token is then unknown: the task is left to its workflow)."""
        async def create() -> tuple[int, str]:
            now = datetime.now(UTC)
            created = await dispatch.create_task(
                self._pool, self._client, staff,
                TaskCreate(need_id=need_id, title=f"基准任务 {i}", window_start=now + timedelta(hours=1),
                           window_end=now + timedelta(hours=2)),
                now=now, task_queue=self._queue,
            )
            _CREATED_AT[created.task.id] = time.time()
            return created.task.id, created.qr_token

        async def converted() -> bool:
            async with self._pool.acquire() as conn:
                task_id = await conn.fetchval("SELECT id FROM task WHERE need_id = $1", need_id)
            if task_id is not None:
                self.task_ids.append(int(task_id))
                self.workflow_ids.append(task_rules.task_workflow_id(int(task_id)))
            return task_id is not None

        created = await self._call(create, done=converted)
        if created is not None:
            self.task_ids.append(created[0])
            self.workflow_ids.append(task_rules.task_workflow_id(created[0]))
        return created

    async def one(self, i: int) -> None:
        grid_id, community_id = self._city.grids[self._rng.randrange(len(self._city.grids))]
        staff = _staff(community_id)
        need_id = await self._place_need(i, grid_id, staff)
        created = await self._create(i, need_id, staff)
        if created is None:
            return
        task_id, token = created
        async def offered() -> list[int]:
            async with self._pool.acquire() as conn:
                return [o.member_id for o in await dispatch.list_offers(conn, staff, task_id)]

        while True:
            offers = await self._call(offered)
            if offers:
                break
            await asyncio.sleep(POLL)
        member_id = offers[0]
        member = _member(member_id)

        async def holds(*statuses: str) -> bool:
            return await self._assignment_status(task_id, member_id) in statuses

        async def task_in(*statuses: str) -> bool:
            return await self._task_status(task_id) in statuses

        pool, client = self._pool, self._client
        await self._call(lambda: dispatch.answer_offer(pool, client, member, task_id,
                                                       AnswerOfferInput(member_id=member_id, accept=True)),
                         done=lambda: holds("accepted", "checked_in", "checked_out"))
        scan = ScanInput(member_id=member_id, token=token)
        await self._call(lambda: dispatch.check_in(pool, client, member, task_id, scan),
                         done=lambda: holds("checked_in", "checked_out"))
        await self._call(lambda: dispatch.check_out(pool, client, member, task_id, scan),
                         done=lambda: holds("checked_out"))
        await self._call(lambda: dispatch.rate(pool, client, staff, task_id, RateInput(score=5)),
                         done=lambda: _rated(pool, task_id))
        await self._call(lambda: dispatch.verify(pool, client, staff, task_id, None),
                         done=lambda: task_in("verified", "closed"))
        await self._call(lambda: self._client.get_workflow_handle(task_rules.task_workflow_id(task_id)).result())


async def _rated(pool: Pool, task_id: int) -> bool:
    async with pool.acquire() as conn:
        return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM resident_rating WHERE task_id = $1)", task_id))


class BareDriver:
    """The same client calls against the bare workflow."""

    def __init__(self, client: Client, task_queue: str, run_id: str) -> None:
        self._client, self._queue, self._run = client, task_queue, run_id
        self.workflow_ids: list[str] = []

    async def one(self, i: int) -> None:
        workflow_id = f"bare-{self._run}-{i}"
        self.workflow_ids.append(workflow_id)
        offered = _OFFERED.setdefault(workflow_id, asyncio.Event())
        _STARTED[workflow_id] = time.time()
        handle = await self._client.start_workflow(BareTaskWorkflow.run, i, id=workflow_id, task_queue=self._queue)
        await offered.wait()
        del _OFFERED[workflow_id]
        steps: list[Callable[[], Awaitable[int]]] = [
            lambda: run_update(handle, BareTaskWorkflow.answer_offer, 1),
            lambda: run_update(handle, BareTaskWorkflow.check_in, 1),
            lambda: run_update(handle, BareTaskWorkflow.check_out, 1),
            lambda: run_update(handle, BareTaskWorkflow.rate, 5),
            lambda: run_update(handle, BareTaskWorkflow.verify, ""),
        ]
        for step in steps:
            await _until_allowed(step)
        await handle.result()


async def _drive(one: Callable[[int], Awaitable[None]], start: int, n: int, concurrency: int) -> float:
    """Run `n` lifecycles, at most `concurrency` at a time; the wall time in seconds."""
    gate = asyncio.Semaphore(concurrency)

    async def guarded(i: int) -> None:
        async with gate:
            await one(i)

    began = time.perf_counter()
    await asyncio.gather(*(guarded(start + i) for i in range(n)))
    return time.perf_counter() - began


async def _pace(one: Callable[[int], Awaitable[None]], start: int, n: int, rate: float) -> None:
    """Start `n` lifecycles at a steady `rate` per second (open loop: a slow one does not hold
    back the next), and wait for all of them."""
    began = time.perf_counter()
    runs: list[asyncio.Future[None]] = []
    for i in range(n):
        await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
        runs.append(asyncio.ensure_future(one(start + i)))
    await asyncio.gather(*runs)


async def _events_per_task(client: Client, workflow_ids: list[str], sample: int) -> float:
    counts = []
    for workflow_id in workflow_ids[:sample]:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        counts.append(len(history.events))
    return statistics.fmean(counts)


@dataclass(frozen=True)
class FirstOffer:
    """Seconds from need to first offer per task, sorted: commit to commit, and the old figure."""
    committed: list[float]   # need.verified_committed_at -> min(offer.committed_at)
    scheduled: list[float]   # need.created_at -> min(offer.offered_at) (the activity's scheduled time)
    # the commit-to-commit span in its parts (each sorted on its own): verification committed ->
    # the driver's create call (task.created_at) -> the workflow task that wrote the first wave
    # started (offer.offered_at, workflow.now()) -> the find activity running (this process) ->
    # the offers' insert (offer.committed_at, two statements before the activity's commit)
    parts: dict[str, list[float]]


async def _first_offer_latencies(pool: Pool, task_ids: list[int]) -> FirstOffer:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """
            SELECT t.id,
                   extract(epoch FROM min(o.committed_at) - n.verified_committed_at)::float AS committed,
                   extract(epoch FROM min(o.offered_at) - n.created_at)::float AS scheduled,
                   extract(epoch FROM n.verified_committed_at)::float AS verified,
                   extract(epoch FROM t.created_at)::float AS create_called,
                   extract(epoch FROM min(o.offered_at))::float AS task_started,
                   extract(epoch FROM min(o.committed_at))::float AS offer_committed
            FROM task t JOIN need n ON n.id = t.need_id JOIN offer o ON o.task_id = t.id
            WHERE t.id = ANY($1::bigint[]) GROUP BY t.id, n.verified_committed_at, n.created_at
            """,
            task_ids,
        )
    parts: dict[str, list[float]] = {name: [] for name in (*_PARTS, _START_RETURNED)}
    for r in rows:
        found = _FIND_AT.get(task_rules.task_workflow_id(int(r["id"])))
        returned = _CREATED_AT.get(int(r["id"]))
        if found is None or returned is None:
            continue
        stamps = (r["verified"], r["create_called"], r["task_started"], found[0], r["offer_committed"])
        for name, a, b in zip(_PARTS, stamps, stamps[1:], strict=False):
            parts[name].append(b - a)
        parts[_START_RETURNED].append(returned - r["task_started"])
    return FirstOffer(committed=sorted(float(r["committed"]) for r in rows),
                      scheduled=sorted(float(r["scheduled"]) for r in rows),
                      parts={name: sorted(v) for name, v in parts.items()})


_PARTS = ("verify commit -> create called", "-> workflow task started", "-> find running",
          "-> offers stamped")
# beside the parts: the workflow task's start -> the start request's answer back in the driver
# (the server persisting the start; the eager task rides in the same answer)
_START_RETURNED = "(workflow task started -> start call returned)"


def _bare_latencies(workflow_ids: list[str], step: str) -> list[float]:
    """Seconds from each bare workflow's start request to `step` running, sorted."""
    return sorted(_STEP_AT[(w, step)] - _STARTED[w] for w in workflow_ids if (w, step) in _STEP_AT)


def _pct(sorted_values: list[float], p: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, round(p * (len(sorted_values) - 1)))]


def _ms(sorted_values: list[float], *ps: float) -> str:
    return ", ".join(f"p{round(p * 100)} {_pct(sorted_values, p) * 1000:.0f} ms" for p in ps)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Latencies:
    """Need -> first offer of one phase's tasks, and the bare workflows' baseline beside it."""
    first_offer: FirstOffer
    bare_first: list[float]    # bare: start requested -> its first activity running
    bare_second: list[float]   # bare: start requested -> its second activity (the old offer step) running


async def _latencies(pool: Pool, real: RealDriver, bare: BareDriver) -> Latencies:
    return Latencies(first_offer=await _first_offer_latencies(pool, real.task_ids),
                     bare_first=_bare_latencies(bare.workflow_ids, "status:offering"),
                     bare_second=_bare_latencies(bare.workflow_ids, "find_candidates"))


def _print_latencies(label: str, lat: Latencies) -> None:
    committed, scheduled = lat.first_offer.committed, lat.first_offer.scheduled
    print(f"need -> first offer, commit to commit, {label}: {_ms(committed, 0.5, 0.95, 0.99)} "
          f"({len(committed)} tasks; goal p50 <= 300 ms, p99 <= 1000 ms)")
    print(f"  old figure (need placed -> offer activity scheduled): {_ms(scheduled, 0.5, 0.95, 0.99)}")
    parts = lat.first_offer.parts
    if all(parts.values()):
        print("  where it goes (p50 / p99 of each part): " + "; ".join(
            f"{name} {_pct(v, 0.5) * 1000:.0f} / {_pct(v, 0.99) * 1000:.0f} ms" for name, v in parts.items()))
    print(f"  baseline, bare workflow: start -> 1st activity running {_ms(lat.bare_first, 0.5, 0.95, 0.99)}; "
          f"-> 2nd {_ms(lat.bare_second, 0.5, 0.95, 0.99)} ({len(lat.bare_first)} workflows)")


def _goal_met(lat: Latencies) -> bool:
    committed = lat.first_offer.committed
    return bool(committed) and _pct(committed, 0.5) <= GOAL_P50 and _pct(committed, 0.99) <= GOAL_P99


async def run(tasks: int, concurrency: int, warmup: int, sample: int, rates: list[float], paced: int) -> None:
    with tempfile.TemporaryDirectory(prefix="sbd-bench-") as tmp:
        root = Path(tmp)
        pg = await asyncio.to_thread(start_embedded_postgres, root / "postgres")
        temporal = None
        try:
            dsn = pg.get_uri()
            conn = await connect(dsn)
            try:
                await migrate(conn)
            finally:
                await conn.close()
            pool = await open_pool(dsn, min_size=4, max_size=concurrency + 10)
            temporal, client = await start_temporal_dev_server(root / "temporal", port=_free_port(),
                                                               ui_port=_free_port())
            city = await seed_city(pool, communities=4, grids_per_community=5, members_per_grid=40)
            print(f"city: {len(city.grids)} grids, {len(city.grids) * 40} members; "
                  f"tasks {tasks}, {concurrency} in flight, warm-up {warmup}")
            real = RealDriver(pool, client, city, "bench-real")
            bare = BareDriver(client, "bench-bare", run_id=str(int(time.time())))
            real_seconds = bare_seconds = 0.0
            async with Worker(client, task_queue="bench-real", workflows=[TaskWorkflow],
                              activities=DispatchActivities(pool).all(), interceptors=[_FindTimes()]), \
                    Worker(client, task_queue="bench-bare", workflows=[BareTaskWorkflow], activities=[bare_step]):
                await _drive(real.one, 0, warmup, concurrency)
                await _drive(bare.one, 0, warmup, concurrency)
                real.task_ids.clear()
                real.workflow_ids.clear()
                bare.workflow_ids.clear()
                # Alternating halves, so neither pays alone for a server that has grown busier.
                half = tasks // 2
                for start, n in ((warmup, half), (warmup + half, tasks - half)):
                    real_seconds += await _drive(real.one, start, n, concurrency)
                    bare_seconds += await _drive(bare.one, start, n, concurrency)
                saturated = await _latencies(pool, real, bare)
                real_events = await _events_per_task(client, real.workflow_ids, sample)
                bare_events = await _events_per_task(client, bare.workflow_ids, sample)
                # The latency phase: lifecycles arriving at a steady rate, real and bare in
                # alternating halves again; one such phase per rate of the sweep.
                first = warmup + tasks
                steady: list[tuple[float, Latencies]] = []
                for rate in rates:
                    real.task_ids.clear()
                    real.workflow_ids.clear()
                    bare.workflow_ids.clear()
                    for start, n in ((first, paced // 2), (first + paced // 2, paced - paced // 2)):
                        await _pace(real.one, start, n, rate)
                        await _pace(bare.one, start, n, rate)
                    steady.append((rate, await _latencies(pool, real, bare)))
                    first += paced
            await pool.close()
        finally:
            if temporal is not None:
                await temporal.stop()
            await asyncio.to_thread(pg.cleanup)
    real_rate, bare_rate = tasks / real_seconds, tasks / bare_seconds
    print(f"real  : {tasks} tasks in {real_seconds:.1f} s = {real_rate:.1f} tasks/s sustained")
    print(f"bare  : {tasks} workflows in {bare_seconds:.1f} s = {bare_rate:.1f} workflows/s (same shape, empty)")
    print(f"ratio : {real_rate / bare_rate:.2f} of the bare workflow's throughput (goal >= 0.7)")
    print(f"history events per completed task: {real_events:.1f} (bare {bare_events:.1f}, sample of {sample})")
    _print_latencies(f"at saturation ({concurrency} lifecycles in flight, the phase above)", saturated)
    for rate, lat in steady:
        _print_latencies(f"at a steady {rate:g} tasks/s ({rate / real_rate:.0%} of the sustained rate above)", lat)
    # the rates from the lowest up to the first at which the goal failed
    held = list(itertools.takewhile(lambda rl: _goal_met(rl[1]), sorted(steady, key=lambda rl: rl[0])))
    tried = ", ".join(f"{rate:g}" for rate, _ in steady)
    if held:
        best, lat = held[-1]
        print(f"highest paced rate with the goal held: {best:g} tasks/s "
              f"(p50 {_pct(lat.first_offer.committed, 0.5) * 1000:.0f} ms, "
              f"p99 {_pct(lat.first_offer.committed, 0.99) * 1000:.0f} ms; rates tried {tried} tasks/s; "
              f"sustained at saturation {real_rate:.1f} tasks/s)")
    else:
        print(f"highest paced rate with the goal held: none of {tried} tasks/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=40, help="lifecycles in flight at once")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--sample", type=int, default=20, help="histories fetched to count events")
    parser.add_argument("--rate", type=float, default=2.0,
                        help="latency phase: lifecycles started per second (open loop)")
    parser.add_argument("--rates", type=str, default=None,
                        help="latency phase swept over these rates, comma-separated (e.g. 2,3,4); "
                             "prints the highest at which the goal holds. Overrides --rate")
    parser.add_argument("--paced", type=int, default=100, help="latency phase: lifecycles (real and bare each)")
    args = parser.parse_args()
    configure_logging(json=True, level=logging.WARNING)
    rates = [float(r) for r in args.rates.split(",")] if args.rates else [args.rate]
    asyncio.run(run(args.tasks, args.concurrency, args.warmup, args.sample, rates, args.paced))


if __name__ == "__main__":
    main()
