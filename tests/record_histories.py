"""Record the histories `tests/test_replay.py` replays: `python -m tests.record_histories`.

Each workflow type runs through a representative scenario on the time-skipping dev server (timers
of days and months pass in moments) and its history is saved as
`tests/histories/<WorkflowType>/<scenario>.json`, the same JSON the Temporal UI downloads.

The activities are scripted stand-ins registered under the real activity names: a history holds
the workflow's commands and the activity *results*, so what matters is that the results are real
result models walking a realistic path (reminders, a decision, a renewal cycle, lapsing); the
database is not needed.

When to record: after a workflow change has shipped, record the new version under a NEW scenario
name and keep the old files, because runs started by the old version are still out there and must
keep replaying. Existing files are never overwritten unless `--force` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

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


SCENARIOS: dict[str, Callable[[Client, str], Awaitable[Recorded]]] = {
    "MemberRegistrationCohortWorkflow": record_member_cohort,
    "UnitRegistrationWorkflow": record_unit_registration,
}


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
            for name, history in await scenario(env.client, f"record-{uuid.uuid4().hex[:8]}"):
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
