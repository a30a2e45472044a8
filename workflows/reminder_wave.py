"""One reminder wave: one ladder step at one campaign deadline, over every member in range.

A wave over 1,000,000 members is an ordinary event, so it is never a workflow per member nor a
workflow holding members: `plan_wave` cuts the member id range into P partitions (128 by
default), then a sliding window keeps at most K (8) partition activities in flight, each one
set-based SQL statement over its id range. History: ~3 events per partition plus a few, so a
256-partition wave stays near 800 events. `finish_wave` then sends one grouped notification per
unit / community / subdistrict with its count.

Unit quota (a registration-deadline step at or after the deadline, `unit_quota_rate` set): the
reporting units are then walked page by page (`unit_page_size` units an activity, 500 by
default: a city's few thousand units are a handful of pages, ~3 events each), each unit below
the rate reminded with its shortfall; last, the communities / subdistricts the step names hear
which units located there are behind.

Crash safety: a partition is recorded with its reminders atomically; a new worker replays the
history, retried activities find finished partitions done, and unique keys keep every reminder
and notification single.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow

from workflows.retries import QUICK_STEP_RETRY, STEP_TIMEOUT

with workflow.unsafe.imports_passed_through():
    from activities.campaign import CampaignActivities
    from schemas.campaign_contract import (
        FinishWaveInput,
        PartitionBounds,
        PartitionInput,
        PartitionResult,
        PlanWaveInput,
        ReminderWaveInput,
        ReminderWaveResult,
        UnitQuotaGroupsInput,
        UnitQuotaPageInput,
    )

# One partition of ~8k members is a few seconds of SQL; generous for a loaded database.
_PARTITION = timedelta(minutes=10)
# A dead worker's partition is retried after this (the activity heartbeats every 10 s).
_HEARTBEAT = timedelta(seconds=30)


@workflow.defn(name="ReminderWaveWorkflow")
class ReminderWaveWorkflow:
    @workflow.run
    async def run(self, data: ReminderWaveInput) -> ReminderWaveResult:
        plan = await workflow.execute_activity_method(
            CampaignActivities.plan_wave, PlanWaveInput(wave=data, at=data.as_of),
            start_to_close_timeout=STEP_TIMEOUT, retry_policy=QUICK_STEP_RETRY,
        )
        pending = list(plan.pending)
        in_flight: set[asyncio.Task[PartitionResult]] = set()
        queued = 0
        while pending or in_flight:
            while pending and len(in_flight) < data.concurrency:
                in_flight.add(asyncio.ensure_future(self._partition(plan.wave_id, data, pending.pop(0))))
            done, rest = await workflow.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            in_flight = set(rest)
            for task in done:
                queued += task.result().external_queued   # a partition failed for good fails the wave
        totals = await workflow.execute_activity_method(
            CampaignActivities.finish_wave,
            FinishWaveInput(wave_id=plan.wave_id, wave=data, at=data.as_of),
            start_to_close_timeout=_PARTITION, retry_policy=QUICK_STEP_RETRY,
        )
        queued += totals.external_queued
        units_behind = units_reminded = 0
        # Waves started before the unit quota existed replay without its activities.
        if data.unit_quota_rate is not None and workflow.patched("wave-unit-quota"):
            after = 0
            while True:
                page = await workflow.execute_activity_method(
                    CampaignActivities.remind_unit_quota_page,
                    UnitQuotaPageInput(wave=data, after_unit_id=after),
                    start_to_close_timeout=_PARTITION, retry_policy=QUICK_STEP_RETRY,
                )
                units_behind += page.behind
                units_reminded += page.reminded
                queued += page.external_queued
                if page.last_unit_id is None:
                    break
                after = page.last_unit_id
            groups = await workflow.execute_activity_method(
                CampaignActivities.remind_unit_quota_groups, UnitQuotaGroupsInput(wave=data),
                start_to_close_timeout=_PARTITION, retry_policy=QUICK_STEP_RETRY,
            )
            queued += groups.external_queued
        return ReminderWaveResult(wave_id=plan.wave_id, behind=totals.behind, reminded=totals.reminded,
                                  groups_reminded=totals.groups_reminded,
                                  partitions=len(plan.pending), external_queued=queued,
                                  units_behind=units_behind, units_reminded=units_reminded)

    async def _partition(self, wave_id: int, data: ReminderWaveInput, bounds: PartitionBounds) -> PartitionResult:
        return await workflow.execute_activity_method(
            CampaignActivities.remind_partition,
            PartitionInput(wave_id=wave_id, wave=data, bounds=bounds, as_of=data.as_of),
            start_to_close_timeout=_PARTITION, heartbeat_timeout=_HEARTBEAT, retry_policy=QUICK_STEP_RETRY,
        )
