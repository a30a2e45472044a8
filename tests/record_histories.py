"""Record the histories `tests/test_replay.py` replays: `python -m tests.record_histories`.

Each workflow type runs through a representative scenario on the time-skipping dev server (timers
of days and months pass in moments) and its history is saved as
`tests/histories/<WorkflowType>/<scenario>.json`, the same JSON the Temporal UI downloads.

The activities are scripted stand-ins registered under the real activity names: a history holds
the workflow's commands and the activity *results*, so what matters is that the results are real
result models walking a realistic path (reminders, a decision, a renewal cycle, lapsing); the
database is not needed.

Two more ways in: `save_from_test(handle, scenario)` inside a workflow's own test, and this
module as a pytest plugin (bottom of the file) that keeps what a test session ran.

When to record: after a workflow change has shipped, record the new version under a NEW scenario
name and keep the old files, because runs started by the old version are still out there and must
keep replaying. Existing files are never overwritten unless `--force` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.dispatch_policy import dispatch_policy
from schemas import task_contract
from schemas.dispatch import AssignmentStatus, OfferStatus, TaskMode, TaskStatus
from schemas.registration import (
    CohortStatus,
    CohortStatusInput,
    CohortWorkflowInput,
    ConfirmationReminderInput,
    ConfirmationReminderResult,
    LapseInput,
    LapseResult,
    RegistrationChanged,
    RenewalReminderInput,
    RenewalReminderResult,
    UnitLapseInput,
    UnitLapseResult,
    UnitRegistrationStatus,
    UnitRegistrationWorkflowInput,
    UnitReminderInput,
    UnitReminderResult,
    UnitStatus,
    UnitStatusInput,
)
from stack.binaries import temporal_cli
from workers.registry import all_workflows
from workflows.member_registration import MemberRegistrationCohortWorkflow, cohort_workflow_id
from workflows.task import TaskWorkflow
from workflows.unit_registration import UnitRegistrationWorkflow, unit_workflow_id

HISTORY_DIR = Path(__file__).parent / "histories"
TIME_SKIPPING_ARGS = ["--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true"]
RESULT_TIMEOUT = timedelta(seconds=60)


@dataclass
class ScriptedRegistration:
    """Stand-ins for `activities.registration.RegistrationActivities`, walking one scenario.

    Business time comes from the `as_of` the workflow passes (its virtual clock), as in the real
    activities.
    """

    last_as_of: datetime | None = None
    confirmation_reminders: int = 0
    renewal_reminders: int = 0
    lapse_calls: int = 0
    unit_reminders: int = 0
    unit_decided: bool = False
    unit_valid_until: datetime | None = None
    cohort_deadline: datetime | None = None
    log: list[str] = field(default_factory=list)

    def _seen(self, as_of: datetime, what: str) -> None:
        self.last_as_of = as_of
        self.log.append(what)

    # member cohort

    @activity.defn(name="cohort_status")
    async def cohort_status(self, data: CohortStatusInput) -> CohortStatus:
        self._seen(data.as_of, "cohort_status")
        if self.lapse_calls >= 1:
            # after the first renewal cycle every registration lapsed or left: the cohort closes
            return CohortStatus(open_count=0, pending_confirmation=0, next_deadline=None)
        if self.confirmation_reminders < 2:
            return CohortStatus(open_count=5, pending_confirmation=5, next_deadline=None)
        if self.cohort_deadline is None:
            self.cohort_deadline = data.as_of + timedelta(days=182)
        return CohortStatus(open_count=5, pending_confirmation=0, next_deadline=self.cohort_deadline)

    @activity.defn(name="remind_pending_confirmations")
    async def remind_pending_confirmations(self, data: ConfirmationReminderInput) -> ConfirmationReminderResult:
        self._seen(data.as_of, f"confirmation_{data.step.value}")
        self.confirmation_reminders += 1
        pending = 0 if self.confirmation_reminders >= 2 else 5
        return ConfirmationReminderResult(pending=pending, communities_reminded=2)

    @activity.defn(name="remind_due_renewals")
    async def remind_due_renewals(self, data: RenewalReminderInput) -> RenewalReminderResult:
        self._seen(data.as_of, f"renewal_{data.step.value}")
        self.renewal_reminders += 1
        return RenewalReminderResult(due=4 - min(self.renewal_reminders, 3), members_reminded=3, units_reminded=1)

    @activity.defn(name="lapse_unrenewed")
    async def lapse_unrenewed(self, data: LapseInput) -> LapseResult:
        self._seen(data.as_of, "lapse_unrenewed")
        self.lapse_calls += 1
        return LapseResult(lapsed=1)

    # unit registration

    @activity.defn(name="unit_registration_status")
    async def unit_registration_status(self, data: UnitStatusInput) -> UnitStatus:
        del data
        self.log.append("unit_status")
        if not self.unit_decided:
            return UnitStatus(status=UnitRegistrationStatus.submitted, community_id=1, unit_id=1,
                              agreement_valid_until=None)
        if self.unit_valid_until is None:
            assert self.last_as_of is not None, "the scenario decides only after a reminder"
            self.unit_valid_until = self.last_as_of + timedelta(days=365)
        return UnitStatus(status=UnitRegistrationStatus.active, community_id=1, unit_id=1,
                          agreement_valid_until=self.unit_valid_until)

    @activity.defn(name="remind_unit_registration")
    async def remind_unit_registration(self, data: UnitReminderInput) -> UnitReminderResult:
        self._seen(data.as_of, f"{data.ladder}_{data.step.value}")
        self.unit_reminders += 1
        return UnitReminderResult(sent=True)

    @activity.defn(name="lapse_unit_registration")
    async def lapse_unit_registration(self, data: UnitLapseInput) -> UnitLapseResult:
        self._seen(data.as_of, "unit_lapse")
        return UnitLapseResult(lapsed=True)

    def activities(self) -> list[Callable[..., Awaitable[object]]]:
        return [
            self.cohort_status, self.remind_pending_confirmations, self.remind_due_renewals,
            self.lapse_unrenewed, self.unit_registration_status, self.remind_unit_registration,
            self.lapse_unit_registration,
        ]


@dataclass
class ScriptedDispatch:
    """Stand-ins for `activities.dispatch.DispatchActivities`: nobody found on the first pass,
    a member found after the requeue."""

    requeued: bool = False
    next_offer_id: int = 1

    @activity.defn(name="dispatch_find_candidates")
    async def find_candidates(self, data: task_contract.FindCandidatesInput) -> task_contract.FindCandidatesResult:
        if not self.requeued:
            return task_contract.FindCandidatesResult(offers=[])
        offer = task_contract.OfferSent(offer_id=self.next_offer_id, member_id=7, expires_at=data.expires_at)
        self.next_offer_id += 1
        return task_contract.FindCandidatesResult(offers=[offer])

    @activity.defn(name="dispatch_expire_offers")
    async def expire_offers(self, data: task_contract.ExpireOffersInput) -> task_contract.ExpireOffersResult:
        del data
        return task_contract.ExpireOffersResult(expired_member_ids=[])

    @activity.defn(name="dispatch_record_answer")
    async def record_answer(self, data: task_contract.RecordAnswerInput) -> task_contract.RecordAnswerResult:
        status = OfferStatus.accepted if data.accept else OfferStatus.declined
        return task_contract.RecordAnswerResult(status=status, assignment_id=11 if data.accept else None)

    @activity.defn(name="dispatch_record_claim")
    async def record_claim(self, data: task_contract.RecordClaimInput) -> task_contract.RecordClaimResult:
        del data
        return task_contract.RecordClaimResult(assignment_id=12)

    @activity.defn(name="dispatch_set_task_status")
    async def set_task_status(self, data: task_contract.SetStatusInput) -> task_contract.SetStatusResult:
        del data
        return task_contract.SetStatusResult(changed=True)

    @activity.defn(name="dispatch_notify_level")
    async def notify_level(self, data: task_contract.NotifyLevelInput) -> task_contract.NotifyLevelResult:
        del data
        return task_contract.NotifyLevelResult(notified=2)

    @activity.defn(name="dispatch_scan")
    async def scan(self, data: task_contract.ScanActivityInput) -> task_contract.ScanRecorded:
        if data.check_out:
            return task_contract.ScanRecorded(member_id=data.member_id, status=AssignmentStatus.checked_out, hours=2.0)
        return task_contract.ScanRecorded(member_id=data.member_id, status=AssignmentStatus.checked_in)

    @activity.defn(name="dispatch_mark_no_show")
    async def mark_no_show(self, data: task_contract.NoShowInput) -> task_contract.NoShowResult:
        return task_contract.NoShowResult(marked=len(data.member_ids))

    @activity.defn(name="dispatch_remind_overdue")
    async def remind_overdue(self, data: task_contract.OverdueReminderInput) -> task_contract.OverdueReminderResult:
        return task_contract.OverdueReminderResult(notified=len(data.member_ids))

    @activity.defn(name="dispatch_record_rating")
    async def record_rating(self, data: task_contract.RecordRatingInput) -> task_contract.RecordRatingResult:
        return task_contract.RecordRatingResult(score=data.score, defaulted=data.defaulted)

    @activity.defn(name="dispatch_award_points")
    async def award_points(self, data: task_contract.AwardPointsInput) -> task_contract.AwardPointsResult:
        del data
        return task_contract.AwardPointsResult(credited=1, already_credited=0, total_points=2.0)

    def activities(self) -> list[Callable[..., Awaitable[object]]]:
        return [
            self.find_candidates, self.expire_offers, self.record_answer, self.record_claim,
            self.set_task_status, self.notify_level, self.scan, self.mark_no_show,
            self.remind_overdue, self.record_rating, self.award_points,
        ]


# A scenario returns (scenario name, history) pairs for one workflow type.
Recorded = list[tuple[str, WorkflowHistory]]


async def _history(handle: WorkflowHandle[Any, Any]) -> WorkflowHistory:
    history = await handle.fetch_history()
    return WorkflowHistory.from_json(history.workflow_id, history.to_json())


async def record_member_cohort(client: Client, task_queue: str) -> Recorded:
    """Two confirmation nudges, then a renewal cycle with its ladder and a lapse, then closing."""
    script = ScriptedRegistration()
    workflow_id = f"{cohort_workflow_id(9_000_001)}-{uuid.uuid4().hex[:6]}"
    async with Worker(client, task_queue=task_queue, workflows=[MemberRegistrationCohortWorkflow],
                      activities=script.activities()):
        first = await client.start_workflow(
            MemberRegistrationCohortWorkflow.run, CohortWorkflowInput(cohort_id=9_000_001),
            id=workflow_id, task_queue=task_queue,
        )
        await asyncio.wait_for(first.result(), RESULT_TIMEOUT.total_seconds())
        # A handle from start_workflow follows the chain to its latest run; pin each run by id.
        first_run: WorkflowHandle[Any, Any] = client.get_workflow_handle(
            workflow_id, run_id=first.result_run_id
        )
        last_run: WorkflowHandle[Any, Any] = client.get_workflow_handle(workflow_id)
        return [
            ("confirmation_then_renewal_cycle", await _history(first_run)),
            ("renewal_cycle_closes", await _history(last_run)),
        ]


async def record_unit_registration(client: Client, task_queue: str) -> Recorded:
    """Confirmation nudges until staff confirm (a `changed` signal), the renewal ladder, lapsing."""
    script = ScriptedRegistration()
    workflow_id = f"{unit_workflow_id(9_000_002)}-{uuid.uuid4().hex[:6]}"
    async with Worker(client, task_queue=task_queue, workflows=[UnitRegistrationWorkflow],
                      activities=script.activities()):
        handle = await client.start_workflow(
            UnitRegistrationWorkflow.run, UnitRegistrationWorkflowInput(unit_registration_id=9_000_002),
            id=workflow_id, task_queue=task_queue,
        )
        for _ in range(600):
            if script.unit_reminders >= 1:
                break
            await asyncio.sleep(0.05)
        script.unit_decided = True
        await handle.signal(UnitRegistrationWorkflow.changed, RegistrationChanged(reason="confirmed"))
        await asyncio.wait_for(handle.result(), RESULT_TIMEOUT.total_seconds())
        return [("confirmed_then_lapsed", await _history(handle))]


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(400):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"scenario stuck waiting for {what}")


async def record_task(client: Client, task_queue: str) -> Recorded:
    """Nobody at any level → parked → requeued → offer accepted → check-in/out → rated → verified.

    Run without time skipping: members answer while an offer's timer is pending, which a skipping
    clock would expire at once. Every wait ends early on the member's action, so it takes seconds.
    """
    script = ScriptedDispatch()
    now = datetime.now(UTC)
    data = task_contract.TaskWorkflowInput(
        task_id=9_000_003, mode=TaskMode.dispatch, headcount=1,
        window_start=now + timedelta(minutes=5), window_end=now + timedelta(hours=2),
        policy=dispatch_policy(offer_timeout=timedelta(minutes=10), no_show_grace=timedelta(minutes=30)),
    )
    async with Worker(client, task_queue=task_queue, workflows=[TaskWorkflow], activities=script.activities()):
        handle = await client.start_workflow(
            TaskWorkflow.run, data, id=f"task-9000003-{uuid.uuid4().hex[:6]}", task_queue=task_queue
        )

        async def status_is(status: TaskStatus) -> bool:
            return (await handle.query(TaskWorkflow.snapshot)).status is status

        async def offer_open() -> bool:
            return bool((await handle.query(TaskWorkflow.snapshot)).open_offers)

        # (mypy types an update method with a validator as returning a coroutine, hence the `_ =`)
        await _until(lambda: status_is(TaskStatus.parked), "parked")
        script.requeued = True
        _ = await handle.execute_update(TaskWorkflow.requeue, task_contract.RequeueInput(actor="staff:1"))
        await _until(offer_open, "an offer")
        _ = await handle.execute_update(TaskWorkflow.answer_offer, task_contract.AnswerOfferUpdate(member_id=7, accept=True))
        await _until(lambda: status_is(TaskStatus.staffed), "staffed")
        _ = await handle.execute_update(TaskWorkflow.check_in, task_contract.ScanUpdate(member_id=7, token="qr"))
        _ = await handle.execute_update(TaskWorkflow.check_out, task_contract.ScanUpdate(member_id=7, token="qr", report="已完成"))
        await _until(lambda: status_is(TaskStatus.done), "done")
        _ = await handle.execute_update(TaskWorkflow.rate, task_contract.RateUpdate(score=5))
        _ = await handle.execute_update(TaskWorkflow.verify, task_contract.VerifyInput(actor="staff:1"))
        await asyncio.wait_for(handle.result(), RESULT_TIMEOUT.total_seconds())
        # Recorded again under a new name when the command sequence changes (the older files stay).
        return [("parked_requeued_served_verified_local_update_steps", await _history(handle))]


SCENARIOS: dict[str, Callable[[Client, str], Awaitable[Recorded]]] = {
    "TaskWorkflow": record_task,
    "MemberRegistrationCohortWorkflow": record_member_cohort,
    "UnitRegistrationWorkflow": record_unit_registration,
}


# Scenarios whose waits all end by themselves run on a skipping clock; the others in real time.
TIME_SKIPPING = {"MemberRegistrationCohortWorkflow", "UnitRegistrationWorkflow"}


async def save_from_test(handle: WorkflowHandle[Any, Any], scenario: str) -> Path | None:
    """From a workflow test: save this run's history when SBD_RECORD_HISTORIES=1, else do nothing.

    Lets the test that already drives a workflow through a real scenario double as its recorder:
    `SBD_RECORD_HISTORIES=1 pytest tests/test_x.py` (existing files are kept).
    """
    if os.environ.get("SBD_RECORD_HISTORIES") != "1":
        return None
    history = await _history(handle)
    started = history.events[0].workflow_execution_started_event_attributes
    return save(started.workflow_type.name, scenario, history, force=False)


def save(workflow_type: str, scenario: str, history: WorkflowHistory, *, force: bool) -> Path | None:
    path = HISTORY_DIR / workflow_type / f"{scenario}.json"
    if path.exists() and not force:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(history.to_json() + "\n", "utf-8")
    return path


async def record(only: list[str], *, force: bool) -> None:
    registered = {workflow._Definition.must_from_class(cls).name or cls.__name__ for cls in all_workflows()}
    missing = sorted(name for name in registered if name not in SCENARIOS)
    if missing:
        print(f"没有录制场景的工作流类型 (no scenario for): {missing}")
    env = await WorkflowEnvironment.start_time_skipping_v2(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(temporal_cli()),
        dev_server_extra_args=TIME_SKIPPING_ARGS,
    )
    try:
        for workflow_type, scenario in SCENARIOS.items():
            if only and workflow_type not in only:
                continue
            skipping = contextlib.nullcontext() if workflow_type in TIME_SKIPPING else env.with_time_skipping_disabled()
            with skipping:
                recorded = await scenario(env.client, f"record-{uuid.uuid4().hex[:8]}")
            for name, history in recorded:
                path = save(workflow_type, name, history, force=force)
                print(f"{workflow_type}/{name}: " + (f"saved {path}" if path else "exists, kept (--force to replace)"))
    finally:
        await env.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description="录制工作流历史, 供回放测试使用")
    parser.add_argument("workflow_types", nargs="*", help="只录制这些工作流类型 (默认全部)")
    parser.add_argument("--force", action="store_true", help="覆盖已存在的历史文件")
    args = parser.parse_args()
    asyncio.run(record(args.workflow_types, force=args.force))


if __name__ == "__main__":
    main()


# --- as a pytest plugin: keep the histories the workflows' own tests produce --------------------
#
#   SBD_RECORD_HISTORIES=1 pytest -p tests.record_histories tests/test_campaign_workflow.py ...
#
# After the session, every registered workflow type that ran on the session's Temporal servers
# gets one history saved as `from_tests.json` (a completed run with the most events, else the
# longest open one), unless that file exists. These runs used the real activities and database.

_COMPLETED = 2  # WorkflowExecutionStatus.COMPLETED


async def _save_session_histories(clients: list[Client]) -> list[Path]:
    registered = {workflow._Definition.must_from_class(cls).name for cls in all_workflows()}
    best: dict[str, tuple[tuple[bool, int], WorkflowHistory]] = {}
    for client in clients:
        async for execution in client.list_workflows():
            if execution.workflow_type not in registered:
                continue
            history = await _history(client.get_workflow_handle(execution.id, run_id=execution.run_id))
            rank = (execution.status is not None and execution.status.value == _COMPLETED, len(history.events))
            if execution.workflow_type not in best or rank > best[execution.workflow_type][0]:
                best[execution.workflow_type] = (rank, history)
    saved = []
    for workflow_type, (_, history) in sorted(best.items()):
        path = save(workflow_type, "from_tests", history, force=False)
        if path is not None:
            saved.append(path)
    return saved


@pytest.fixture(scope="session", autouse=True)
async def _record_session_histories(
    temporal_env: WorkflowEnvironment, ts_env: WorkflowEnvironment
) -> AsyncIterator[None]:
    yield
    if os.environ.get("SBD_RECORD_HISTORIES") == "1":
        for path in await _save_session_histories([temporal_env.client, ts_env.client]):
            print(f"saved {path}")
