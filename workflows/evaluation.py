"""One evaluation run 述职评议考核: `EvaluationWorkflow`.

Started three ways:
- by a person (services/evaluation.py: `start_run`), id `evaluation-{run_id}`, with the run
  already created (its period, scope and rule fixed);
- by a closed campaign's hand-over, with `campaign_id` only (suggested id
  `evaluation-campaign-{campaign_id}`): the run takes the campaign's window, scope and rule, and
  the campaign moves closed → evaluated when the run finishes;
- by a Temporal Schedule (`evaluation-monthly` / `-quarterly` / `-yearly`), with only the period
  kind: the run evaluates the last complete period before the workflow's start time and opens its
  run row keyed by the workflow id (so a retried open finds the same run).

Steps, each an activity: member results per member-id range (at most `concurrency` ranges at once,
each a set-based INSERT ... SELECT on its own connection, heartbeating) → unit, community and area
aggregates → per-unit feedback workbooks and their delivery → finish. A step that gives up marks
the run failed and fails the workflow (`evaluation_failed`). No timers, no signals: a
run is a batch job whose history stays small (a million members is ten partitions of 100,000).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.retries import LONG_STEP_TIMEOUT, STEP_TIMEOUT

with workflow.unsafe.imports_passed_through():
    from activities.evaluation import EvaluationActivities
    from domain.evaluation import previous_period
    from schemas.evaluation_contract import (
        AggregateResult,
        EvaluationInput,
        EvaluationResult,
        FinishRunResult,
        MemberPartitionInput,
        MemberPartitionResult,
        OpenRunInput,
        OpenRunResult,
        PartitionsInput,
        PartitionsResult,
        ReportsResult,
        RunRule,
        RunStepInput,
    )

_HEARTBEAT = timedelta(minutes=3)
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                     maximum_attempts=10)


@workflow.defn(name="EvaluationWorkflow")
class EvaluationWorkflow:
    @workflow.run
    async def run(self, data: EvaluationInput) -> EvaluationResult:
        run_id = data.run_id
        if run_id is None:
            if data.campaign_id is not None:
                open_input = OpenRunInput(workflow_id=workflow.info().workflow_id, campaign_id=data.campaign_id)
            else:
                period = previous_period(data.period_kind, workflow.now())
                open_input = OpenRunInput(
                    workflow_id=workflow.info().workflow_id, period_kind=period.kind, period_label=period.label,
                    period_start=period.start, period_end=period.end, scope=data.scope,
                    rule=data.rule or RunRule())
            opened: OpenRunResult = await workflow.execute_activity_method(
                EvaluationActivities.evaluation_open_run, open_input,
                start_to_close_timeout=STEP_TIMEOUT, retry_policy=_RETRY,
            )
            run_id = opened.run_id
        workflow.logger.info("evaluation started", extra={"run_id": run_id})
        try:
            parts: PartitionsResult = await workflow.execute_activity_method(
                EvaluationActivities.evaluation_partitions,
                PartitionsInput(run_id=run_id, partition_size=data.partition_size),
                start_to_close_timeout=STEP_TIMEOUT, retry_policy=_RETRY,
            )
            members = 0
            # A window of `concurrency` partitions at a time: each is one statement on its own
            # connection, so two partitions keep two cores busy without flooding the pool.
            for i in range(0, len(parts.bounds), data.concurrency):
                window = parts.bounds[i:i + data.concurrency]
                done: list[MemberPartitionResult] = await asyncio.gather(*(
                    workflow.execute_activity_method(
                        EvaluationActivities.evaluation_members,
                        MemberPartitionInput(run_id=run_id, lo=lo, hi=hi),
                        start_to_close_timeout=LONG_STEP_TIMEOUT, heartbeat_timeout=_HEARTBEAT, retry_policy=_RETRY,
                    )
                    for lo, hi in window
                ))
                members += sum(r.members for r in done)

            agg: AggregateResult = await workflow.execute_activity_method(
                EvaluationActivities.evaluation_aggregate, RunStepInput(run_id=run_id),
                start_to_close_timeout=LONG_STEP_TIMEOUT, heartbeat_timeout=_HEARTBEAT, retry_policy=_RETRY,
            )
            reports = ReportsResult(reports=0, notified=0)
            if data.unit_reports:
                reports = await workflow.execute_activity_method(
                    EvaluationActivities.evaluation_unit_reports, RunStepInput(run_id=run_id),
                    start_to_close_timeout=LONG_STEP_TIMEOUT, heartbeat_timeout=_HEARTBEAT, retry_policy=_RETRY,
                )
            finished: FinishRunResult = await workflow.execute_activity_method(
                EvaluationActivities.evaluation_finish, RunStepInput(run_id=run_id),
                start_to_close_timeout=STEP_TIMEOUT, retry_policy=_RETRY,
            )
        except ActivityError as err:
            # A step gave up (retries exhausted or refused): the run is marked failed so nobody
            # reads half-written results as final, then the workflow fails with the cause.
            await workflow.execute_activity_method(
                EvaluationActivities.evaluation_fail, RunStepInput(run_id=run_id),
                start_to_close_timeout=STEP_TIMEOUT, retry_policy=_RETRY,
            )
            raise ApplicationError(f"考核批次 {run_id} 计算失败", type="evaluation_failed") from err
        workflow.logger.info("evaluation finished", extra={"run_id": run_id, "status": finished.status.value})
        return EvaluationResult(run_id=run_id, members=members, units=agg.units, communities=agg.communities,
                                reports=reports.reports, notified=reports.notified)
