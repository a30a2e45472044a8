"""A unit registration (单位报到) and its yearly co-building agreement (共建协议).

One workflow per unit registration (`unit-registration-{id}`). Postgres is the system of record:
the use cases write decisions and renewals there, then signal `changed`; this workflow re-reads
the row and owns only time.

Phases:
- confirmation: the registration is `submitted`; at submission + 2/5/10/15 days community staff
  are reminded (提醒/催办/督办/通报) until staff confirm or reject. Confirming creates an agreement
  valid one year and makes the registration `active`; rejecting or withdrawing ends the workflow.
- agreement cycle N (N >= 1): at agreement expiry - 60/30/7/0 days the unit is reminded to renew.
  A renewal (`changed` with a later expiry) starts cycle N+1 by continue-as-new. Not renewed by
  expiry + grace: registration and agreement become `lapsed` and the workflow ends.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.change_watch import ChangeWatch
from workflows.retries import STEP_RETRY, STEP_TIMEOUT

with workflow.unsafe.imports_passed_through():
    from activities.registration import RegistrationActivities
    from domain.reminder_ladder import backward_schedule, forward_schedule, steps_to_run
    from schemas.registration import (
        RegistrationChanged,
        UnitLapseInput,
        UnitPhase,
        UnitRegistrationStatus,
        UnitRegistrationWorkflowInput,
        UnitRegistrationWorkflowResult,
        UnitReminderInput,
        UnitStatus,
        UnitStatusInput,
    )



def unit_workflow_id(unit_registration_id: int) -> str:
    return f"unit-registration-{unit_registration_id}"


@workflow.defn(name="UnitRegistrationWorkflow")
class UnitRegistrationWorkflow:
    def __init__(self) -> None:
        self._watch = ChangeWatch()

    @workflow.signal(name="changed")
    def changed(self, signal: RegistrationChanged) -> None:
        del signal
        self._watch.signalled()

    @workflow.run
    async def run(self, data: UnitRegistrationWorkflowInput) -> UnitRegistrationWorkflowResult:
        if data.phase is UnitPhase.confirmation:
            status = await self._confirmation(data)
            if status.status is not UnitRegistrationStatus.active:
                return self._result(data, status.status)
            cycle = 1
        else:
            cycle = data.cycle
        return await self._agreement_cycle(data, cycle)

    async def _confirmation(self, data: UnitRegistrationWorkflowInput) -> UnitStatus:
        start = data.submitted_at or workflow.now()
        status = await self._status(data.unit_registration_id)
        for due in forward_schedule(start, data.policy.confirmation):
            while status.status is UnitRegistrationStatus.submitted and await self._watch.wait_until(
                due.due_at
            ):
                status = await self._status(data.unit_registration_id)
            if status.status is not UnitRegistrationStatus.submitted:
                return status
            await workflow.execute_activity_method(
                RegistrationActivities.remind_unit_registration,
                UnitReminderInput(unit_registration_id=data.unit_registration_id,
                                  ladder="unit_confirmation", cycle=0, step=due.step,
                                  as_of=workflow.now()),
                start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY,
            )
        # The ladder is spent; the registration still waits for a decision.
        while status.status is UnitRegistrationStatus.submitted:
            await self._watch.wait()
            status = await self._status(data.unit_registration_id)
        return status

    async def _agreement_cycle(
        self, data: UnitRegistrationWorkflowInput, cycle: int
    ) -> UnitRegistrationWorkflowResult:
        status = await self._status(data.unit_registration_id)
        deadline = status.agreement_valid_until
        if status.status is not UnitRegistrationStatus.active or deadline is None:
            return self._result(data, status.status, cycle)
        policy = data.policy
        schedule = steps_to_run(backward_schedule(deadline, policy.renewal), workflow.now())
        for until, step in [(d.due_at, d.step) for d in schedule] + [(deadline + policy.lapse_grace, None)]:
            while await self._watch.wait_until(until):
                status = await self._status(data.unit_registration_id)
                if status.status is not UnitRegistrationStatus.active:
                    return self._result(data, status.status, cycle)
                renewed_to = status.agreement_valid_until
                if renewed_to is not None and renewed_to > deadline:
                    workflow.continue_as_new(self._next(data, cycle + 1))
            if step is None:
                break
            await workflow.execute_activity_method(
                RegistrationActivities.remind_unit_registration,
                UnitReminderInput(unit_registration_id=data.unit_registration_id,
                                  ladder="unit_renewal", cycle=cycle, step=step, deadline=deadline,
                                  as_of=workflow.now()),
                start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY,
            )
        lapse = await workflow.execute_activity_method(
            RegistrationActivities.lapse_unit_registration,
            UnitLapseInput(unit_registration_id=data.unit_registration_id, deadline=deadline,
                           as_of=workflow.now()),
            start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY,
        )
        if lapse.lapsed:
            return self._result(data, UnitRegistrationStatus.lapsed, cycle)
        # Renewed between the last look and the lapse check: go on with the next year.
        workflow.continue_as_new(self._next(data, cycle + 1))

    def _next(self, data: UnitRegistrationWorkflowInput, cycle: int) -> UnitRegistrationWorkflowInput:
        return UnitRegistrationWorkflowInput(unit_registration_id=data.unit_registration_id,
                                             policy=data.policy, phase=UnitPhase.agreement, cycle=cycle)

    def _result(
        self, data: UnitRegistrationWorkflowInput, status: UnitRegistrationStatus, cycle: int = 0
    ) -> UnitRegistrationWorkflowResult:
        return UnitRegistrationWorkflowResult(unit_registration_id=data.unit_registration_id,
                                              final_status=status, cycles=cycle)

    async def _status(self, unit_registration_id: int) -> UnitStatus:
        self._watch.mark_seen()
        return await workflow.execute_activity_method(
            RegistrationActivities.unit_registration_status,
            UnitStatusInput(unit_registration_id=unit_registration_id),
            start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY,
        )

