"""The I/O steps of the registration workflows: set-based reminders, status reads, lapsing.

Every business time comes in as `as_of` from the workflow (`workflow.now()`), never from the
wall clock, so the same code runs under virtual time in tests. Every write is idempotent: a
retried or replayed activity sends no reminder twice and lapses nothing twice.
"""

from __future__ import annotations

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db import member_registration as member_db
from db import reminder as reminder_db
from db import unit_registration as unit_db
from db.audit_log import insert_audit_entries
from db.co_building_agreement import update_agreement_status
from db.pool import Conn, Pool
from db.registration_event import insert_events
from db.unit_registration import UnitRegistrationRow
from domain import notification_texts as texts
from domain.reminder_ladder import STEP_LABELS
from schemas.registration import (
    CohortStatus,
    CohortStatusInput,
    ConfirmationReminderInput,
    ConfirmationReminderResult,
    LapseInput,
    LapseResult,
    RenewalReminderInput,
    RenewalReminderResult,
    UnitLapseInput,
    UnitLapseResult,
    UnitRegistrationStatus,
    UnitReminderInput,
    UnitReminderResult,
    UnitStatus,
    UnitStatusInput,
)
from telemetry import metrics

log = structlog.get_logger(__name__)

WORKFLOW_ACTOR = "system:workflow"


# A 1M-member reminder step runs as ~20 statements of this size, each its own short transaction,
# instead of one long one that would hold locks and WAL for minutes.
RENEWAL_CHUNK = 50_000


async def _existing_unit_registration(conn: Conn, registration_id: int) -> UnitRegistrationRow:
    """The unit registration's row; a missing one is refused (not_found), not retried."""
    row = await unit_db.select_unit_registration(conn, registration_id=registration_id)
    if row is None:
        raise ApplicationError(f"单位报到记录 {registration_id} 不存在", type="not_found", non_retryable=True)
    return row


class RegistrationActivities:
    """Built once per worker with the pool; each method is one activity."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    @activity.defn(name="remind_pending_confirmations")
    async def remind_pending_confirmations(
        self, data: ConfirmationReminderInput
    ) -> ConfirmationReminderResult:
        key = reminder_db.ReminderKey("member_confirmation", "registration_cohort", data.cohort_id,
                                      0, data.step.value)
        text = texts.confirmation_pending_for_community(data.step, data.cohort_id)
        async with self._pool.acquire() as conn:
            pending, sent = await reminder_db.remind_communities_pending_confirmation(
                conn, key=key, cohort_id=data.cohort_id,
                reason=f"{STEP_LABELS[data.step]}: 报到申请待确认",
                message=reminder_db.Message(text.category, text.title, text.body),
            )
        log.info("confirmation_reminders", cohort_id=data.cohort_id, step=data.step.value,
                 pending=pending, communities_reminded=sent)
        metrics.REMINDERS_SENT.labels(ladder="member_confirmation", step=data.step.value).inc(sent)
        return ConfirmationReminderResult(pending=pending, communities_reminded=sent)

    @activity.defn(name="cohort_status")
    async def cohort_status(self, data: CohortStatusInput) -> CohortStatus:
        async with self._pool.acquire() as conn:
            open_count, pending, next_deadline = await member_db.select_cohort_status(
                conn, cohort_id=data.cohort_id
            )
        return CohortStatus(open_count=open_count, pending_confirmation=pending,
                            next_deadline=next_deadline)

    @activity.defn(name="remind_due_renewals")
    async def remind_due_renewals(self, data: RenewalReminderInput) -> RenewalReminderResult:
        key = reminder_db.ReminderKey("member_renewal", "registration_cohort", data.cohort_id,
                                      data.cycle, data.step.value)
        reason = f"{STEP_LABELS[data.step]}: 报到将于期限到期, 需重新报到"
        member_text = texts.renewal_due_for_member(data.step, data.deadline)
        unit_text = texts.renewal_due_for_unit(data.step, data.deadline)
        due_total = members_sent = 0
        after_id = 0
        async with self._pool.acquire() as conn:
            while True:
                last_id, due, sent = await reminder_db.remind_members_due_renewal_chunk(
                    conn, key=key, cohort_id=data.cohort_id, deadline=data.deadline,
                    after_id=after_id, limit=RENEWAL_CHUNK, reason=reason,
                    message=reminder_db.Message(member_text.category, member_text.title,
                                                member_text.body),
                )
                if last_id is None:
                    break
                due_total += due
                members_sent += sent
                after_id = last_id
                activity.heartbeat(after_id)
            units_sent = await reminder_db.remind_units_due_renewal(
                conn, key=key, cohort_id=data.cohort_id, deadline=data.deadline, reason=reason,
                message=reminder_db.Message(unit_text.category, unit_text.title, unit_text.body),
            )
        log.info("renewal_reminders", cohort_id=data.cohort_id, cycle=data.cycle,
                 step=data.step.value, due=due_total, members_reminded=members_sent,
                 units_reminded=units_sent)
        metrics.REMINDERS_SENT.labels(ladder="member_reregistration", step=data.step.value).inc(
            members_sent + units_sent)
        return RenewalReminderResult(due=due_total, members_reminded=members_sent,
                                     units_reminded=units_sent)

    @activity.defn(name="lapse_unrenewed")
    async def lapse_unrenewed(self, data: LapseInput) -> LapseResult:
        async with self._pool.acquire() as conn, conn.transaction():
            lapsed = await member_db.lapse_due(
                conn, cohort_id=data.cohort_id, deadline=data.deadline, at=data.as_of,
                actor=WORKFLOW_ACTOR, reason="未按期重新报到",
            )
        log.info("registrations_lapsed", cohort_id=data.cohort_id, lapsed=lapsed)
        return LapseResult(lapsed=lapsed)

    @activity.defn(name="unit_registration_status")
    async def unit_registration_status(self, data: UnitStatusInput) -> UnitStatus:
        async with self._pool.acquire() as conn:
            row = await _existing_unit_registration(conn, data.unit_registration_id)
        return UnitStatus(status=row.status, community_id=row.community_id,
                          unit_id=row.unit_id, agreement_valid_until=row.agreement_valid_until)

    @activity.defn(name="remind_unit_registration")
    async def remind_unit_registration(self, data: UnitReminderInput) -> UnitReminderResult:
        async with self._pool.acquire() as conn:
            row = await _existing_unit_registration(conn, data.unit_registration_id)
            key = reminder_db.ReminderKey(data.ladder, "unit_registration", data.unit_registration_id,
                                          data.cycle, data.step.value)
            if data.ladder == "unit_confirmation":
                text = texts.unit_confirmation_pending(data.step, row.unit_name)
                recipient_kind, recipient_id = "community", int(row.community_id)
                reason = f"{STEP_LABELS[data.step]}: 单位报到待确认"
            else:
                if data.deadline is None:
                    raise ApplicationError("续签提醒缺少到期时间", type="invalid_input",
                                           non_retryable=True)
                text = texts.agreement_renewal_due(data.step, data.deadline, row.community_name)
                recipient_kind, recipient_id = "unit", int(row.unit_id)
                reason = f"{STEP_LABELS[data.step]}: 共建协议即将到期"
            sent = await reminder_db.remind_one(
                conn, key=key, recipient_kind=recipient_kind, recipient_id=recipient_id,
                reason=reason, message=reminder_db.Message(text.category, text.title, text.body),
            )
        log.info("unit_registration_reminder", unit_registration_id=data.unit_registration_id,
                 ladder=data.ladder, step=data.step.value, sent=sent)
        metrics.REMINDERS_SENT.labels(ladder=data.ladder, step=data.step.value).inc(int(sent))
        return UnitReminderResult(sent=sent)

    @activity.defn(name="lapse_unit_registration")
    async def lapse_unit_registration(self, data: UnitLapseInput) -> UnitLapseResult:
        """Lapse the registration and its agreement unless it was renewed past the deadline."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await unit_db.select_unit_registration(
                conn, registration_id=data.unit_registration_id, for_update=True
            )
            if row is None or row.status != UnitRegistrationStatus.active.value:
                return UnitLapseResult(lapsed=False)
            valid_until = row.agreement_valid_until
            if valid_until is not None and valid_until > data.deadline:
                return UnitLapseResult(lapsed=False)
            await unit_db.update_unit_registration(
                conn, registration_id=row.id, status=UnitRegistrationStatus.lapsed.value,
                reason="共建协议到期未续签", agreement_id=row.agreement_id,
                decided_at=row.decided_at, valid_until=row.valid_until,
            )
            if row.agreement_id is not None:
                await update_agreement_status(conn, agreement_id=row.agreement_id, status="lapsed")
            await insert_events(
                conn, kind="unit", registration_ids=[row.id], from_statuses=["active"],
                to_statuses=["lapsed"], actor=WORKFLOW_ACTOR, reasons=["共建协议到期未续签"],
            )
            await insert_audit_entries(
                conn, actor=WORKFLOW_ACTOR, action="lapse", subject_kind="unit_registration",
                subject_ids=[row.id],
                befores=[{"status": "active", "valid_until": valid_until}],
                afters=[{"status": "lapsed", "valid_until": valid_until}],
            )
        log.info("unit_registration_lapsed", unit_registration_id=data.unit_registration_id)
        return UnitLapseResult(lapsed=True)
