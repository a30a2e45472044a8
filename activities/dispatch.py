"""The I/O steps of the task workflow: offers, answers, claims, scans, reminders, ratings, points.

Business time always arrives as `as_of` from the workflow (`workflow.now()`), never from the wall
clock, so the same code runs under virtual time in tests. Every write is idempotent: a retried
activity finds its earlier work (the wave's offers, the assignment, the rating, the ledger row
keyed by `service_key`) and does not do it twice. Refusals are non-retryable ApplicationErrors
carrying the Chinese message and a stable type.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db import assignment as assignment_db
from db import need as need_db
from db import offer as offer_db
from db import points as points_db
from db import resident_rating as rating_db
from db import task as task_db
from db.audit_log import insert_audit_entries
from db.notification import insert_member_notifications, insert_notification
from db.pool import Conn, Pool
from domain import notification_texts as texts
from domain import task_rules
from domain.escalation import LEVEL_LABELS, LEVEL_RECIPIENT_KIND
from domain.matching import hard_constraint_violations, rank_candidates
from domain.points import compute_points, service_hours, service_key
from domain.task_rules import TaskRefusal
from schemas.dispatch import AssignmentStatus, OfferStatus, TaskStatus
from schemas.matching import EscalationLevel, MatchWeights
from schemas.task_contract import (
    AwardPointsInput,
    AwardPointsResult,
    CancelTaskInput,
    CancelTaskResult,
    ExpireOffersInput,
    ExpireOffersResult,
    FindCandidatesInput,
    FindCandidatesResult,
    FlagUnderstaffedInput,
    FlagUnderstaffedResult,
    NoShowInput,
    NoShowResult,
    NotifyLevelInput,
    NotifyLevelResult,
    OfferSent,
    OverdueReminderInput,
    OverdueReminderResult,
    RecordAnswerInput,
    RecordAnswerResult,
    RecordClaimInput,
    RecordClaimResult,
    RecordRatingInput,
    RecordRatingResult,
    RecordVerifyRejectionInput,
    RecordVerifyRejectionResult,
    ScanActivityInput,
    ScanRecorded,
    SetStatusInput,
    SetStatusResult,
)
from telemetry import metrics

log = structlog.get_logger(__name__)

WORKFLOW_ACTOR = "system:workflow"
RECENT_WINDOW = task_rules.FAIRNESS_WINDOW


def _refuse(message: str, code: str) -> ApplicationError:
    return ApplicationError(message, type=code, non_retryable=True)


async def _existing_task(conn: Conn, task_id: int) -> task_db.TaskRow:
    """The task's row; a task that does not exist is refused, not retried."""
    task = await task_db.select_task(conn, task_id=task_id)
    if task is None:
        raise _refuse("任务不存在", "not_found")
    return task


async def _existing_task_place(conn: Conn, task_id: int) -> task_db.TaskPlaceRow:
    """Where the task sits (title, community, subdistrict, district); a missing task is refused."""
    place = await task_db.select_task_place(conn, task_id=task_id)
    if place is None:
        raise _refuse("任务不存在", "not_found")
    return place


async def _apply_status(conn: Conn, data: SetStatusInput) -> bool:
    """Move the task to `data.status` (a repeat changes nothing); True when it moved."""
    changed = await task_db.update_task_status(
        conn, task_id=data.task_id, status=data.status.value,
        level=data.level.value if data.level else None,
        level_deadline_at=data.level_deadline_at, parked_reason=data.reason,
        actor=data.actor, at=data.as_of,
    )
    if changed and data.status is TaskStatus.closed:
        # 销号: the need behind a closed task is struck off the need list too.
        task = await task_db.select_task(conn, task_id=data.task_id)
        if task is not None and task.view.need_id is not None:
            await need_db.update_need_status(conn, need_id=task.view.need_id, from_statuses=["converted"],
                                             status="closed", reason=None, at=data.as_of)
    log.info("task_status", task_id=data.task_id, status=data.status.value,
             level=data.level.value if data.level else None, changed=changed)
    return changed


class DispatchActivities:
    """Built once per worker with the pool; each method is one activity."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def all(self) -> list[Callable[..., Any]]:
        """Every activity of this class, for the worker registry."""
        return [self.find_candidates, self.expire_offers, self.record_answer, self.record_claim,
                self.set_task_status, self.notify_level, self.scan, self.mark_no_show,
                self.remind_overdue, self.record_rating, self.award_points, self.cancel_task,
                self.flag_understaffed, self.record_verify_rejection]

    @activity.defn(name="dispatch_find_candidates")
    async def find_candidates(self, data: FindCandidatesInput) -> FindCandidatesResult:
        """Rank the eligible members at the task's level and offer the best `count` this wave."""
        async with self._pool.acquire() as conn, conn.transaction():
            if data.status is not None:   # the status this wave opens, in the same transaction
                await _apply_status(conn, data.status)
            # A retry after the wave was written returns that wave instead of ranking again
            # (ranking again would skip the members already offered and pick others).
            existing = await offer_db.select_wave_offers(conn, task_id=data.task_id, wave=data.wave)
            if existing:
                return FindCandidatesResult(offers=[OfferSent(offer_id=r.id, member_id=r.member_id,
                                                              expires_at=r.expires_at) for r in existing])
            task = await _existing_task(conn, data.task_id)
            spec, city = await task_db.select_matching_task(conn, task=task.view, level=data.level)
            members = await task_db.select_task_candidates(
                conn, task_id=data.task_id, level=data.level.value,
                recent_since=data.as_of - RECENT_WINDOW,
            )
            ranked = rank_candidates(spec, members, city, MatchWeights(), level=data.level,
                                     limit=data.count)
            inserted = await offer_db.insert_offers(
                conn, task_id=data.task_id, wave=data.wave, level=data.level.value,
                member_ids=[m.member_id for m, _ in ranked],
                score_parts=[parts.model_dump() for _, parts in ranked],
                offered_at=data.as_of, expires_at=data.expires_at,
            )
            if inserted:
                # One statement for the wave's invitations: the offers' commit (what the members
                # wait for) comes two statements after their insert, not one per offer.
                invitations = [texts.offer_invitation(task.view.title, task.view.place, r.expires_at)
                               for r in inserted]
                await insert_member_notifications(
                    conn, member_ids=[r.member_id for r in inserted],
                    dedupe_keys=[f"offer:{r.id}" for r in inserted], category=invitations[0].category,
                    titles=[t.title for t in invitations], bodies=[t.body for t in invitations],
                )
                await task_db.insert_task_event(
                    conn, task_id=data.task_id, kind="offers_sent", member_id=None, actor=WORKFLOW_ACTOR,
                    detail={"wave": data.wave, "level": data.level.value,
                            "member_ids": [r.member_id for r in inserted]},
                    at=data.as_of,
                )
        metrics.OFFERS_SENT.inc(len(inserted))
        log.info("offers_sent", task_id=data.task_id, wave=data.wave, level=data.level.value,
                 offers=len(inserted), eligible=len(ranked))
        return FindCandidatesResult(offers=[OfferSent(offer_id=r.id, member_id=r.member_id,
                                                      expires_at=r.expires_at) for r in inserted])

    @activity.defn(name="dispatch_expire_offers")
    async def expire_offers(self, data: ExpireOffersInput) -> ExpireOffersResult:
        async with self._pool.acquire() as conn, conn.transaction():
            # Every writer of offers and assignments locks the task row first: one lock order.
            await task_db.lock_task(conn, task_id=data.task_id)
            members = await offer_db.close_offers(conn, task_id=data.task_id, offer_ids=data.offer_ids,
                                                  status=data.status.value, at=data.as_of)
            if members:
                await task_db.insert_task_event(
                    conn, task_id=data.task_id, kind=f"offers_{data.status.value}", member_id=None,
                    actor=WORKFLOW_ACTOR, detail={"wave": data.wave, "member_ids": members}, at=data.as_of,
                )
        return ExpireOffersResult(expired_member_ids=members)

    @activity.defn(name="dispatch_record_answer")
    async def record_answer(self, data: RecordAnswerInput) -> RecordAnswerResult:
        """Accept (an assignment, if a slot is free) or decline; a repeat returns the same answer."""
        async with self._pool.acquire() as conn, conn.transaction():
            await task_db.lock_task(conn, task_id=data.task_id)
            status = await offer_db.answer_offer(
                conn, offer_id=data.offer_id, status="accepted" if data.accept else "declined",
                reason=data.reason, at=data.as_of,
            )
            assignment_id = None
            if data.accept and status == "accepted":
                assignment_id = await assignment_db.insert_assignment(
                    conn, task_id=data.task_id, member_id=data.member_id, source="offer", at=data.as_of
                )
                if assignment_id is None:
                    # Raising rolls the transaction back, so the offer stays open, not accepted.
                    raise _refuse(TaskRefusal.task_full.message, TaskRefusal.task_full)
            await task_db.insert_task_event(
                conn, task_id=data.task_id, kind=f"offer_{status}", member_id=data.member_id,
                actor=f"member:{data.member_id}", detail={"offer_id": data.offer_id, "reason": data.reason},
                at=data.as_of,
            )
        if assignment_id is not None:
            metrics.OFFERS_ACCEPTED.inc()
        return RecordAnswerResult(status=OfferStatus(status), assignment_id=assignment_id)

    @activity.defn(name="dispatch_record_claim")
    async def record_claim(self, data: RecordClaimInput) -> RecordClaimResult:
        """A claim 认领 or post sign-up 认岗: the member must pass the same hard constraints."""
        async with self._pool.acquire() as conn, conn.transaction():
            task = await _existing_task(conn, data.task_id)
            await task_db.lock_task(conn, task_id=data.task_id)
            member = await task_db.select_member_candidate(
                conn, task_id=data.task_id, member_id=data.member_id,
                recent_since=data.as_of - RECENT_WINDOW,
            )
            if member is None:
                raise _refuse("党员不存在", "not_found")
            spec, city = await task_db.select_matching_task(conn, task=task.view, level=EscalationLevel.community)
            reasons = hard_constraint_violations(spec, member, EscalationLevel.community, city)
            if reasons:
                raise _refuse("不符合认领条件: " + "、".join(reasons), "not_eligible")
            assignment_id = await assignment_db.insert_assignment(
                conn, task_id=data.task_id, member_id=data.member_id, source=data.source, at=data.as_of
            )
            if assignment_id is None:
                raise _refuse(TaskRefusal.task_full.message, TaskRefusal.task_full)
            await task_db.insert_task_event(
                conn, task_id=data.task_id, kind="claimed", member_id=data.member_id,
                actor=f"member:{data.member_id}", detail={"source": data.source}, at=data.as_of,
            )
        return RecordClaimResult(assignment_id=assignment_id)

    @activity.defn(name="dispatch_set_task_status")
    async def set_task_status(self, data: SetStatusInput) -> SetStatusResult:
        async with self._pool.acquire() as conn, conn.transaction():
            changed = await _apply_status(conn, data)
        return SetStatusResult(changed=changed)

    @activity.defn(name="dispatch_notify_level")
    async def notify_level(self, data: NotifyLevelInput) -> NotifyLevelResult:
        """Tell the staff of `level` (community, subdistrict or district) about the task, once."""
        async with self._pool.acquire() as conn, conn.transaction():
            place = await _existing_task_place(conn, data.task_id)
            kind = LEVEL_RECIPIENT_KIND[data.level]
            recipient = {"community": place.community_id, "subdistrict": place.subdistrict_id,
                         "district": place.district_id}[kind]
            text = texts.task_level_notice(data.topic, place.title, LEVEL_LABELS[data.level])
            sent = await insert_notification(
                conn, recipient_kind=kind, recipient_id=recipient, category=text.category,
                title=text.title, body=text.body,
                dedupe_key=f"task:{data.task_id}:{data.topic}:{data.level.value}:{data.cycle}",
            )
            if sent is not None:
                await task_db.insert_task_event(
                    conn, task_id=data.task_id, kind=f"notified_{data.topic}", member_id=None,
                    actor=WORKFLOW_ACTOR, detail={"level": data.level.value, "recipient_kind": kind,
                                                  "recipient_id": recipient}, at=data.as_of,
                )
        if sent is not None and data.topic == "escalated":
            metrics.ESCALATIONS.inc()
        return NotifyLevelResult(notified=0 if sent is None else 1)

    @activity.defn(name="dispatch_scan")
    async def scan(self, data: ScanActivityInput) -> ScanRecorded:
        """Check in or out with the task's QR token; hours come from the two scans."""
        async with self._pool.acquire() as conn, conn.transaction():
            task = await _existing_task(conn, data.task_id)
            if not hmac.compare_digest(task.qr_token_hash, task_rules.hash_qr_token(data.token)):
                raise _refuse(TaskRefusal.bad_token.message, TaskRefusal.bad_token)
            current = await assignment_db.select_assignment(conn, task_id=data.task_id, member_id=data.member_id)
            if current is None:
                raise _refuse(TaskRefusal.not_assigned.message, TaskRefusal.not_assigned)
            if not data.check_out:
                await assignment_db.check_in(conn, task_id=data.task_id, member_id=data.member_id, at=data.as_of)
                after = await assignment_db.select_assignment(conn, task_id=data.task_id, member_id=data.member_id)
                assert after is not None
                await task_db.insert_task_event(
                    conn, task_id=data.task_id, kind="checked_in", member_id=data.member_id,
                    actor=f"member:{data.member_id}", detail={}, at=data.as_of,
                )
                return ScanRecorded(member_id=data.member_id, status=AssignmentStatus(after.status))
            if current.status == "checked_out":   # a retried check-out: report what was recorded
                assert current.hours is not None   # check_out sets the hours with the status
                return ScanRecorded(member_id=data.member_id, status=AssignmentStatus.checked_out,
                                  hours=float(current.hours))
            if current.checked_in_at is None:
                raise _refuse(TaskRefusal.not_checked_in.message, TaskRefusal.not_checked_in)
            hours = service_hours(current.checked_in_at, data.as_of)
            await assignment_db.check_out(conn, task_id=data.task_id, member_id=data.member_id,
                                          at=data.as_of, hours=hours, report=data.report)
            await task_db.insert_task_event(
                conn, task_id=data.task_id, kind="checked_out", member_id=data.member_id,
                actor=f"member:{data.member_id}", detail={"hours": hours}, at=data.as_of,
            )
        return ScanRecorded(member_id=data.member_id, status=AssignmentStatus.checked_out, hours=hours)

    @activity.defn(name="dispatch_mark_no_show")
    async def mark_no_show(self, data: NoShowInput) -> NoShowResult:
        async with self._pool.acquire() as conn, conn.transaction():
            await task_db.lock_task(conn, task_id=data.task_id)
            marked = await assignment_db.mark_no_show(conn, task_id=data.task_id, member_ids=data.member_ids)
            for member_id in marked:
                await offer_db.mark_offer_no_show(conn, task_id=data.task_id, member_id=member_id)
                await task_db.insert_task_event(
                    conn, task_id=data.task_id, kind="no_show", member_id=member_id,
                    actor=WORKFLOW_ACTOR, detail={}, at=data.as_of,
                )
        log.info("no_show", task_id=data.task_id, marked=len(marked))
        return NoShowResult(marked=len(marked))

    @activity.defn(name="dispatch_remind_overdue")
    async def remind_overdue(self, data: OverdueReminderInput) -> OverdueReminderResult:
        """Overdue: first the members on site are reminded, then the community is told."""
        sent = 0
        async with self._pool.acquire() as conn, conn.transaction():
            place = await _existing_task_place(conn, data.task_id)
            if data.step == "member":
                text = texts.task_overdue_for_member(place.title)
                for member_id in data.member_ids:
                    got = await insert_notification(
                        conn, recipient_kind="member", recipient_id=member_id, category=text.category,
                        title=text.title, body=text.body,
                        dedupe_key=f"task:{data.task_id}:overdue:{data.cycle}:member:{member_id}",
                    )
                    sent += got is not None
            else:
                text = texts.task_overdue_for_community(place.title, len(data.member_ids))
                got = await insert_notification(
                    conn, recipient_kind="community", recipient_id=place.community_id,
                    category=text.category, title=text.title, body=text.body,
                    dedupe_key=f"task:{data.task_id}:overdue:{data.cycle}:community",
                )
                sent += got is not None
            if sent:
                await task_db.insert_task_event(
                    conn, task_id=data.task_id, kind=f"overdue_{data.step}", member_id=None,
                    actor=WORKFLOW_ACTOR, detail={"member_ids": data.member_ids}, at=data.as_of,
                )
        return OverdueReminderResult(notified=sent)

    @activity.defn(name="dispatch_record_rating")
    async def record_rating(self, data: RecordRatingInput) -> RecordRatingResult:
        """The first rating stands (the resident's, or the default when the window closed first)."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await rating_db.insert_rating(conn, task_id=data.task_id, score=data.score,
                                                comment=data.comment, defaulted=data.defaulted, at=data.as_of)
            await task_db.insert_task_event(
                conn, task_id=data.task_id, kind="rated", member_id=None,
                actor="system:default" if row.defaulted else "resident",
                detail={"score": row.score, "defaulted": row.defaulted}, at=data.as_of,
            )
        return RecordRatingResult(score=row.score, defaulted=row.defaulted)

    @activity.defn(name="dispatch_award_points")
    async def award_points(self, data: AwardPointsInput) -> AwardPointsResult:
        """Credit each completed service by rule, exactly once (the ledger's unique service_key)."""
        async with self._pool.acquire() as conn, conn.transaction():
            task = await _existing_task(conn, data.task_id)
            rating = await rating_db.select_rating(conn, task_id=data.task_id)
            rule = task.points
            done = await assignment_db.select_completed(conn, task_id=data.task_id)
            parts = [compute_points(rule, hours=float(r.hours or 0), rating=rating.score if rating else None)
                     for r in done]
            credited = await points_db.credit_services(
                conn, task_id=data.task_id,
                member_ids=[r.member_id for r in done],
                service_keys=[service_key(data.task_id, r.member_id) for r in done],
                points=[p.total for p in parts],
                parts=[p.model_dump() for p in parts],
                redeemable=task.redeemable, at=data.as_of,
            )
        log.info("points_awarded", task_id=data.task_id, credited=credited, services=len(done))
        return AwardPointsResult(credited=credited, already_credited=len(done) - credited,
                                 total_points=sum(p.total for p in parts))

    @activity.defn(name="dispatch_cancel_task")
    async def cancel_task(self, data: CancelTaskInput) -> CancelTaskResult:
        """Cancel: open offers withdrawn, members who accepted released and told, status cancelled."""
        async with self._pool.acquire() as conn, conn.transaction():
            await task_db.lock_task(conn, task_id=data.task_id)
            await offer_db.close_offers(conn, task_id=data.task_id, offer_ids=data.offer_ids,
                                        status="withdrawn", at=data.as_of)
            released = await assignment_db.withdraw_open(conn, task_id=data.task_id)
            await task_db.update_task_status(
                conn, task_id=data.task_id, status="cancelled", level=None, level_deadline_at=None,
                parked_reason=None, actor=data.actor, at=data.as_of,
            )
            place = await task_db.select_task_place(conn, task_id=data.task_id)
            title = place.title if place else str(data.task_id)
            text = texts.task_cancelled(title, data.reason)
            for member_id in released:
                await insert_notification(
                    conn, recipient_kind="member", recipient_id=member_id, category=text.category,
                    title=text.title, body=text.body,
                    dedupe_key=f"task:{data.task_id}:cancelled:member:{member_id}",
                )
            await task_db.insert_task_event(
                conn, task_id=data.task_id, kind="cancelled", member_id=None, actor=data.actor,
                detail={"reason": data.reason, "released": released}, at=data.as_of,
            )
        return CancelTaskResult(withdrawn_members=released)

    @activity.defn(name="dispatch_flag_understaffed")
    async def flag_understaffed(self, data: FlagUnderstaffedInput) -> FlagUnderstaffedResult:
        """人手不足: record the shortfall on the task (the ledger filters on it) and tell the
        community; a shortfall of 0 clears an earlier flag."""
        shortfall = max(data.headcount - data.filled, 0)
        notified = 0
        async with self._pool.acquire() as conn, conn.transaction():
            place = await _existing_task_place(conn, data.task_id)
            await task_db.update_understaffed(conn, task_id=data.task_id, shortfall=shortfall, at=data.as_of)
            inserted = await task_db.insert_task_event_once(
                conn, task_id=data.task_id, kind="understaffed" if shortfall else "understaffed_cleared",
                dedupe=str(data.flag), member_id=None, actor=WORKFLOW_ACTOR,
                detail={"headcount": data.headcount, "filled": data.filled, "shortfall": shortfall},
                at=data.as_of,
            )
            if shortfall and inserted:
                sent = await insert_notification(
                    conn, recipient_kind="community", recipient_id=place.community_id,
                    category="dispatch_understaffed", title="【人手不足】任务未能满员",
                    body=task_rules.understaffed_text(place.title, headcount=data.headcount,
                                                      filled=data.filled),
                    dedupe_key=f"task:{data.task_id}:understaffed:{data.flag}",
                )
                notified = 0 if sent is None else 1
        log.info("task_understaffed", task_id=data.task_id, shortfall=shortfall, filled=data.filled)
        return FlagUnderstaffedResult(shortfall=shortfall, notified=notified)

    @activity.defn(name="dispatch_record_verify_rejection")
    async def record_verify_rejection(self, data: RecordVerifyRejectionInput) -> RecordVerifyRejectionResult:
        """核查未通过: the task goes to follow-up 整改, the history and the audit log say who and why,
        and the members who served are told; no points. A retry writes nothing twice."""
        async with self._pool.acquire() as conn, conn.transaction():
            place = await _existing_task_place(conn, data.task_id)
            before = await _existing_task(conn, data.task_id)
            reason = f"核查未通过: {data.reason}"
            await task_db.update_task_status(
                conn, task_id=data.task_id, status=TaskStatus.follow_up.value, level=None,
                level_deadline_at=None, parked_reason=reason, actor=data.actor, at=data.as_of,
            )
            inserted = await task_db.insert_task_event_once(
                conn, task_id=data.task_id, kind="verification_rejected", dedupe=str(data.rejection),
                member_id=None, actor=data.actor, detail={"reason": data.reason, "rejection": data.rejection},
                at=data.as_of,
            )
            members = await assignment_db.select_served_members(conn, task_id=data.task_id)
            if inserted:
                await insert_audit_entries(
                    conn, actor=data.actor, action="task_verification_rejected", subject_kind="task",
                    subject_ids=[data.task_id], befores=[{"status": before.view.status.value}],
                    afters=[{"status": TaskStatus.follow_up.value, "reason": data.reason,
                             "rejection": data.rejection}],
                )
            for member_id in members:
                await insert_notification(
                    conn, recipient_kind="member", recipient_id=member_id, category="dispatch_verify_rejected",
                    title="【核查未通过】服务需整改",
                    body=task_rules.verify_rejected_text(place.title, data.reason),
                    dedupe_key=f"task:{data.task_id}:verify_rejected:{data.rejection}:member:{member_id}",
                )
        log.info("verification_rejected", task_id=data.task_id, rejection=data.rejection, members=len(members))
        return RecordVerifyRejectionResult(notified_members=members)
