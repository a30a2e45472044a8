"""One member's self-logged service record 服务记录 awaiting the community: `ServiceRecordWorkflow`.

Started after the record is logged (id `service-record-{record_id}`); the row lives in Postgres,
this workflow owns only time. States: pending → decided (ends). Timers: after N days (default 3)
the community is reminded 提醒; after 2N days its subdistrict is urged 催办; then the workflow ends
(the record stays on the community's pending list). Signal `decided`: the community approved or
rejected (already committed), so no further reminder is due. A lost signal is harmless: each
reminder activity reads the record first and sends nothing for a decided one.

One workflow per record rather than one periodic sweep: tens of thousands of records a month are
tens of thousands of small, short histories (a few timers each), and each record's reminders are
durable timers owned by its own workflow, not a poller over a `last_reminded_at` column.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow

from workflows.retries import STEP_RETRY, STEP_TIMEOUT

with workflow.unsafe.imports_passed_through():
    from activities.service_record import ServiceRecordActivities
    from domain.service_record import reminder_schedule
    from schemas.service_record import (
        RecordDecided,
        RecordReminderInput,
        ServiceRecordStatus,
        ServiceRecordWorkflowInput,
        ServiceRecordWorkflowResult,
    )



@workflow.defn(name="ServiceRecordWorkflow")
class ServiceRecordWorkflow:
    def __init__(self) -> None:
        self._decided: ServiceRecordStatus | None = None

    @workflow.signal(name="decided")
    def decided(self, signal: RecordDecided) -> None:
        self._decided = signal.status

    @workflow.run
    async def run(self, data: ServiceRecordWorkflowInput) -> ServiceRecordWorkflowResult:
        start = workflow.now()
        sent = 0
        status = ServiceRecordStatus.pending
        for due in reminder_schedule(data.policy):
            remaining = start + due.after - workflow.now()
            if remaining > timedelta(0):
                # A timeout is the normal path: nobody answered before this step fell due.
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(lambda: self._decided is not None, timeout=remaining)
            if self._decided is not None:
                status = self._decided
                break
            result = await workflow.execute_activity_method(
                ServiceRecordActivities.remind_pending_record,
                RecordReminderInput(record_id=data.record_id, step=due.step),
                start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY,
            )
            status = result.status
            sent += int(result.sent)
            if status is not ServiceRecordStatus.pending:
                break
        workflow.logger.info("service record %s: %s, %s reminders", data.record_id, status.value, sent)
        return ServiceRecordWorkflowResult(record_id=data.record_id, status=status, reminders_sent=sent)
