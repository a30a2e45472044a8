"""The evaluation CLI against the real database and dev server: run a period, export it as .xlsx,
ensure the schedules; a malformed period prints the Chinese message and exits 1."""

from __future__ import annotations

import re
from pathlib import Path

from openpyxl import load_workbook
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.evaluation import EvaluationActivities
from db.pool import Pool
from services import evaluation
from tests.cli_runner import run_cli
from workflows.evaluation import EvaluationWorkflow


async def test_cli_runs_exports_and_ensures_schedules(
    pool: Pool, _migrated: str, temporal_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    """`evaluation run --period` waits for the workflow, `evaluation export` writes a workbook with
    Chinese headers, `evaluation schedules ensure` creates the three schedules."""
    client = temporal_env.client
    kw = {"dsn": _migrated, "temporal": client.service_client.config.target_host, "task_queue": task_queue}
    async with Worker(client, task_queue=task_queue, workflows=[EvaluationWorkflow],
                      activities=EvaluationActivities(pool, reports_dir=tmp_path).all()):
        code, out, err = await run_cli(["evaluation", "run", "--period", "2026-Q3", "--no-reports", "--no-kick"], **kw)
    assert code == 0, err
    found = re.search(r"考核批次 (\d+) 已发起", out)
    assert found is not None and "完成: 党员" in out, out
    run_id = int(found.group(1))
    target = tmp_path / "units.xlsx"
    code, out, err = await run_cli(["evaluation", "export", str(run_id), "--level", "community", "--out",
                                    str(target)], **kw)
    assert code == 0, err
    sheet = load_workbook(target, read_only=True).active
    assert sheet is not None
    header = next(iter(sheet.iter_rows(min_row=2, max_row=2, values_only=True)))
    assert header[:3] == ("排名", "社区", "党员人数") and "响应率" in header

    code, out, err = await run_cli(["evaluation", "run", "--period", "2026-Q9"], **kw)
    assert code == 1 and "考核期间格式不正确" in err

    try:
        code, out, err = await run_cli(["evaluation", "schedules", "ensure"], **kw)
        assert code == 0, err
        assert out.count("计划已就绪") == 3
        desc = await client.get_schedule_handle("evaluation-quarterly").describe()
        assert desc.schedule.spec.calendars[0].month[0].start == 1
    finally:
        for schedule_id in evaluation.SCHEDULES:
            await client.get_schedule_handle(schedule_id).delete()
