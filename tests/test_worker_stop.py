"""A worker stops within its bound whatever its activities do (workers/main.stop_worker).

An activity that ignores its cancellation (a call that does not listen, a thread that will not
end) used to hold `worker.shutdown()`, and with it `up` and `shuangbaodao worker`, for ever.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from workers.main import stop_worker

_started = asyncio.Event()
_release = asyncio.Event()


@activity.defn(name="stubborn")
async def stubborn() -> None:
    _started.set()
    while not _release.is_set():
        try:
            await _release.wait()
        except asyncio.CancelledError:
            continue   # ignores its cancellation


@workflow.defn(name="StubbornWorkflow")
class StubbornWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(stubborn, start_to_close_timeout=timedelta(minutes=5))


async def test_an_activity_ignoring_its_cancellation_does_not_hold_the_stop(client: Client, task_queue: str) -> None:
    worker = Worker(client, task_queue=task_queue, workflows=[StubbornWorkflow], activities=[stubborn],
                    workflow_runner=UnsandboxedWorkflowRunner(), graceful_shutdown_timeout=timedelta(seconds=1))
    run = asyncio.create_task(worker.run())
    handle = await client.start_workflow(StubbornWorkflow.run, id=f"stubborn-{uuid.uuid4().hex[:8]}",
                                         task_queue=task_queue)
    try:
        await asyncio.wait_for(_started.wait(), timeout=30)
        asked = time.monotonic()
        await asyncio.wait_for(stop_worker(worker, run, bound=3), timeout=30)
        took = time.monotonic() - asked
        assert took < 3 + 2, f"the worker took {took:.1f}s to stop with a 3s bound"
        assert run.done()
    finally:
        _release.set()
        await handle.terminate("test over")
