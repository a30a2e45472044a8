"""One task's life, from the first offer to the last point: `TaskWorkflow`, id `task-{task_id}`.

Staffing. In dispatch mode 派单 offers go out in waves to the best-ranked members (activity
`dispatch_find_candidates`); each wave waits until its offers are answered or time out, then the
next wave goes out. When a level has nobody left, or its own deadline passes, the task climbs the
ladder grid → adjacent → community → subdistrict → district and that level's staff are told. With
nobody at the top the task is parked 挂账 with a reason, and waits for `requeue`. In claim 认领 and
post 认岗 mode members `claim` until the headcount is reached or the window opens. A task that has
some but not all of its headcount when the ladder is exhausted (or the window opens) goes ahead
with the members it has, flagged understaffed 人手不足 with the shortfall and the community told;
the flag is cleared if a later dispatch fills it.

Service. Members `check_in` and `check_out` by scanning the task's QR token; hours come from the
two scans. Nobody checked in `no_show_grace` after the start → no-show: the slot is freed and the
task is dispatched again. Past the window's end the members on site are reminded, then the
community.

After. The resident `rate`s within `rating_window` or a default rating is recorded. A rating at or
below the threshold puts the task into follow-up instead of closing it. The community `verify`s;
points are credited (once per service, enforced by the ledger's unique key), and the task closes.
Or the community rejects the verification 核查未通过 with a reason (`reject_verification`): no
points, the task goes to follow-up 整改 and the members are told; a later `verify` passes it.

Before anyone has checked in, the community may `cancel`: open offers are withdrawn and members
who accepted are released and told.

Accept/decline, claims, scans, rating, verification, requeue and cancel are validated updates: a refusal
(an expired offer, a full task, a wrong token) comes back to the caller as a Chinese message and
leaves the workflow untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.types import MethodAsyncSingleParam

from workflows.refusal import activity_refusal, refusal
from workflows.retries import QUICK_STEP_RETRY, QUICK_STEP_TIMEOUT

with workflow.unsafe.imports_passed_through():
    from activities.dispatch import DispatchActivities
    from domain.escalation import LADDER, level_deadline, next_level, parked_reason
    from domain.task_rules import TaskRefusal
    from schemas.dispatch import AssignmentStatus, OfferStatus, TaskMode, TaskStatus
    from schemas.matching import EscalationLevel
    from schemas.task_contract import (
        AnswerOfferUpdate,
        AwardPointsInput,
        CancelInput,
        CancelTaskInput,
        Claimed,
        ClaimUpdate,
        ExpireOffersInput,
        FindCandidatesInput,
        FlagUnderstaffedInput,
        NoShowInput,
        NotifyLevelInput,
        OfferAnswered,
        OverdueReminderInput,
        Rated,
        RateUpdate,
        RecordAnswerInput,
        RecordClaimInput,
        RecordRatingInput,
        RecordRatingResult,
        RecordVerifyRejectionInput,
        RejectVerifyInput,
        RequeueInput,
        ScanActivityInput,
        ScanRecorded,
        ScanUpdate,
        SetStatusInput,
        TaskState,
        TaskWorkflowInput,
        TaskWorkflowResult,
        VerificationRejected,
        Verified,
        VerifyInput,
    )


P = TypeVar("P")
R = TypeVar("R")

_HOLDING = (AssignmentStatus.accepted, AssignmentStatus.checked_in, AssignmentStatus.checked_out)

# Runs started before the understaffed flag went ahead short-handed without the flag activity.
PATCH_UNDERSTAFFED = "task-understaffed-flag"
# Runs started before this answered a cancel as soon as it was decided, before it was recorded.
PATCH_CANCEL_RECORDED = "task-cancel-answers-when-recorded"
# A claim in flight holds the last slot; claim/post staffing waits for it to land or be refused.
PATCH_CLAIM_SETTLES = "task-claim-settles-before-staffed"
# A wave's two short steps (the status "offering", then finding and offering) run as local
# activities, inside the workflow task that decided them: the offers are committed without a
# round trip through the server's activity queue for each (need -> first offer, issue 12).
PATCH_LOCAL_OFFER_STEPS = "task-offer-steps-local"
# A person's update (an answer, a claim, a scan, a rating) records itself in a local activity, inside
# the workflow task that accepted it: one round trip through the server instead of a workflow
# task, an activity task and a second workflow task (member actions' p99 under load, issue 12).
PATCH_LOCAL_UPDATE_STEPS = "task-update-steps-local"


@dataclass
class _Offer:
    offer_id: int
    wave: int
    expires_at: datetime
    status: OfferStatus
    answering: bool = False   # an answer is being recorded (the offer is still open until it lands)


async def _wait(condition: Callable[[], bool], timeout: timedelta) -> bool:
    """Wait for `condition` at most `timeout` (at least a second, so a deadline just passed still
    lets pending work land); True when it held, False when the time ran out."""
    try:
        await workflow.wait_condition(condition, timeout=max(timeout, timedelta(seconds=1)))
    except TimeoutError:
        return False
    return True


async def _quick_step(activity: MethodAsyncSingleParam[DispatchActivities, P, R], arg: P, *, local: bool) -> R:
    """A quick dispatch step as a local activity (run by this worker inside the current workflow
    task) or as an ordinary one (scheduled through the server's activity queue). Its failure comes
    out as the step's refusal (its Chinese message and code) either way: an ordinary activity's
    arrives wrapped in ActivityError, a local one's as the activity's own ApplicationError."""
    try:
        if local:
            return await workflow.execute_local_activity_method(
                activity, arg, start_to_close_timeout=QUICK_STEP_TIMEOUT, retry_policy=QUICK_STEP_RETRY)
        return await workflow.execute_activity_method(
            activity, arg, start_to_close_timeout=QUICK_STEP_TIMEOUT, retry_policy=QUICK_STEP_RETRY)
    except (ActivityError, ApplicationError) as err:
        raise activity_refusal(err) from err


def _local_update_steps() -> bool:
    return workflow.patched(PATCH_LOCAL_UPDATE_STEPS)


@workflow.defn(name="TaskWorkflow")
class TaskWorkflow:
    @workflow.init
    def __init__(self, data: TaskWorkflowInput) -> None:
        self._in = data
        self._status = TaskStatus.open
        self._level = LADDER[0]
        self._wave = 0
        self._cycle = 0
        self._offers: dict[int, _Offer] = {}
        self._assigned: dict[int, AssignmentStatus] = {}
        self._reserved = 0          # accepts and claims in flight hold their slot
        self._rating: int | None = None
        self._verify: VerifyInput | None = None
        self._awarded: int | None = None
        self._requeued = False
        self._parked_reason: str | None = None
        self._cancel: CancelInput | None = None
        self._cancel_recorded = False
        self._shortfall = 0
        self._understaffed_flags = 0
        self._rejections = 0
        self._rejecting = False

    # ------------------------------------------------------------------ the process

    @workflow.run
    async def run(self, data: TaskWorkflowInput) -> TaskWorkflowResult:
        # The life runs as its own task so a cancellation can stop it at whatever it awaits.
        life = asyncio.create_task(self._life(data))
        await workflow.wait_condition(lambda: life.done() or self._cancel is not None)
        if life.done():
            return life.result()
        life.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await life
        return await self._cancelled()

    async def _cancelled(self) -> TaskWorkflowResult:
        assert self._cancel is not None
        open_offers = [o for o in self._offers.values() if o.status is OfferStatus.offered and not o.answering]
        for offer in open_offers:
            offer.status = OfferStatus.withdrawn
        self._status = TaskStatus.cancelled
        await workflow.execute_activity_method(
            DispatchActivities.cancel_task,
            CancelTaskInput(task_id=self._in.task_id, offer_ids=[o.offer_id for o in open_offers],
                            reason=self._cancel.reason, actor=self._cancel.actor, as_of=workflow.now()),
            start_to_close_timeout=QUICK_STEP_TIMEOUT, retry_policy=QUICK_STEP_RETRY,
        )
        self._cancel_recorded = True
        return TaskWorkflowResult(task_id=self._in.task_id, status=TaskStatus.cancelled)

    async def _life(self, data: TaskWorkflowInput) -> TaskWorkflowResult:
        while True:
            staffed = await self._staff()
            if not staffed:
                await self._park()
                continue
            if await self._serve():
                break
        await self._set_status(TaskStatus.done)
        await self._collect_rating()
        await workflow.wait_condition(lambda: self._verify is not None)
        assert self._verify is not None
        award = await workflow.execute_activity_method(
            DispatchActivities.award_points,
            AwardPointsInput(task_id=data.task_id, actor=self._verify.actor, as_of=workflow.now()),
            start_to_close_timeout=QUICK_STEP_TIMEOUT, retry_policy=QUICK_STEP_RETRY,
        )
        self._awarded = award.credited + award.already_credited
        await self._set_status(TaskStatus.verified, actor=self._verify.actor)
        await self._set_status(TaskStatus.closed, actor=self._verify.actor)
        return TaskWorkflowResult(task_id=data.task_id, status=self._status, rating=self._rating,
                                  points_credited=self._awarded)

    def _filled(self) -> int:
        return sum(1 for s in self._assigned.values() if s in _HOLDING) + self._reserved

    def _open_offers(self, wave: int | None = None) -> list[int]:
        return [m for m, o in self._offers.items()
                if o.status is OfferStatus.offered and (wave is None or o.wave == wave)]

    async def _staff(self) -> bool:
        """Fill the headcount; False when nobody at all could be found (the task is then parked)."""
        headcount = self._in.headcount
        if self._in.mode is not TaskMode.dispatch:
            await self._set_status(TaskStatus.open)
            wait = self._in.window_start - workflow.now()
            await _wait(lambda: self._filled() >= headcount, wait)
            # A refused claim's reservation filled the last slot only while its check ran: wait
            # for it to settle, and keep taking claims if it was refused before the window opens.
            while workflow.patched(PATCH_CLAIM_SETTLES):
                await workflow.wait_condition(lambda: self._reserved == 0)
                if self._filled() >= headcount or workflow.now() >= self._in.window_start:
                    break
                await _wait(lambda: self._filled() >= headcount, self._in.window_start - workflow.now())
            if self._filled() == 0:
                self._parked_reason = "截至开始时间无人认领"
                return False
            await self._flag_understaffed()
            return True
        policy = self._in.policy
        while True:
            level_ends = workflow.now() + level_deadline(self._level, policy.level_deadlines)
            local = workflow.patched(PATCH_LOCAL_OFFER_STEPS)
            self._status = TaskStatus.offering
            status = self._status_input(TaskStatus.offering, level=self._level, level_deadline_at=level_ends)
            opening: SetStatusInput | None = status
            if not local or self._level != LADDER[0]:
                # An escalation's notice goes out after the task row shows the level it names.
                await self._write_status(status, local=local)
                opening = None
            if self._level != LADDER[0]:
                await self._notify(self._level, "escalated")
            while self._filled() < headcount and workflow.now() < level_ends:
                self._wave += 1
                wave = self._wave
                expires_at = min(workflow.now() + policy.offer_timeout, level_ends)
                # The first level's status goes with its first wave, in one transaction.
                find = FindCandidatesInput(task_id=self._in.task_id, level=self._level, wave=wave,
                                           count=(headcount - self._filled()) * policy.offers_per_slot,
                                           expires_at=expires_at, as_of=workflow.now(), status=opening)
                opening = None
                if local:
                    found = await workflow.execute_local_activity_method(
                        DispatchActivities.find_candidates, find,
                        start_to_close_timeout=QUICK_STEP_TIMEOUT, retry_policy=QUICK_STEP_RETRY)
                else:
                    found = await workflow.execute_activity_method(
                        DispatchActivities.find_candidates, find,
                        start_to_close_timeout=QUICK_STEP_TIMEOUT, retry_policy=QUICK_STEP_RETRY)
                if not found.offers:
                    break   # this level has nobody left
                for sent in found.offers:
                    self._offers[sent.member_id] = _Offer(sent.offer_id, wave, sent.expires_at, OfferStatus.offered)
                await _wait(self._wave_settled(wave), expires_at - workflow.now())
                # A reserved slot is not a filled one until its accept has landed (or failed).
                await workflow.wait_condition(lambda: self._reserved == 0)
                await self._close_wave(wave, filled=self._filled() >= headcount)
            if opening is not None:   # no wave ran at this level: its status alone
                await self._write_status(opening, local=True)
            if self._filled() >= headcount:
                await self._flag_understaffed()
                return True
            nxt = next_level(self._level)
            if nxt is None:
                if self._filled() > 0:
                    # Short-handed beats parked: those who accepted still serve, but flagged.
                    await self._flag_understaffed()
                    return True
                self._parked_reason = parked_reason(headcount, self._filled())
                return False
            self._level = nxt

    async def _flag_understaffed(self) -> None:
        """Record how many people the task still lacks as it goes ahead (0 clears an earlier flag)."""
        shortfall = max(self._in.headcount - self._filled(), 0)
        if shortfall == self._shortfall:
            return   # nothing to record; a fully staffed task never flagged costs no activity
        if not workflow.patched(PATCH_UNDERSTAFFED):
            return
        self._understaffed_flags += 1
        await workflow.execute_activity_method(
            DispatchActivities.flag_understaffed,
            FlagUnderstaffedInput(task_id=self._in.task_id, headcount=self._in.headcount,
                                  filled=self._filled(), flag=self._understaffed_flags, as_of=workflow.now()),
            start_to_close_timeout=QUICK_STEP_TIMEOUT, retry_policy=QUICK_STEP_RETRY,
        )
        self._shortfall = shortfall

    def _wave_settled(self, wave: int) -> Callable[[], bool]:
        """The task is full, or every offer of `wave` has been answered."""
        return lambda: self._filled() >= self._in.headcount or not self._open_offers(wave)

    async def _close_wave(self, wave: int, *, filled: bool) -> None:
        """Offers still open when the wave ends: expired, or withdrawn when the task filled up."""
        status = OfferStatus.withdrawn if filled else OfferStatus.expired
        # Memory first, so an answer arriving while the activity runs is refused by the validator;
        # answers already in flight (answering) are left to finish.
        closing = [o for o in self._offers.values()
                   if o.wave == wave and o.status is OfferStatus.offered and not o.answering]
        for offer in closing:
            offer.status = status
        if not closing:
            return
        await workflow.execute_activity_method(
            DispatchActivities.expire_offers,
            ExpireOffersInput(task_id=self._in.task_id, wave=wave, offer_ids=[o.offer_id for o in closing],
                              status=status, as_of=workflow.now()),
            start_to_close_timeout=QUICK_STEP_TIMEOUT, retry_policy=QUICK_STEP_RETRY,
        )

    async def _park(self) -> None:
        await self._set_status(TaskStatus.parked, reason=self._parked_reason)
        await self._notify(self._level, "parked")
        await workflow.wait_condition(lambda: self._requeued)
        self._requeued = False
        self._parked_reason = None
        self._cycle += 1
        self._level = LADDER[0]

    async def _serve(self) -> bool:
        """True when everyone who came has checked out; False when no-shows freed slots."""
        policy = self._in.policy
        if self._status is not TaskStatus.in_progress:
            await self._set_status(TaskStatus.staffed)
        no_show_at = max(self._in.window_start, workflow.now()) + policy.no_show_grace
        if not await _wait(lambda: not self._with(AssignmentStatus.accepted), no_show_at - workflow.now()):
            missing = self._with(AssignmentStatus.accepted)
            await workflow.execute_activity_method(
                DispatchActivities.mark_no_show,
                NoShowInput(task_id=self._in.task_id, member_ids=missing, as_of=workflow.now()),
                start_to_close_timeout=QUICK_STEP_TIMEOUT, retry_policy=QUICK_STEP_RETRY,
            )
            for member_id in missing:
                self._assigned[member_id] = AssignmentStatus.no_show
            return False
        def all_out() -> bool:
            return not self._with(AssignmentStatus.checked_in)

        if await _wait(all_out, self._in.window_end - workflow.now()):
            return True
        await self._remind_overdue("member", self._with(AssignmentStatus.checked_in))
        if await _wait(all_out, policy.overdue_community_after):
            return True
        await self._remind_overdue("community", self._with(AssignmentStatus.checked_in))
        await workflow.wait_condition(all_out)
        return True

    def _with(self, status: AssignmentStatus) -> list[int]:
        return sorted(m for m, s in self._assigned.items() if s is status)

    async def _collect_rating(self) -> None:
        policy = self._in.policy
        if not await _wait(lambda: self._rating is not None, policy.rating_window):
            await self._record_rating(policy.default_rating, None, defaulted=True)
        assert self._rating is not None
        if self._rating <= policy.low_rating_threshold:
            await self._set_status(TaskStatus.follow_up, reason="居民评价较低, 需回访跟进")
            await self._notify(EscalationLevel.community, "follow_up")

    # ------------------------------------------------------------------ small steps

    async def _set_status(
        self, status: TaskStatus, *, level: EscalationLevel | None = None,
        level_deadline_at: datetime | None = None, reason: str | None = None,
        actor: str = "system:workflow",
    ) -> None:
        self._status = status
        await self._write_status(self._status_input(status, level=level, level_deadline_at=level_deadline_at,
                                                    reason=reason, actor=actor), local=False)

    def _status_input(
        self, status: TaskStatus, *, level: EscalationLevel | None = None,
        level_deadline_at: datetime | None = None, reason: str | None = None,
        actor: str = "system:workflow",
    ) -> SetStatusInput:
        return SetStatusInput(task_id=self._in.task_id, status=status, level=level,
                              level_deadline_at=level_deadline_at, reason=reason, actor=actor,
                              as_of=workflow.now())

    async def _write_status(self, data: SetStatusInput, *, local: bool) -> None:
        if local:
            await workflow.execute_local_activity_method(
                DispatchActivities.set_task_status, data,
                start_to_close_timeout=QUICK_STEP_TIMEOUT, retry_policy=QUICK_STEP_RETRY)
        else:
            await workflow.execute_activity_method(
                DispatchActivities.set_task_status, data,
                start_to_close_timeout=QUICK_STEP_TIMEOUT, retry_policy=QUICK_STEP_RETRY)

    async def _notify(self, level: EscalationLevel, topic: str) -> None:
        await workflow.execute_activity_method(
            DispatchActivities.notify_level,
            NotifyLevelInput(task_id=self._in.task_id, level=level, cycle=self._cycle, topic=topic,
                             as_of=workflow.now()),
            start_to_close_timeout=QUICK_STEP_TIMEOUT, retry_policy=QUICK_STEP_RETRY,
        )

    async def _remind_overdue(self, step: str, member_ids: list[int]) -> None:
        await workflow.execute_activity_method(
            DispatchActivities.remind_overdue,
            OverdueReminderInput(task_id=self._in.task_id, step=step, member_ids=member_ids,
                                 cycle=self._cycle, as_of=workflow.now()),
            start_to_close_timeout=QUICK_STEP_TIMEOUT, retry_policy=QUICK_STEP_RETRY,
        )

    async def _record_rating(self, score: int, comment: str | None, *, defaulted: bool,
                             local: bool = False) -> int:
        res: RecordRatingResult = await _quick_step(
            DispatchActivities.record_rating,
            RecordRatingInput(task_id=self._in.task_id, score=score, comment=comment, defaulted=defaulted,
                              low_rating_threshold=self._in.policy.low_rating_threshold,
                              as_of=workflow.now()),
            local=local,
        )
        # The first rating recorded stands, whichever of the resident and the default came first.
        self._rating = res.score
        return res.score

    # ------------------------------------------------------------------ updates

    @workflow.update(name="answer_offer")
    async def answer_offer(self, data: AnswerOfferUpdate) -> OfferAnswered:
        offer = self._offers[data.member_id]
        if data.accept and self._filled() >= self._in.headcount:
            # Two accepts for the last slot both passed the validator; the first one holds it.
            raise refusal(TaskRefusal.task_full)
        offer.answering = True
        if data.accept:
            self._reserved += 1
        try:
            res = await _quick_step(
                DispatchActivities.record_answer,
                RecordAnswerInput(task_id=self._in.task_id, offer_id=offer.offer_id, member_id=data.member_id,
                                  accept=data.accept, reason=data.reason, as_of=workflow.now()),
                local=_local_update_steps(),
            )
        finally:
            # whichever way the step ended: the offer is answerable again unless it was answered
            offer.answering = False
            if data.accept:
                self._reserved -= 1
        offer.status = res.status
        if res.status is OfferStatus.accepted:
            self._assigned[data.member_id] = AssignmentStatus.accepted
        elif data.accept:
            raise refusal(TaskRefusal.offer_expired)
        workflow.logger.info("offer_answered", extra={"member_id": data.member_id, "status": res.status.value})
        return OfferAnswered(offer_id=offer.offer_id, status=res.status)

    @answer_offer.validator
    def _validate_answer(self, data: AnswerOfferUpdate) -> None:
        if self._cancel is not None:
            raise refusal(TaskRefusal.task_cancelled)
        offer = self._offers.get(data.member_id)
        if offer is None:
            raise refusal(TaskRefusal.no_offer)
        if offer.status is OfferStatus.withdrawn:
            raise refusal(TaskRefusal.task_full)
        if offer.status is OfferStatus.expired or (
            offer.status is OfferStatus.offered and not offer.answering and workflow.now() >= offer.expires_at
        ):
            raise refusal(TaskRefusal.offer_expired)
        if offer.status is not OfferStatus.offered or offer.answering:
            raise refusal(TaskRefusal.no_offer)
        if data.accept and self._filled() >= self._in.headcount:
            raise refusal(TaskRefusal.task_full)

    @workflow.update(name="claim")
    async def claim(self, data: ClaimUpdate) -> Claimed:
        if self._filled() >= self._in.headcount:
            raise refusal(TaskRefusal.task_full)
        self._reserved += 1
        try:
            res = await _quick_step(
                DispatchActivities.record_claim,
                RecordClaimInput(task_id=self._in.task_id, member_id=data.member_id,
                                 source=self._in.mode.value, as_of=workflow.now()),
                local=_local_update_steps(),
            )
        finally:
            self._reserved -= 1
        self._assigned[data.member_id] = AssignmentStatus.accepted
        return Claimed(assignment_id=res.assignment_id, filled=self._filled(), headcount=self._in.headcount)

    @claim.validator
    def _validate_claim(self, data: ClaimUpdate) -> None:
        if self._cancel is not None:
            raise refusal(TaskRefusal.task_cancelled)
        if self._in.mode is TaskMode.dispatch:
            raise refusal(TaskRefusal.not_claimable)
        if data.member_id in self._assigned:
            raise refusal(TaskRefusal.already_assigned)
        if self._status is not TaskStatus.open or self._filled() >= self._in.headcount:
            raise refusal(TaskRefusal.task_full)

    @workflow.update(name="check_in")
    async def check_in(self, data: ScanUpdate) -> ScanRecorded:
        local = _local_update_steps()
        res = await self._scan(data, check_out=False, local=local)
        self._assigned[data.member_id] = res.status
        if self._status in (TaskStatus.staffed, TaskStatus.offering, TaskStatus.open):
            self._status = TaskStatus.in_progress
            await self._write_status(self._status_input(TaskStatus.in_progress), local=local)
        return res

    @check_in.validator
    def _validate_check_in(self, data: ScanUpdate) -> None:
        self._check_scan(data, expected=AssignmentStatus.accepted, otherwise=TaskRefusal.already_checked_in)

    @workflow.update(name="check_out")
    async def check_out(self, data: ScanUpdate) -> ScanRecorded:
        res = await self._scan(data, check_out=True, local=_local_update_steps())
        self._assigned[data.member_id] = res.status
        return res

    @check_out.validator
    def _validate_check_out(self, data: ScanUpdate) -> None:
        self._check_scan(data, expected=AssignmentStatus.checked_in, otherwise=TaskRefusal.not_checked_in)

    def _check_scan(self, data: ScanUpdate, *, expected: AssignmentStatus, otherwise: TaskRefusal) -> None:
        """A scan needs a member holding a place on the task, at the step the scan moves on from."""
        status = self._assigned.get(data.member_id)
        if status is None or status not in _HOLDING:
            raise refusal(TaskRefusal.not_assigned)
        if status is not expected:
            raise refusal(otherwise)

    async def _scan(self, data: ScanUpdate, *, check_out: bool, local: bool) -> ScanRecorded:
        result: ScanRecorded = await _quick_step(
            DispatchActivities.scan,
            ScanActivityInput(task_id=self._in.task_id, member_id=data.member_id, token=data.token,
                              check_out=check_out, report=data.report, as_of=workflow.now()),
            local=local,
        )
        return result

    @workflow.update(name="rate")
    async def rate(self, data: RateUpdate) -> Rated:
        score = await self._record_rating(data.score, data.comment, defaulted=False,
                                          local=_local_update_steps())
        return Rated(score=score, follow_up=score <= self._in.policy.low_rating_threshold)

    @rate.validator
    def _validate_rate(self, data: RateUpdate) -> None:
        if self._status is not TaskStatus.done:
            raise refusal(TaskRefusal.cannot_rate if self._rating is None else TaskRefusal.already_rated)
        if self._rating is not None:
            raise refusal(TaskRefusal.already_rated)

    @workflow.update(name="verify")
    async def verify(self, data: VerifyInput) -> Verified:
        self._verify = data
        await workflow.wait_condition(lambda: self._awarded is not None)
        assert self._awarded is not None
        return Verified(points_credited=self._awarded)

    @verify.validator
    def _validate_verify(self, data: VerifyInput) -> None:
        self._check_verifiable()

    def _check_verifiable(self) -> None:
        """Verification (passing or not) needs a rated task not verified yet, and none under way."""
        if self._verify is not None:
            raise refusal(TaskRefusal.already_verified)
        if self._rating is None or self._status not in (TaskStatus.done, TaskStatus.follow_up):
            raise refusal(TaskRefusal.not_rated)
        if self._rejecting:
            raise refusal(TaskRefusal.verify_in_progress)

    @workflow.update(name="reject_verification")
    async def reject_verification(self, data: RejectVerifyInput) -> VerificationRejected:
        # The rejection runs in the update, not in the life: the life keeps waiting for a passing
        # `verify`, so runs started before this update existed replay unchanged.
        self._rejecting = True
        self._rejections += 1
        try:
            await workflow.execute_activity_method(
                DispatchActivities.record_verify_rejection,
                RecordVerifyRejectionInput(task_id=self._in.task_id, actor=data.actor, reason=data.reason,
                                           rejection=self._rejections, as_of=workflow.now()),
                start_to_close_timeout=QUICK_STEP_TIMEOUT,
                retry_policy=QUICK_STEP_RETRY,
            )
        finally:
            self._rejecting = False
        self._status = TaskStatus.follow_up
        workflow.logger.info("verification_rejected", extra={"rejections": self._rejections})
        return VerificationRejected(status=self._status, rejections=self._rejections)

    @reject_verification.validator
    def _validate_reject_verification(self, data: RejectVerifyInput) -> None:
        self._check_verifiable()
        if not data.reason.strip():
            raise refusal(TaskRefusal.reason_required)

    @workflow.update(name="requeue")
    async def requeue(self, data: RequeueInput) -> TaskState:
        self._requeued = True
        workflow.logger.info("task_requeued", extra={"actor": data.actor})
        return self.snapshot()

    @requeue.validator
    def _validate_requeue(self, data: RequeueInput) -> None:
        if self._status is not TaskStatus.parked or self._requeued:
            raise refusal(TaskRefusal.not_parked)

    @workflow.update(name="cancel")
    async def cancel(self, data: CancelInput) -> TaskState:
        self._cancel = data
        workflow.logger.info("task_cancel_requested", extra={"actor": data.actor})
        if workflow.patched(PATCH_CANCEL_RECORDED):
            # answer once the task row says cancelled, never before (the caller is told a fact)
            await workflow.wait_condition(lambda: self._cancel_recorded)
        else:
            await workflow.wait_condition(lambda: self._status is TaskStatus.cancelled)
        return self.snapshot()

    @cancel.validator
    def _validate_cancel(self, data: CancelInput) -> None:
        started = any(s in (AssignmentStatus.checked_in, AssignmentStatus.checked_out)
                      for s in self._assigned.values())
        if self._cancel is not None or started or self._status not in (
            TaskStatus.open, TaskStatus.offering, TaskStatus.staffed, TaskStatus.parked
        ):
            raise refusal(TaskRefusal.cannot_cancel)

    @workflow.query(name="snapshot")
    def snapshot(self) -> TaskState:
        return TaskState(status=self._status, level=self._level, wave=self._wave, filled=self._filled(),
                            open_offers=self._open_offers(), parked_reason=self._parked_reason,
                            shortfall=self._shortfall)
