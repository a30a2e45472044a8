"""The I/O step of the service-record workflow: remind whoever must answer a pending record.

Idempotent: the reminder row's unique key (ladder, record, step, recipient) and the notification's
dedupe key mean a retried activity or a restarted worker sends nothing twice; a record already
decided gets no reminder at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db import reminder as reminder_db
from db import service_record as record_db
from db.pool import Pool
from domain.reminder_ladder import STEP_LABELS
from domain.service_record import LADDER, pending_reminder_text, reminder_schedule, service_day
from schemas.service_record import (
    RecordReminderInput,
    RecordReminderResult,
    ServiceRecordPolicy,
    ServiceRecordStatus,
)
from telemetry import metrics

log = structlog.get_logger(__name__)

_RECIPIENT_OF_STEP = {due.step: due.recipient_kind for due in reminder_schedule(ServiceRecordPolicy())}


class ServiceRecordActivities:
    """Built once per worker with the pool; each method is one activity."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def all(self) -> list[Callable[..., Any]]:
        return [self.remind_pending_record]

    @activity.defn(name="remind_pending_service_record")
    async def remind_pending_record(self, data: RecordReminderInput) -> RecordReminderResult:
        async with self._pool.acquire() as conn:
            row = await record_db.select_record(conn, record_id=data.record_id)
            if row is None:
                raise ApplicationError(f"服务记录 {data.record_id} 不存在", type="not_found", non_retryable=True)
            status = row.view.status
            if status is not ServiceRecordStatus.pending:
                return RecordReminderResult(status=status, sent=False)
            recipient_kind = _RECIPIENT_OF_STEP[data.step]
            recipient_id = row.view.community_id if recipient_kind == "community" else row.path.subdistrict_id
            assert recipient_id is not None  # a record's community always has its subdistrict
            text = pending_reminder_text(data.step, data.record_id, row.view.hours, service_day(row.view.started_at))
            sent = await reminder_db.remind_one(
                conn, key=reminder_db.ReminderKey(LADDER, "service_record", data.record_id, 0, data.step.value),
                recipient_kind=recipient_kind, recipient_id=recipient_id,
                reason=f"{STEP_LABELS[data.step]}: 服务记录待核实",
                message=reminder_db.Message(text.category, text.title, text.body),
            )
        log.info("service_record_reminder", record_id=data.record_id, step=data.step.value,
                 recipient_kind=recipient_kind, sent=sent)
        metrics.REMINDERS_SENT.labels(ladder=LADDER, step=data.step.value).inc(int(sent))
        return RecordReminderResult(status=status, sent=sent)
