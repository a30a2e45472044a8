"""The I/O steps of an evaluation run: open the run, write member results per id range, aggregate
units / communities / areas, write and deliver the per-unit feedback workbooks, finish.

Each step is idempotent: result writes delete-then-insert inside one transaction (a retry
rewrites the same rows), the run is opened by its workflow id, workbooks are overwritten in
place, and deliveries carry an idempotency key per (run, unit, channel).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db import campaign as campaign_db
from db import evaluation as evaluation_db
from db.delivery import insert_deliveries
from db.pool import Pool
from domain import campaign_unit_quota
from domain.channel_routing import channels_for, idempotency_key
from domain.evaluation import partition_bounds, thresholds
from reports.evaluation_workbooks import UNIT_FEEDBACK_COLUMNS, write_workbook
from schemas import evaluation_contract as contract
from schemas.delivery import DeliveryRow, OwnerKind
from schemas.evaluation import EvaluationRule, EvaluationScope, PeriodKind, RunStatus
from schemas.registration import ReminderStep

log = structlog.get_logger(__name__)


def unit_report_path(reports_dir: Path, run_id: int, unit_id: int) -> Path:
    return reports_dir / f"evaluation-{run_id}" / f"unit-{unit_id}.xlsx"


async def write_members(pool: Pool, *, run_id: int, lo: int, hi: int) -> int:
    """Rewrite member results for ids lo..hi in one transaction; members written."""
    async with pool.acquire() as conn, conn.transaction():
        run = await evaluation_db.select_run(conn, run_id=run_id)
        if run is None:
            raise ApplicationError(f"考核批次 {run_id} 不存在", type="not_found", non_retryable=True)
        t = thresholds(run.rule, run.period_start, run.period_end)
        return await evaluation_db.write_member_partition(
            conn, run_id=run_id, lo=lo, hi=hi, scope=run.scope, t=t,
            period_start=run.period_start, period_end=run.period_end,
        )


async def write_aggregates(pool: Pool, *, run_id: int) -> tuple[int, int, int]:
    """Units, communities and areas rewritten from the member rows, in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        run = await evaluation_db.select_run(conn, run_id=run_id)
        if run is None:
            raise ApplicationError(f"考核批次 {run_id} 不存在", type="not_found", non_retryable=True)
        t = thresholds(run.rule, run.period_start, run.period_end)
        units = await evaluation_db.write_unit_results(conn, run_id=run_id, t=t)
        communities = await evaluation_db.write_community_results(
            conn, run_id=run_id, scope=run.scope, t=t,
            period_start=run.period_start, period_end=run.period_end,
        )
        areas = await evaluation_db.write_area_results(conn, run_id=run_id, t=t)
    return units, communities, areas


class EvaluationActivities:
    """Built once per worker with the pool and the reports directory."""

    def __init__(self, pool: Pool, *, reports_dir: Path) -> None:
        self._pool = pool
        self._reports_dir = reports_dir

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.evaluation_open_run, self.evaluation_partitions, self.evaluation_members,
            self.evaluation_aggregate, self.evaluation_unit_reports, self.evaluation_finish,
            self.evaluation_fail,
        ]

    @activity.defn
    async def evaluation_open_run(self, data: contract.OpenRunInput) -> contract.OpenRunResult:
        async with self._pool.acquire() as conn:
            kind, label, start, end = data.period_kind, data.period_label, data.period_start, data.period_end
            scope = EvaluationScope.model_validate(data.scope.model_dump())
            rule = EvaluationRule.model_validate(data.rule.model_dump())
            if data.campaign_id is not None:
                campaign = await evaluation_db.select_campaign_window(conn, campaign_id=data.campaign_id)
                if campaign is None:
                    raise ApplicationError(f"活动 {data.campaign_id} 不存在", type="not_found", non_retryable=True)
                kind, label = PeriodKind.campaign, f"campaign:{data.campaign_id}"
                start, end = campaign.window_start, campaign.window_end
                scope = EvaluationScope(district_ids=list(campaign.scope_district_ids),
                                        subdistrict_ids=list(campaign.scope_subdistrict_ids),
                                        community_ids=list(campaign.scope_community_ids))
                rule = campaign_unit_quota.evaluation_rule(campaign.evaluation_rule, campaign.quotas)
            assert start is not None and end is not None, "a period run carries its bounds"
            run_id = await evaluation_db.insert_run(
                conn, campaign_id=data.campaign_id, period_kind=kind.value, period_label=label,
                period_start=start, period_end=end, scope=scope.model_dump(), rule=rule.model_dump(mode="json"),
                workflow_id=data.workflow_id,
            )
        log.info("evaluation_run_opened", run_id=run_id, period=label)
        return contract.OpenRunResult(run_id=run_id)

    @activity.defn
    async def evaluation_partitions(self, data: contract.PartitionsInput) -> contract.PartitionsResult:
        async with self._pool.acquire() as conn:
            bounds = await evaluation_db.select_member_id_bounds(conn)
        if bounds is None:
            return contract.PartitionsResult(bounds=[])
        return contract.PartitionsResult(bounds=partition_bounds(bounds[0], bounds[1], data.partition_size))

    @activity.defn
    async def evaluation_members(self, data: contract.MemberPartitionInput) -> contract.MemberPartitionResult:
        activity.heartbeat(data.lo)
        written = await write_members(self._pool, run_id=data.run_id, lo=data.lo, hi=data.hi)
        activity.heartbeat(data.hi)
        return contract.MemberPartitionResult(members=written)

    @activity.defn
    async def evaluation_aggregate(self, data: contract.RunStepInput) -> contract.AggregateResult:
        units, communities, areas = await write_aggregates(self._pool, run_id=data.run_id)
        return contract.AggregateResult(units=units, communities=communities, areas=areas)

    @activity.defn
    async def evaluation_unit_reports(self, data: contract.RunStepInput) -> contract.ReportsResult:
        """One feedback workbook per unit, then an inbox notice (and group-robot deliveries where
        the unit has an endpoint) naming the workbook."""
        async with self._pool.acquire() as conn:
            run = await evaluation_db.select_run(conn, run_id=data.run_id)
            assert run is not None, data.run_id
            units = await evaluation_db.select_report_units(conn, run_id=data.run_id)
        notified = 0
        for unit in units:
            activity.heartbeat(unit.unit_id)
            path = unit_report_path(self._reports_dir, data.run_id, unit.unit_id)
            if unit.written == str(path) and path.exists():
                # Written and announced by an earlier attempt (its transaction committed): a retry
                # after a crash at unit 4,000 of 5,000 resumes there instead of starting over.
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            async with self._pool.acquire() as conn, conn.transaction():
                rows = await evaluation_db.select_unit_members(conn, run_id=data.run_id, unit_id=unit.unit_id)
                count = write_workbook(
                    path, title="单位党员考核反馈",
                    caption=f"{unit.name} · 述职评议考核 {run.period_label} · 党员 {len(rows)} 人",
                    columns=UNIT_FEEDBACK_COLUMNS, rows=rows,
                )
                base = f"evaluation:{data.run_id}:unit:{unit.unit_id}"
                title = f"述职评议考核结果反馈 ({run.period_label})"
                body = (f"贵单位在职党员 {count} 人的考核结果已生成 (单位等次: {unit.grade})。"
                        f"反馈表编号 {data.run_id}-{unit.unit_id}, 文件: {path}")
                deliveries = [
                    DeliveryRow(channel=channel, recipient_kind=OwnerKind.unit, recipient_id=unit.unit_id,
                                title=title, body=body, template="evaluation_feedback",
                                idempotency_key=idempotency_key(base, channel))
                    for channel in channels_for(OwnerKind.unit, ReminderStep.remind)
                ]
                notified += await insert_deliveries(conn, deliveries)
                notification_id = await evaluation_db.select_notification_id(conn, dedupe_key=base)
                await evaluation_db.upsert_report(
                    conn, run_id=data.run_id, unit_id=unit.unit_id, path=str(path), rows=count,
                    notification_id=notification_id,
                )
        log.info("evaluation_reports_written", run_id=data.run_id, units=len(units), notified=notified)
        return contract.ReportsResult(reports=len(units), notified=notified)

    @activity.defn
    async def evaluation_finish(self, data: contract.RunStepInput) -> contract.FinishRunResult:
        async with self._pool.acquire() as conn, conn.transaction():
            await evaluation_db.finish_run(
                conn, run_id=data.run_id, status=RunStatus.done.value,
                report_dir=str(self._reports_dir / f"evaluation-{data.run_id}"),
            )
            run = await evaluation_db.select_run(conn, run_id=data.run_id)
            if run is not None and run.campaign_id is not None:
                # The campaign's lifecycle ends here: closed → evaluated, once (a retry finds it
                # already evaluated and records nothing more).
                now = datetime.now(UTC)
                moved = await campaign_db.update_campaign_status(
                    conn, campaign_id=run.campaign_id, from_statuses=["closed"], to_status="evaluated",
                    window_end=None, registration_deadline=None, at=now)
                if moved is not None:
                    await campaign_db.insert_campaign_event(
                        conn, campaign_id=run.campaign_id, kind="evaluated", from_status="closed",
                        to_status="evaluated", actor="system:evaluation", detail={"run_id": data.run_id}, at=now)
        return contract.FinishRunResult(status=RunStatus.done)

    @activity.defn
    async def evaluation_fail(self, data: contract.RunStepInput) -> contract.FinishRunResult:
        async with self._pool.acquire() as conn:
            await evaluation_db.finish_run(conn, run_id=data.run_id, status=RunStatus.failed.value, report_dir=None)
        log.warning("evaluation_run_failed", run_id=data.run_id)
        return contract.FinishRunResult(status=RunStatus.failed)
