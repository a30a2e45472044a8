"""The points exchange's workflows: `RedemptionWorkflow`, one member's redemption, owning its
expiry; and `RedemptionSweepWorkflow`, the backstop run by a Temporal Schedule.

Started after the redemption is committed (id `exchange-redemption-{id}`); the row lives in
Postgres, this workflow owns only time. It waits until the code lapses, or for the signal
`collected` (the provider confirmed the code, already committed), whichever comes first. At the
lapse it runs `expire_redemption`, which expires an uncollected redemption and returns its points
with a refund line (and the item to stock); for a collected one it changes nothing, so a lost
signal is harmless.

The sweep (Schedule `exchange-redemption-sweep`, every 10 minutes; services/exchange.py keeps it in
place) lapses what a timer missed: redemptions whose code expired more than a grace period ago and
that still wait, because their workflow was never started (the process died between the commit
and the start), was terminated, or its worker was down. It runs the same idempotent step, so a
redemption the timer and the sweep both reach is expired and refunded once.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow

from workflows.retries import STEP_RETRY, STEP_TIMEOUT

with workflow.unsafe.imports_passed_through():
    from activities.exchange import ExchangeActivities
    from schemas.exchange_contract import (
        ExpireInput,
        RedemptionCollected,
        RedemptionWorkflowInput,
        RedemptionWorkflowResult,
        SweepBatchInput,
        SweepInput,
        SweepResult,
    )

SWEEP_SCHEDULE_ID = "exchange-redemption-sweep"


@workflow.defn(name="RedemptionWorkflow")
class RedemptionWorkflow:
    def __init__(self) -> None:
        self._collected = False

    @workflow.signal(name="collected")
    def collected(self, _: RedemptionCollected) -> None:
        self._collected = True

    @workflow.run
    async def run(self, data: RedemptionWorkflowInput) -> RedemptionWorkflowResult:
        remaining = data.expires_at - workflow.now()
        if remaining > timedelta(0):
            # A timeout is the normal path for a code nobody came to collect.
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._collected, timeout=remaining)
        if self._collected:
            return RedemptionWorkflowResult(redemption_id=data.redemption_id, state="collected")
        result = await workflow.execute_activity_method(
            ExchangeActivities.expire_redemption, ExpireInput(redemption_id=data.redemption_id),
            start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY,
        )
        workflow.logger.info("redemption %s: %s", data.redemption_id, result.state)
        return RedemptionWorkflowResult(redemption_id=data.redemption_id, state=result.state)


@workflow.defn(name="RedemptionSweepWorkflow")
class RedemptionSweepWorkflow:
    @workflow.run
    async def run(self, data: SweepInput) -> SweepResult:
        total = SweepResult()
        for _ in range(data.max_batches):
            batch = await workflow.execute_activity_method(
                ExchangeActivities.sweep_lapsed_redemptions,
                SweepBatchInput(grace_seconds=data.grace_seconds, limit=data.batch),
                start_to_close_timeout=STEP_TIMEOUT * 5, retry_policy=STEP_RETRY,
            )
            total = SweepResult(looked_at=total.looked_at + batch.looked_at, expired=total.expired + batch.expired,
                                refunded=total.refunded + batch.refunded)
            if batch.looked_at < data.batch:
                break
        if total.looked_at:
            workflow.logger.info("redemption sweep: %s expired, %s refunded", total.expired, total.refunded)
        return total
