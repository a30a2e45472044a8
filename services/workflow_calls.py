"""Calls into the long-running workflow that owns a subject (a campaign, a task, a cohort):
starting it exactly once, and sending it a validated update with its refusals translated.

Signalling: a finished or absent workflow needs no telling (nor does anything without a
Temporal client); the skip is logged.

Schedules: `put_schedule` creates a Temporal Schedule or, when it exists, updates it in place (a
changed task queue, interval or calendar takes effect), so every worker may call it at start.

Starting: a second start for the same workflow id, running or closed, is a no-op (a retried
request or launch must not fail, and a closed workflow is not started again).

After release: a use case that takes a connection from its caller (registrations, unit transfers)
commits, then tells or starts its workflow. Inside `connection_then_calls(pool)` those calls wait
until the connection is back in the pool and then run in the order they were made, so nobody holds
a pooled connection while Temporal answers (the commit still comes first, as before).

Updating: an `invalid_input` error (data the database refused) becomes InvalidInput (422); any
other validator's or handler's ApplicationError becomes a Conflict carrying the workflow's
Chinese message and its type as the code; a workflow that is not running (closed or never
started) becomes the caller's own Conflict, which names the subject in words a person can act on.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar, cast

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleAlreadyRunningError,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.types import MethodAsyncSingleParam, MethodSyncOrAsyncSingleParam
from temporalio.workflow import UpdateMethodMultiParam

from db.pool import Conn, Pool
from domain.errors import Conflict, InvalidInput

log = structlog.get_logger(__name__)

R = TypeVar("R")
P = TypeVar("P")

# The calls to Temporal waiting for the connection of the current `connection_then_calls` block.
_after_release: ContextVar[list[Callable[[], Awaitable[None]]] | None] = ContextVar(
    "temporal_calls_after_release", default=None)


@contextlib.asynccontextmanager
async def connection_then_calls(pool: Pool) -> AsyncIterator[Conn]:
    """A pooled connection for one use case; the calls it makes to Temporal through `after_commit`
    (signal_if_running, start_once, ...) run once the connection is released, in their order.
    They run also when the block raises after having queued them: those followed a commit."""
    calls: list[Callable[[], Awaitable[None]]] = []
    token = _after_release.set(calls)
    try:
        async with pool.acquire() as conn:
            yield conn
    finally:
        _after_release.reset(token)
        for call in calls:
            await call()


async def after_commit(call: Callable[[], Awaitable[None]]) -> None:
    """Make `call` (a call to Temporal following a commit) now, or, inside `connection_then_calls`,
    once its connection is back in the pool."""
    pending = _after_release.get()
    if pending is None:
        await call()
    else:
        pending.append(call)


async def put_schedule(client: Client, schedule_id: str, schedule: Schedule) -> str:
    """Create the Schedule, or update the existing one in place to `schedule`; its id."""
    try:
        await client.create_schedule(schedule_id, schedule)
        log.info("schedule_created", schedule_id=schedule_id)
    except ScheduleAlreadyRunningError:
        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(schedule_id).update(replace)
        log.info("schedule_updated", schedule_id=schedule_id)
    return schedule_id


async def start_once(client: Client, workflow: MethodAsyncSingleParam[Any, P, Any], arg: P, *,
                     workflow_id: str, task_queue: str, eager: bool = False,
                     closed_may_rerun: bool = False) -> str:
    """Start the workflow unless one with this id is running or has run; its id either way.

    `closed_may_rerun`: a closed workflow with this id does not count (a lapsed registration
    renewed later gets a fresh run); only a running one makes the start a no-op.

    `eager`: ask the server to hand the first workflow task straight back to a worker of this
    client in this process (a worker polling `task_queue` with a free slot), skipping the task
    queue's dispatch; without such a worker the SDK does not ask, and the start is an ordinary one."""
    async def start() -> None:
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await client.start_workflow(
                workflow, arg, id=workflow_id, task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=(WorkflowIDReusePolicy.ALLOW_DUPLICATE if closed_may_rerun
                                 else WorkflowIDReusePolicy.REJECT_DUPLICATE),
                request_eager_start=eager,
            )

    await after_commit(start)
    return workflow_id


async def run_update(handle: WorkflowHandle[Any, Any], update: UpdateMethodMultiParam[[Any, P], Awaitable[R]],
                     arg: P) -> R:
    """Send `update` (a workflow's update method: its name, argument and result types are the
    workflow's own) and wait for its result; refusals come back as the SDK raises them."""
    # The SDK types an async update method's result as its coroutine; what comes back is the value.
    return cast(R, await handle.execute_update(update, arg))


async def execute_update(client: Client, workflow_id: str,
                         update: UpdateMethodMultiParam[[Any, P], Awaitable[R]], arg: P,
                         *, not_running: Conflict) -> R:
    """The result of `update` (a workflow's update method, so its name, argument and result types
    are the workflow's own); a refusal raises Conflict, a workflow not running raises `not_running`."""
    try:
        result = await run_update(client.get_workflow_handle(workflow_id), update, arg)
    except WorkflowUpdateFailedError as err:
        cause: BaseException | None = err.cause
        if isinstance(cause, ActivityError):   # a handler that let its activity's failure through
            cause = cause.cause
        if isinstance(cause, ApplicationError):
            if cause.type == InvalidInput.code:   # data the database refused (workers/permanent_errors)
                raise InvalidInput(cause.message) from err
            raise Conflict(cause.message, code=cause.type or "refused") from err
        raise
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise not_running from err
        raise
    return result


async def signal_if_running(client: Client | None, workflow_id: str,
                            signal: MethodSyncOrAsyncSingleParam[Any, P, None], arg: P) -> None:
    """Send `signal` (a workflow's signal method) to the workflow if it is running."""
    if client is None:
        return

    async def send() -> None:
        try:
            await client.get_workflow_handle(workflow_id).signal(signal, arg)
        except RPCError as error:
            log.info("workflow_signal_skipped", workflow_id=workflow_id, error=str(error))

    await after_commit(send)
