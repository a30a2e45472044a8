"""A campaign 活动 from launch to close: its timeline, its reminder waves, its lifecycle updates.

One workflow per campaign (`campaign-{id}`), started when the organization department launches
it. Rows live in Postgres; this workflow owns only time.

Timeline:
- launched: a durable timer until the window starts, then running.
- At each deadline (the registration deadline; the end of each quota period when service quotas
  are set) the reminder ladder runs: each step at deadline + its offset (negative = before) is a
  child `ReminderWaveWorkflow` over every member behind at that moment, telling the recipients
  the step names (member, employer unit, community, subdistrict). Missed steps (paused through
  them) run on resume.
- At the registration deadline and each later step of its ladder, when the campaign sets a unit
  quota (at least X % of a unit's members registered), the wave also reminds every unit below it
  (`unit_quota_rate` of the wave's input); a unit that caught up is not reminded again.
- At the window end (or on `close`) the campaign closes and is handed over to evaluation: an
  event is recorded and `EvaluationWorkflow` (id `evaluation-campaign-{id}`) is started as an
  abandoned child; it moves the campaign closed → evaluated when it finishes.
After each deadline the workflow continues as new once Temporal suggests it, so history stays
small however long the campaign runs.

Updates (validated against domain.campaign_rules before they are accepted): `pause`, `resume`,
`extend` (later window end / registration deadline), `cancel`, `close` (now), `mobilise`
(平急转换: one task per grid in scope, staffed by batch matching).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from workflows.retries import STEP_RETRY, STEP_TIMEOUT

with workflow.unsafe.imports_passed_through():
    from activities.campaign import CampaignActivities
    from domain import campaign_rules as rules
    from domain import campaign_unit_quota as unit_quota
    from domain.errors import DomainError
    from schemas.campaign import CampaignStatus, DeadlineKind, LadderStep
    from schemas.campaign_contract import (
        CampaignPlan,
        CampaignPlanInput,
        CampaignStatusChanged,
        CampaignWorkflowInput,
        CampaignWorkflowResult,
        CancelInput,
        CloseInput,
        ExtendInput,
        MobiliseActivityInput,
        Mobilised,
        MobiliseInput,
        PauseInput,
        RecordStatusInput,
        ReminderWaveInput,
        ResumeInput,
    )
    from schemas.delivery import DispatcherKick
    from schemas.evaluation_contract import EvaluationInput
    from workflows.delivery import DISPATCHER_WORKFLOW_ID
    from workflows.evaluation import EvaluationWorkflow
    from workflows.reminder_wave import ReminderWaveWorkflow

S = CampaignStatus
_MOBILISE = timedelta(minutes=30)
_FINAL = (S.closed, S.evaluated, S.cancelled)


def campaign_workflow_id(campaign_id: int) -> str:
    return f"campaign-{campaign_id}"


def _deadline_key(kind: str, period: int) -> str:
    return f"{kind}:{period}"


@workflow.defn(name="CampaignWorkflow")
class CampaignWorkflow:
    def __init__(self) -> None:
        self._plan: CampaignPlan | None = None
        self._changes = 0
        self._steps_done: dict[str, int] = {}
        self._waves = 0

    @property
    def _p(self) -> CampaignPlan:
        assert self._plan is not None
        return self._plan

    # --- updates ------------------------------------------------------------------------------

    def _check(self, action: str) -> CampaignPlan:
        if self._plan is None:
            raise ValueError("活动尚在加载, 请稍后再试")
        try:
            rules.check(action, self._plan.status)
        except DomainError as err:
            raise ValueError(err.message) from err
        return self._plan

    async def _record(self, data: RecordStatusInput) -> CampaignStatusChanged:
        result = await workflow.execute_activity_method(
            CampaignActivities.record_status, data, start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY)
        plan = self._plan
        assert plan is not None
        self._plan = plan.model_copy(update={
            "status": result.status,
            "window_end": data.window_end or plan.window_end,
            "registration_deadline": data.registration_deadline or plan.registration_deadline,
        })
        self._changes += 1
        return self._status()

    def _status(self) -> CampaignStatusChanged:
        plan = self._plan
        assert plan is not None
        return CampaignStatusChanged(campaign_id=plan.campaign_id, status=plan.status,
                                    window_end=plan.window_end,
                                    registration_deadline=plan.registration_deadline)

    @workflow.update(name="pause")
    async def pause(self, data: PauseInput) -> CampaignStatusChanged:
        plan = self._check("pause")
        return await self._record(RecordStatusInput(
            campaign_id=plan.campaign_id, kind="pause", from_statuses=rules.allowed_from("pause"),
            to_status=S.paused, actor=data.actor, detail={"reason": data.reason}, at=workflow.now()))

    @pause.validator
    def _validate_pause(self, data: PauseInput) -> None:
        self._check("pause")

    @workflow.update(name="resume")
    async def resume(self, data: ResumeInput) -> CampaignStatusChanged:
        plan = self._check("resume")
        to = rules.resumed_status(now=workflow.now(), window_start=plan.window_start)
        return await self._record(RecordStatusInput(
            campaign_id=plan.campaign_id, kind="resume", from_statuses=[S.paused], to_status=to,
            actor=data.actor, at=workflow.now()))

    @resume.validator
    def _validate_resume(self, data: ResumeInput) -> None:
        self._check("resume")

    @workflow.update(name="extend")
    async def extend(self, data: ExtendInput) -> CampaignStatusChanged:
        plan = self._check("extend")
        end, deadline = self._extended(plan, data)
        return await self._record(RecordStatusInput(
            campaign_id=plan.campaign_id, kind="extend", from_statuses=rules.allowed_from("extend"),
            actor=data.actor, window_end=end, registration_deadline=deadline, at=workflow.now()))

    def _extended(self, plan: CampaignPlan, data: ExtendInput) -> tuple[datetime, datetime | None]:
        try:
            return rules.validate_extend(
                window_end=plan.window_end, registration_deadline=plan.registration_deadline,
                new_window_end=data.window_end, new_registration_deadline=data.registration_deadline,
                now=workflow.now())
        except DomainError as err:
            raise ValueError(err.message) from err

    @extend.validator
    def _validate_extend(self, data: ExtendInput) -> None:
        self._extended(self._check("extend"), data)

    @workflow.update(name="cancel")
    async def cancel(self, data: CancelInput) -> CampaignStatusChanged:
        plan = self._check("cancel")
        return await self._record(RecordStatusInput(
            campaign_id=plan.campaign_id, kind="cancel", from_statuses=rules.allowed_from("cancel"),
            to_status=S.cancelled, actor=data.actor, detail={"reason": data.reason}, at=workflow.now()))

    @cancel.validator
    def _validate_cancel(self, data: CancelInput) -> None:
        self._check("cancel")

    @workflow.update(name="close")
    async def close(self, data: CloseInput) -> CampaignStatusChanged:
        plan = self._check("close")
        return await self._record(RecordStatusInput(
            campaign_id=plan.campaign_id, kind="close", from_statuses=rules.allowed_from("close"),
            to_status=S.closed, actor=data.actor, at=workflow.now()))

    @close.validator
    def _validate_close(self, data: CloseInput) -> None:
        self._check("close")

    @workflow.update(name="mobilise")
    async def mobilise(self, data: MobiliseInput) -> Mobilised:
        plan = self._check("mobilise")
        return await workflow.execute_activity_method(
            CampaignActivities.mobilise,
            MobiliseActivityInput(campaign_id=plan.campaign_id, data=data, at=workflow.now()),
            start_to_close_timeout=_MOBILISE,
            retry_policy=RetryPolicy(maximum_attempts=3))

    @mobilise.validator
    def _validate_mobilise(self, data: MobiliseInput) -> None:
        self._check("mobilise")

    @workflow.query(name="status")
    def status(self) -> CampaignStatusChanged | None:
        return self._status() if self._plan is not None else None

    # --- timeline ------------------------------------------------------------------------------

    @workflow.run
    async def run(self, data: CampaignWorkflowInput) -> CampaignWorkflowResult:
        self._waves = data.waves_run
        self._steps_done = dict(data.steps_done)
        self._plan = await workflow.execute_activity_method(
            CampaignActivities.load_plan, CampaignPlanInput(campaign_id=data.campaign_id),
            start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY)
        while True:
            if not await self._until_active():
                return await self._finish()
            if await self._wait(self._plan.window_start):
                break
        if self._plan.status is S.launched:
            await self._record(RecordStatusInput(
                campaign_id=data.campaign_id, kind="start", from_statuses=[S.launched],
                to_status=S.running, actor="system:workflow", at=workflow.now()))
        while await self._next_deadline():
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(CampaignWorkflowInput(
                    campaign_id=data.campaign_id, steps_done=self._steps_done, waves_run=self._waves))
        while await self._until_active():
            if await self._wait(self._plan.window_end):
                await self._record(RecordStatusInput(
                    campaign_id=data.campaign_id, kind="close", from_statuses=rules.allowed_from("close"),
                    to_status=S.closed, actor="system:workflow", detail={"reason": "活动期满"},
                    at=workflow.now()))
                break
        return await self._finish()

    async def _finish(self) -> CampaignWorkflowResult:
        plan = self._plan
        assert plan is not None
        if plan.status is S.closed:
            # Hand-over to evaluation: recorded in the campaign's history, then the evaluation
            # engineers' EvaluationWorkflow (by name) is started for this campaign.
            await workflow.execute_activity_method(
                CampaignActivities.record_status,
                RecordStatusInput(campaign_id=plan.campaign_id, kind="handover_to_evaluation",
                                  from_statuses=[S.closed], actor="system:workflow", at=workflow.now()),
                start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY)
            try:
                # Abandoned on purpose: the evaluation outlives this workflow and moves the
                # campaign closed → evaluated when it finishes.
                await workflow.start_child_workflow(
                    EvaluationWorkflow.run, EvaluationInput(campaign_id=plan.campaign_id),
                    id=f"evaluation-campaign-{plan.campaign_id}",
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON)
            except WorkflowAlreadyStartedError:
                workflow.logger.info("campaign %s already handed over", plan.campaign_id)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CampaignWorkflowResult(campaign_id=plan.campaign_id, final_status=plan.status,
                                      waves_run=self._waves)

    async def _next_deadline(self) -> bool:
        """Run the remaining steps of the next deadline not fully done; False when none is left
        (or the campaign stopped). Recomputed after every change (an extension moves deadlines)."""
        while True:
            plan = self._plan
            assert plan is not None
            if plan.status in _FINAL:
                return False
            pending = [d for d in rules.deadlines(
                window_start=plan.window_start, window_end=plan.window_end,
                registration_deadline=plan.registration_deadline, quotas=plan.quotas)
                if self._steps_done.get(_deadline_key(d.kind.value, d.period), 0) < len(plan.reminder_policy.steps)]
            if not pending:
                return False
            deadline = pending[0]
            key = _deadline_key(deadline.kind.value, deadline.period)
            schedule = rules.ladder_schedule(deadline, plan.reminder_policy)
            index = self._steps_done.get(key, 0)
            due = schedule[index]
            seen = self._changes
            if not await self._until_active():
                return False
            if self._changes != seen or not await self._wait(due.due_at):
                continue   # the plan changed while waiting: look again
            result = await workflow.execute_child_workflow(
                ReminderWaveWorkflow.run,
                ReminderWaveInput(
                    campaign_id=plan.campaign_id, deadline_kind=deadline.kind, period=deadline.period,
                    period_start=deadline.period_start, period_end=deadline.period_end,
                    step=due.step.step, notify=due.step.notify, as_of=workflow.now(),
                    partitions=plan.reminder_policy.partitions,
                    concurrency=plan.reminder_policy.concurrency,
                    unit_quota_rate=self._unit_quota_rate(deadline.kind, due.step)),
                id=f"{campaign_workflow_id(plan.campaign_id)}-wave-{deadline.kind.value}-{deadline.period}-{due.step.step.value}",
            )
            workflow.logger.info("campaign %s wave %s: %s reminded", plan.campaign_id, result.wave_id,
                                 result.reminded)
            if result.external_queued:
                await self._kick_dispatcher(result.external_queued)
            self._waves += 1
            self._steps_done[key] = index + 1
            if index + 1 == len(schedule):
                return True

    def _unit_quota_rate(self, kind: DeadlineKind, step: LadderStep) -> float | None:
        """The unit quota this step checks, if any. Only the wave's input changes (the child and
        its id are the same), so this needs no patch for replay; the marker still dates runs
        that check units, and a wave replayed from before it keeps the input it had."""
        rate = self._p.quotas.min_unit_registration_rate
        if rate is None or not unit_quota.applies_at(kind, step):
            return None
        return rate if workflow.patched("campaign-unit-quota") else None

    async def _kick_dispatcher(self, queued: int) -> None:
        """Tell the delivery dispatcher that outbox rows wait. If it is not running they wait for
        its next start (`services.delivery.kick_dispatcher`); the reminders are recorded either way."""
        try:
            await workflow.get_external_workflow_handle(DISPATCHER_WORKFLOW_ID).signal(
                "kick", DispatcherKick(reason=f"campaign {self._p.campaign_id}: {queued} queued"))
        except ApplicationError as err:
            workflow.logger.warning("delivery dispatcher not kicked: %s", err.message)

    async def _until_active(self) -> bool:
        """Wait out a pause; False when the campaign stopped (closed or cancelled)."""
        await workflow.wait_condition(
            lambda: self._plan is not None and self._plan.status is not S.paused)
        assert self._plan is not None
        return self._plan.status not in _FINAL

    async def _wait(self, target: datetime) -> bool:
        """Sleep until `target`; True when it came, False when a change arrived first (the
        caller re-plans: an extension may move the target, a pause stops the clock)."""
        seen = self._changes
        remaining = target - workflow.now()
        if remaining <= timedelta(0):
            return True
        try:
            await workflow.wait_condition(lambda: self._changes != seen, timeout=remaining)
        except TimeoutError:
            return True
        return False
