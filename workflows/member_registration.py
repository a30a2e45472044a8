"""A cohort of member registrations (个人报到): confirmation nudges, then re-registration cycles.

One workflow per cohort (`member-cohort-{cohort_id}`): a roster import of up to 1M members or a
single self-submission. Rows live in Postgres; this workflow owns only time.

Phases:
- confirmation: while any registration of the cohort is `submitted`, at submission + 2/5/10/15
  days (提醒/催办/督办/通报, configurable) community staff of communities with pending
  registrations are reminded. It ends when none is pending (seen at a step, or when a `changed`
  signal says so) or after the last step.
- renewal cycle N (N >= 1): the deadline is the earliest `valid_until` among active
  registrations. At deadline - 30/14/3/0 days the members still due (valid_until <= deadline)
  and their employer units are reminded; renewing moves a member's valid_until past the deadline
  so they are no longer due. After deadline + grace the still-unrenewed ones lapse. Then
  continue-as-new with cycle N+1, so history stays small. With open registrations but no
  deadline yet (all awaiting confirmation or paused) it looks again after `idle_recheck`.
The workflow ends when the cohort has no open registration.

Signal `changed`: a use case committed a change (confirm, reject, ...); look again now.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

from workflows.change_watch import ChangeWatch
from workflows.retries import LONG_STEP_TIMEOUT, STEP_RETRY, STEP_TIMEOUT

with workflow.unsafe.imports_passed_through():
    from activities.registration import RegistrationActivities
    from domain.reminder_ladder import backward_schedule, forward_schedule, steps_to_run
    from schemas.registration import (
        CohortPhase,
        CohortStatus,
        CohortStatusInput,
        CohortWorkflowInput,
        CohortWorkflowResult,
        ConfirmationReminderInput,
        LapseInput,
        RegistrationChanged,
        RenewalReminderInput,
    )

# A 1M-member reminder step heartbeats to show it is alive.
_HEARTBEAT = timedelta(minutes=2)


def cohort_workflow_id(cohort_id: int) -> str:
    return f"member-cohort-{cohort_id}"


@workflow.defn(name="MemberRegistrationCohortWorkflow")
class MemberRegistrationCohortWorkflow:
    def __init__(self) -> None:
        self._watch = ChangeWatch()
        self._reminders_sent = 0

    @workflow.signal(name="changed")
    def changed(self, signal: RegistrationChanged) -> None:
        del signal
        self._watch.signalled()

    @workflow.run
    async def run(self, data: CohortWorkflowInput) -> CohortWorkflowResult:
        if data.phase is CohortPhase.confirmation:
            await self._confirmation(data)
            cycle = 1
        else:
            cycle = data.cycle
        return await self._renewal_cycle(data, cycle)

    async def _confirmation(self, data: CohortWorkflowInput) -> None:
        start = data.submitted_at or workflow.now()
        schedule = forward_schedule(start, data.policy.confirmation)
        if data.submitted_at is not None:
            # Resumed after continue-as-new: the steps already due ran in the previous run.
            schedule = [due for due in schedule if due.due_at > workflow.now()]
        for due in schedule:
            while await self._watch.wait_until(due.due_at):
                if (await self._status(data.cohort_id)).pending_confirmation == 0:
                    return
                if workflow.info().is_continue_as_new_suggested():
                    # A large cohort confirmed community by community sends thousands of
                    # `changed` signals; a fresh run keeps the history small.
                    workflow.continue_as_new(CohortWorkflowInput(
                        cohort_id=data.cohort_id, policy=data.policy, phase=CohortPhase.confirmation,
                        submitted_at=start))
            result = await workflow.execute_activity_method(
                RegistrationActivities.remind_pending_confirmations,
                ConfirmationReminderInput(cohort_id=data.cohort_id, step=due.step, as_of=workflow.now()),
                start_to_close_timeout=LONG_STEP_TIMEOUT, retry_policy=STEP_RETRY,
            )
            self._reminders_sent += result.communities_reminded
            if result.pending == 0:
                return

    async def _renewal_cycle(self, data: CohortWorkflowInput, cycle: int) -> CohortWorkflowResult:
        policy = data.policy
        status = await self._status(data.cohort_id)
        if status.open_count == 0:
            return CohortWorkflowResult(cohort_id=data.cohort_id, cycles=cycle - 1,
                                        reminders_sent=self._reminders_sent)
        deadline = status.next_deadline
        if deadline is None:
            # Nothing active to re-register yet; look again later or when told of a change.
            await self._watch.wait_until(workflow.now() + policy.idle_recheck)
            workflow.continue_as_new(self._next(data, cycle))
        for due in steps_to_run(backward_schedule(deadline, policy.renewal), workflow.now()):
            await self._sleep_until(due.due_at)
            result = await workflow.execute_activity_method(
                RegistrationActivities.remind_due_renewals,
                RenewalReminderInput(cohort_id=data.cohort_id, cycle=cycle, step=due.step,
                                     deadline=deadline, as_of=workflow.now()),
                start_to_close_timeout=LONG_STEP_TIMEOUT, heartbeat_timeout=_HEARTBEAT, retry_policy=STEP_RETRY,
            )
            self._reminders_sent += result.members_reminded + result.units_reminded
            if result.due == 0:
                # Everyone due renewed (or left): this cycle is over early.
                workflow.continue_as_new(self._next(data, cycle + 1))
        await self._sleep_until(deadline + policy.lapse_grace)
        lapsed = await workflow.execute_activity_method(
            RegistrationActivities.lapse_unrenewed,
            LapseInput(cohort_id=data.cohort_id, deadline=deadline, as_of=workflow.now()),
            start_to_close_timeout=LONG_STEP_TIMEOUT, retry_policy=STEP_RETRY,
        )
        workflow.logger.info("cohort cycle %s done, %s lapsed", cycle, lapsed.lapsed)
        workflow.continue_as_new(self._next(data, cycle + 1))

    def _next(self, data: CohortWorkflowInput, cycle: int) -> CohortWorkflowInput:
        return CohortWorkflowInput(cohort_id=data.cohort_id, policy=data.policy,
                                   phase=CohortPhase.renewal, cycle=cycle)

    async def _status(self, cohort_id: int) -> CohortStatus:
        # Changes signalled before this read are covered by it.
        self._watch.mark_seen()
        return await workflow.execute_activity_method(
            RegistrationActivities.cohort_status,
            CohortStatusInput(cohort_id=cohort_id, as_of=workflow.now()),
            start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY,
        )

    async def _sleep_until(self, until: datetime) -> None:
        remaining = until - workflow.now()
        if remaining > timedelta(0):
            await workflow.sleep(remaining)
