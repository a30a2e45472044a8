"""The I/O steps of `UnitTransferWorkflow`: read the status, remind the target unit, expire."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from temporalio import activity

from db import reminder as reminder_db
from db import unit_transfer as transfer_db
from db.pool import Pool
from domain import unit_transfer as rules
from domain.reminder_ladder import STEP_LABELS
from schemas.unit_transfer import (
    ExpireUnitTransferInput,
    ExpireUnitTransferResult,
    UnitTransferReminderInput,
    UnitTransferReminderResult,
    UnitTransferStatus,
    UnitTransferStatusInput,
    UnitTransferStatusResult,
)
from telemetry import metrics

log = structlog.get_logger(__name__)

WORKFLOW_ACTOR = "system:workflow"
REMINDER_LADDER = "unit_transfer"


class UnitTransferActivities:
    """Built once per worker with the pool; each method is one activity."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def all(self) -> list[Callable[..., Any]]:
        return [self.unit_transfer_status, self.remind_unit_transfer, self.expire_unit_transfer]

    @activity.defn(name="unit_transfer_status")
    async def unit_transfer_status(self, data: UnitTransferStatusInput) -> UnitTransferStatusResult:
        """The request's status; a missing row reads as expired (nothing left to wait for)."""
        async with self._pool.acquire() as conn:
            row = await transfer_db.select_transfer(conn, transfer_id=data.transfer_id)
        status = UnitTransferStatus.expired if row is None else row.status
        return UnitTransferStatusResult(status=status)

    @activity.defn(name="remind_unit_transfer")
    async def remind_unit_transfer(self, data: UnitTransferReminderInput) -> UnitTransferReminderResult:
        """Nudge the target unit about a request still pending; the reminder's unique key makes a
        retried activity (or a replayed step) send nothing twice."""
        async with self._pool.acquire() as conn:
            row = await transfer_db.select_transfer(conn, transfer_id=data.transfer_id)
            if row is None or row.status != UnitTransferStatus.pending.value:
                return UnitTransferReminderResult(sent=False)
            text = rules.reminder_to_target(data.step, row.member_name, data.transfer_id, row.expires_at)
            sent = await reminder_db.remind_one(
                conn, key=reminder_db.ReminderKey(REMINDER_LADDER, "unit_transfer", data.transfer_id, 0,
                                                  data.step.value),
                recipient_kind="unit", recipient_id=int(row.to_unit_id),
                reason=f"{STEP_LABELS[data.step]}: 转单位申请待确认",
                message=reminder_db.Message(text.category, text.title, text.body),
            )
        log.info("unit_transfer_reminder", transfer_id=data.transfer_id, step=data.step.value, sent=sent)
        metrics.REMINDERS_SENT.labels(ladder=REMINDER_LADDER, step=data.step.value).inc(int(sent))
        return UnitTransferReminderResult(sent=sent)

    @activity.defn(name="expire_unit_transfer")
    async def expire_unit_transfer(self, data: ExpireUnitTransferInput) -> ExpireUnitTransferResult:
        """Close a request nobody answered and tell both units and the member; False when it was
        decided meanwhile (the row lock orders this against a late accept)."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await transfer_db.select_transfer(conn, transfer_id=data.transfer_id, for_update=True)
            if row is None or row.status != UnitTransferStatus.pending.value:
                return ExpireUnitTransferResult(expired=False)
            await transfer_db.close_transfer(
                conn, transfer_id=data.transfer_id, status=UnitTransferStatus.expired.value,
                decided_by=WORKFLOW_ACTOR, decision_reason="逾期无人处理, 自动失效", decided_at=data.as_of,
            )
            text = rules.expired(row.member_name, row.to_unit_name)
            recipients = [("unit", row.from_unit_id), ("unit", row.to_unit_id), ("member", row.member_id)]
            await transfer_db.insert_transfer_notifications(
                conn, transfer_id=data.transfer_id, event="expired", category=text.category,
                title=text.title, body=text.body,
                recipients=[(kind, int(rid)) for kind, rid in recipients if rid is not None],
            )
        log.info("unit_transfer_expired", transfer_id=data.transfer_id)
        return ExpireUnitTransferResult(expired=True)
