"""EvaluationWorkflow on the real dev server: a manual run writes results, unit workbooks and
unit notices; the periodic Temporal Schedules exist and a trigger runs an evaluation."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import asyncpg
import pytest
from openpyxl import load_workbook
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.evaluation import EvaluationActivities
from db.pool import Pool
from domain import evaluation as ev
from schemas.evaluation import EvaluationRule
from schemas.evaluation_contract import EvaluationInput, EvaluationResult, RunStepInput
from services import evaluation
from tests.record_histories import save_from_test
from tests.test_evaluation_figures import PERIOD, build_city, raw_city
from workflows.evaluation import EvaluationWorkflow


def _worker(client: Client, pool: Pool, task_queue: str, reports: Path) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[EvaluationWorkflow],
                  activities=EvaluationActivities(pool, reports_dir=reports).all())


async def test_manual_run_writes_results_workbooks_and_unit_notices(
    pool: Pool, client: Client, task_queue: str, tmp_path: Path
) -> None:
    """A run started by the service evaluates every member in scope as the reference does, writes
    one feedback workbook per unit (Chinese headers, masked phones) and tells each unit once."""
    async with pool.acquire() as conn, conn.transaction():
        city = await build_city(conn, random.Random(41), members=25)
    rule = EvaluationRule(min_services_per_month=0.5, min_hours_per_month=1)
    async with _worker(client, pool, task_queue, tmp_path):
        run_id = await evaluation.start_run(pool, client, task_queue=task_queue, period=PERIOD,
                                            scope=city.scope, rule=rule)
        result: EvaluationResult = await evaluation.wait_run(client, run_id)
        await save_from_test(client.get_workflow_handle(evaluation.workflow_id_for(run_id)), "manual_run")
    assert result.run_id == run_id and result.members == 25 and result.communities == len(city.community_ids)
    async with pool.acquire() as conn:
        ref = ev.evaluate_city(await raw_city(conn, city), rule, PERIOD.start, PERIOD.end)
        grades = {r["member_id"]: r["grade"] for r in await conn.fetch(
            "SELECT member_id, grade FROM member_evaluation WHERE run_id = $1", run_id)}
        reports = await conn.fetch("SELECT * FROM evaluation_report WHERE run_id = $1 ORDER BY unit_id", run_id)
        notices = await conn.fetch(
            "SELECT recipient_id, title, body FROM notification WHERE dedupe_key LIKE $1", f"evaluation:{run_id}:unit:%")
        status = await conn.fetchval("SELECT status FROM evaluation_run WHERE id = $1", run_id)
    assert grades == {m: f.grade.value for m, f in ref.members.items()}
    assert status == "done"
    assert [r["unit_id"] for r in reports] == sorted(ref.units) and result.reports == len(ref.units)
    assert sorted(n["recipient_id"] for n in notices) == sorted(ref.units)
    assert all(r["notification_id"] is not None for r in reports)
    assert all(str(r["path"]) in n["body"] for r, n in zip(reports, sorted(notices, key=lambda n: n["recipient_id"]),
                                                          strict=True))
    sheet = load_workbook(reports[0]["path"], read_only=True).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1] == ("姓名", "手机号码", "报到状态", "服务次数", "服务时长(小时)", "积分", "平均评价", "是否达标", "等次")
    assert len(rows) - 2 == reports[0]["rows"] == ref.units[reports[0]["unit_id"]].members
    for row in rows[2:]:
        assert isinstance(row[1], str) and "****" in row[1] and len(row[1]) == 11


def _mtimes(reports: list[asyncpg.Record]) -> dict[int, int | None]:
    """Each unit's workbook modification time (None: the file is missing)."""
    return {int(r["unit_id"]): (Path(r["path"]).stat().st_mtime_ns if Path(r["path"]).exists() else None)
            for r in reports}


async def test_unit_reports_retried_resume_after_the_workbooks_already_written(
    pool: Pool, client: Client, task_queue: str, tmp_path: Path
) -> None:
    """The unit-reports step run again (a retry after a crash) rewrites and re-announces only the
    units whose workbook is missing, not the ones an earlier attempt finished."""
    async with pool.acquire() as conn, conn.transaction():
        city = await build_city(conn, random.Random(43), members=25)
    async with _worker(client, pool, task_queue, tmp_path):
        run_id = await evaluation.start_run(pool, client, task_queue=task_queue, period=PERIOD,
                                            scope=city.scope, rule=EvaluationRule())
        await evaluation.wait_run(client, run_id)
    async with pool.acquire() as conn:
        reports = await conn.fetch("SELECT unit_id, path FROM evaluation_report WHERE run_id = $1 ORDER BY unit_id",
                                   run_id)
    assert len(reports) >= 2
    written = _mtimes(reports)
    lost = reports[0]["unit_id"]
    Path(reports[0]["path"]).unlink()  # noqa: ASYNC240 - a test's setup, nothing else runs

    step = EvaluationActivities(pool, reports_dir=tmp_path).evaluation_unit_reports
    again = await ActivityEnvironment().run(step, RunStepInput(run_id=run_id))

    assert again.reports == len(reports)
    assert again.notified == 0   # the lost unit was announced before: its delivery keys exist
    now = _mtimes(reports)
    assert now[lost] is not None
    assert {u: t for u, t in now.items() if u != lost} == {u: t for u, t in written.items() if u != lost}
    async with pool.acquire() as conn:
        notices = await conn.fetchval(
            "SELECT count(*) FROM notification WHERE dedupe_key LIKE $1", f"evaluation:{run_id}:unit:%")
    assert notices == len(reports)


async def test_schedules_exist_and_a_trigger_runs_an_evaluation(
    pool: Pool, client: Client, task_queue: str, tmp_path: Path
) -> None:
    """`ensure_schedules` creates the monthly/quarterly/yearly schedules (idempotently, with
    calendars); triggering the monthly one starts an EvaluationWorkflow that completes a run."""
    async with pool.acquire() as conn, conn.transaction():
        city = await build_city(conn, random.Random(42), members=10)
    try:
        ids = await evaluation.ensure_schedules(client, task_queue=task_queue, scope=city.scope)
        assert ids == ["evaluation-monthly", "evaluation-quarterly", "evaluation-yearly"]
        # A second call updates in place instead of failing.
        assert await evaluation.ensure_schedules(client, task_queue=task_queue, scope=city.scope) == ids
        for schedule_id in ids:
            desc = await client.get_schedule_handle(schedule_id).describe()
            assert desc.schedule.spec.calendars, schedule_id
            assert desc.schedule.spec.time_zone_name == "Asia/Shanghai"
        async with _worker(client, pool, task_queue, tmp_path):
            await client.get_schedule_handle("evaluation-monthly").trigger()
            run = None
            for _ in range(200):
                async with pool.acquire() as conn:
                    run = await conn.fetchrow(
                        """SELECT * FROM evaluation_run WHERE workflow_id LIKE 'evaluation-monthly-%'
                           AND scope = $1 AND status = 'done'""", city.scope.model_dump())
                if run is not None:
                    break
                await asyncio.sleep(0.1)
        assert run is not None, "the triggered schedule did not complete a run"
        await save_from_test(client.get_workflow_handle(run["workflow_id"]), "scheduled_month")
        assert run["period_kind"] == "month"
        async with pool.acquire() as conn:
            n = await conn.fetchval("SELECT count(*) FROM member_evaluation WHERE run_id = $1", run["id"])
        assert n == 10
    finally:
        for schedule_id in evaluation.SCHEDULES:
            await client.get_schedule_handle(schedule_id).delete()


async def test_closed_campaign_handover_evaluates_its_window_and_marks_it_evaluated(
    pool: Pool, client: Client, task_queue: str, tmp_path: Path
) -> None:
    """EvaluationWorkflow started with only a campaign id evaluates the campaign's window, scope
    and rule, and moves the campaign closed → evaluated with a recorded event."""
    async with pool.acquire() as conn, conn.transaction():
        city = await build_city(conn, random.Random(43), members=12)
        campaign_id = await conn.fetchval(
            """INSERT INTO campaign (name, kind, launched_by_kind, scope_district_ids, window_start, window_end,
                                     evaluation_rule, status, created_by)
               VALUES ('在职党员进社区', '在职党员进社区', 'city', $1, $2, $3, $4, 'closed', 'test') RETURNING id""",
            [city.district_id], PERIOD.start, PERIOD.end, {"min_services_per_month": 0.25})
    async with _worker(client, pool, task_queue, tmp_path):
        handle = await client.start_workflow(
            EvaluationWorkflow.run, EvaluationInput(campaign_id=campaign_id, unit_reports=False),
            id=f"evaluation-campaign-{campaign_id}-{task_queue}", task_queue=task_queue)
        result = await handle.result()
        await save_from_test(handle, "campaign_handover")
    assert result.members == 12 and result.reports == 0
    async with pool.acquire() as conn:
        run = await conn.fetchrow("SELECT * FROM evaluation_run WHERE id = $1", result.run_id)
        campaign = await conn.fetchrow("SELECT status FROM campaign WHERE id = $1", campaign_id)
        events = await conn.fetch(
            "SELECT kind, detail FROM campaign_event WHERE campaign_id = $1 AND kind = 'evaluated'", campaign_id)
    assert run is not None and campaign is not None
    assert run["campaign_id"] == campaign_id and run["period_kind"] == "campaign"
    assert (run["period_start"], run["period_end"]) == (PERIOD.start, PERIOD.end)
    assert run["scope"]["district_ids"] == [city.district_id]
    assert run["rule"]["min_services_per_month"] == 0.25
    assert campaign["status"] == "evaluated"
    assert [e["detail"]["run_id"] for e in events] == [result.run_id]


async def test_a_step_that_gives_up_fails_the_workflow_with_the_run_marked(
    pool: Pool, client: Client, task_queue: str, tmp_path: Path
) -> None:
    """When a step fails for good (here: the run does not exist), the workflow fails with
    `evaluation_failed` instead of retrying forever or reporting success."""
    async with _worker(client, pool, task_queue, tmp_path):
        handle = await client.start_workflow(
            EvaluationWorkflow.run, EvaluationInput(run_id=2**62, unit_reports=False),
            id=f"evaluation-missing-{task_queue}", task_queue=task_queue)
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "evaluation_failed"
