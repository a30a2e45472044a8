"""A transfer between employer units 转单位, while it waits for the target unit's answer.

One workflow per request (`unit-transfer-{id}`); requests are rare (a member changes jobs), so a
workflow each costs nothing at this load and gives every request its own durable timers.
Postgres is the system of record: the use cases write the decision there and signal `changed`;
this workflow re-reads the status and owns only time.

States: pending → (accepted | refused | cancelled) by people, or → expired by this workflow.
Timers (from the request): at `remind_after` the target unit is reminded (提醒), at `urge_after`
urged (催办), at `expire_after` the request expires and both units and the member are told.
A `changed` signal wakes it early; once the request is no longer pending it ends.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.change_watch import ChangeWatch
from workflows.retries import STEP_RETRY, STEP_TIMEOUT

with workflow.unsafe.imports_passed_through():
    from activities.unit_transfer import UnitTransferActivities
    from schemas.registration import ReminderStep
    from schemas.unit_transfer import (
        ExpireUnitTransferInput,
        UnitTransferChanged,
        UnitTransferReminderInput,
        UnitTransferStatus,
        UnitTransferStatusInput,
        UnitTransferWorkflowInput,
        UnitTransferWorkflowResult,
    )



def unit_transfer_workflow_id(transfer_id: int) -> str:
    return f"unit-transfer-{transfer_id}"


@workflow.defn(name="UnitTransferWorkflow")
class UnitTransferWorkflow:
    def __init__(self) -> None:
        self._watch = ChangeWatch()

    @workflow.signal(name="changed")
    def changed(self, signal: UnitTransferChanged) -> None:
        del signal
        self._watch.signalled()

    @workflow.run
    async def run(self, data: UnitTransferWorkflowInput) -> UnitTransferWorkflowResult:
        policy = data.policy
        ladder = [(data.requested_at + policy.remind_after, ReminderStep.remind),
                  (data.requested_at + policy.urge_after, ReminderStep.urge)]
        reminders = 0
        status = await self._status(data.transfer_id)
        for due_at, step in ladder:
            while status is UnitTransferStatus.pending and await self._watch.wait_until(due_at):
                status = await self._status(data.transfer_id)
            if status is not UnitTransferStatus.pending:
                return UnitTransferWorkflowResult(transfer_id=data.transfer_id, final_status=status,
                                                  reminders=reminders)
            sent = await workflow.execute_activity_method(
                UnitTransferActivities.remind_unit_transfer,
                UnitTransferReminderInput(transfer_id=data.transfer_id, step=step),
                start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY,
            )
            reminders += int(sent.sent)
        while status is UnitTransferStatus.pending and await self._watch.wait_until(
            data.requested_at + policy.expire_after
        ):
            status = await self._status(data.transfer_id)
        if status is UnitTransferStatus.pending:
            expiry = await workflow.execute_activity_method(
                UnitTransferActivities.expire_unit_transfer,
                ExpireUnitTransferInput(transfer_id=data.transfer_id, as_of=workflow.now()),
                start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY,
            )
            # Not expired: decided between the last look and the expiry; read what it became.
            status = UnitTransferStatus.expired if expiry.expired else await self._status(data.transfer_id)
        return UnitTransferWorkflowResult(transfer_id=data.transfer_id, final_status=status,
                                          reminders=reminders)

    async def _status(self, transfer_id: int) -> UnitTransferStatus:
        self._watch.mark_seen()
        result = await workflow.execute_activity_method(
            UnitTransferActivities.unit_transfer_status,
            UnitTransferStatusInput(transfer_id=transfer_id),
            start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY,
        )
        return result.status

