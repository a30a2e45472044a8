"""The worker process body: one Temporal worker on the main task queue, stopped gracefully.

Used by `shuangbaodao worker` (a process of its own) and by `shuangbaodao up` (a task inside the
embedded stack). Both own the pool and the client; this module only runs the worker, and makes
sure the delivery dispatcher runs (started once, whichever worker comes up first), so the outbox
is drained from boot on, not from the first kick, and that the exchange's expiry sweep is
scheduled on this task queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from db.pool import Pool
from schemas.delivery import DispatcherInput
from schemas.settings import Settings
from services.delivery import ensure_dispatcher
from services.exchange import ensure_sweep_schedule
from telemetry.temporal_context import LogContextInterceptor
from workers.permanent_errors import PermanentErrorInterceptor
from workers.registry import all_activities, all_workflows
from workflows.delivery import DISPATCHER_WORKFLOW_ID

log = structlog.get_logger(__name__)


def build_worker(settings: Settings, *, pool: Pool, client: Client) -> Worker:
    """The worker with every registered workflow and activity, sized from the settings."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=list(all_workflows()),
        activities=list(all_activities(pool, reports_dir=settings.reports_dir)),
        max_concurrent_activities=settings.max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
        # In-flight activities get this long to finish before the worker cancels them; a
        # cancelled activity is retried by the server, so nothing is lost, only repeated.
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_seconds),
        interceptors=[LogContextInterceptor(), PermanentErrorInterceptor()],
    )


async def run_worker(
    settings: Settings, *, pool: Pool, client: Client, stop: asyncio.Event,
    dispatcher_id: str | None = DISPATCHER_WORKFLOW_ID, dispatcher_input: DispatcherInput | None = None,
) -> None:
    """Poll `settings.task_queue` until `stop` is set, then shut down gracefully.

    First makes sure the delivery dispatcher (`dispatcher_id`; None, or the setting
    `delivery_dispatcher` off: leave it alone) runs on this task queue; its first task waits for this worker's polls. `dispatcher_input` is for
    tests (a dispatcher limited to their endpoints); the default drains the whole outbox.
    """
    if dispatcher_id is not None and settings.delivery_dispatcher:
        run_id = await ensure_dispatcher(client, settings.task_queue, workflow_id=dispatcher_id,
                                         dispatcher_input=dispatcher_input)
        log.info("delivery_dispatcher_running", workflow_id=dispatcher_id, run_id=run_id)
    if settings.exchange_sweep:
        await ensure_sweep_schedule(client, task_queue=settings.task_queue)
    worker = build_worker(settings, pool=pool, client=client)
    run = asyncio.create_task(worker.run(), name="temporal-worker")
    stopping = asyncio.create_task(stop.wait(), name="worker-stop")
    log.info("worker_started", task_queue=settings.task_queue)
    done, _ = await asyncio.wait({run, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if run in done:
        # The worker ended by itself: that is a fatal error (it would have raised), re-raise it.
        stopping.cancel()
        await run
        return
    log.info("worker_stopping", task_queue=settings.task_queue)
    await stop_worker(worker, run, bound=settings.graceful_shutdown_seconds + SHUTDOWN_SLACK_SECONDS)
    log.info("worker_stopped", task_queue=settings.task_queue)


# Past the grace period activities are cancelled; this much more for them to wind up.
SHUTDOWN_SLACK_SECONDS = 10.0


async def stop_worker(worker: Worker, run: asyncio.Task[None], *, bound: float) -> None:
    """Shut `worker` (running as `run`) down, within `bound` seconds whatever its activities do:
    one that ignores its cancellation is abandoned (the server retries it after its timeout)."""
    try:
        await asyncio.wait_for(worker.shutdown(), timeout=bound)
    except TimeoutError:
        log.error("worker_shutdown_overran", seconds=bound)
        run.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await run
