"""The delivery dispatcher: one long-running workflow (`delivery-dispatcher`) that drains the outbox.

Loop: run the `deliver_pending` activity while rows are due; then wait until the earliest retry
or deferred send is due, a `kick` signal arrives (callers kick after inserting deliveries), or
`idle_poll` passes. After `iterations_per_run` loops (or when Temporal suggests it) it continues
as new, so its history stays small. It never completes on its own.

Signal `kick` (DispatcherKick): deliveries were inserted, look now.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.retries import STEP_RETRY

with workflow.unsafe.imports_passed_through():
    from activities.delivery import DeliveryActivities
    from schemas.delivery import DeliverPendingInput, DispatcherInput, DispatcherKick, DispatcherResult

DISPATCHER_WORKFLOW_ID = "delivery-dispatcher"

_SEND_TIMEOUT = timedelta(minutes=10)
_HEARTBEAT = timedelta(minutes=1)
# When rows are due but another run holds their lease, do not spin: look again shortly.
_BUSY_BACKOFF = timedelta(seconds=5)


@workflow.defn(name="DeliveryDispatcherWorkflow")
class DeliveryDispatcherWorkflow:
    def __init__(self) -> None:
        self._kicks = 0
        self._seen = 0

    @workflow.signal(name="kick")
    def kick(self, signal: DispatcherKick) -> None:
        del signal
        self._kicks += 1

    @workflow.run
    async def run(self, data: DispatcherInput) -> DispatcherResult:
        sent = 0
        for _ in range(data.iterations_per_run):
            self._seen = self._kicks
            result = await workflow.execute_activity_method(
                DeliveryActivities.deliver_pending,
                DeliverPendingInput(max_items=data.max_items, as_of=workflow.now(),
                                    endpoint_ids=data.endpoint_ids),
                start_to_close_timeout=_SEND_TIMEOUT, heartbeat_timeout=_HEARTBEAT,
                retry_policy=STEP_RETRY,
            )
            sent += result.sent
            progressed = result.sent + result.failed + result.deferred > 0
            if result.remaining > 0 and progressed:
                continue
            wait = data.idle_poll
            if result.remaining > 0:
                wait = min(wait, _BUSY_BACKOFF)
            if result.next_attempt_at is not None:
                wait = min(wait, max(result.next_attempt_at - workflow.now(), timedelta(seconds=1)))
            await self._wait_for_kick(wait)
            if workflow.info().is_continue_as_new_suggested():
                break
        workflow.logger.info("dispatcher run done, %s sent", sent)
        workflow.continue_as_new(data)

    async def _wait_for_kick(self, timeout: timedelta) -> None:
        if self._kicks != self._seen:
            return
        try:
            await workflow.wait_condition(lambda: self._kicks != self._seen, timeout=timeout)
        except TimeoutError:
            return
