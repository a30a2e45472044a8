"""One member's redemption in the points exchange: `RedemptionWorkflow`, owning its expiry.

Started after the redemption is committed (id `exchange-redemption-{id}`); the row lives in
Postgres, this workflow owns only time. It waits until the code lapses, or for the signal
`collected` (the provider confirmed the code, already committed), whichever comes first. At the
lapse it runs `expire_redemption`, which expires an uncollected redemption and returns its points
with a refund line (and the item to stock); for a collected one it changes nothing, so a lost
signal is harmless.
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
    )


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
