"""The dispatch CLI against the real database and dev server: place a need, create a task, answer
its offer, read the ledger; a refusal prints the Chinese message and exits 1."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.dispatch import DispatchActivities
from db.pool import Pool
from domain import task_rules
from tests.cli_runner import run_cli, run_cli_created
from tests.test_dispatch_workflow import add_member, make_city
from workflows.task import TaskWorkflow


async def test_cli_places_a_need_dispatches_and_answers(
    pool: Pool, _migrated: str, temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    """`needs add`, `tasks create`, `tasks answer` and `ledger` drive the same use cases as the API."""
    city = await make_city(pool)
    member = await add_member(pool, city, grid_id=city.grid_id)
    target = temporal_env.client.service_client.config.target_host
    kw = {"dsn": _migrated, "temporal": target, "task_queue": task_queue}

    code, out, err = await run_cli(["needs", "add", "--grid", str(city.grid_id), "--category", "环境整治",
                                    "--description", "楼道堆物清理", "--urgency", "yellow",
                                    "--resident-phone", "13712345678"], **kw)
    assert code == 0, err
    assert "已登记" in out
    code, out, err = await run_cli(["needs", "list", "--status", "submitted"], **kw)
    assert code == 0 and "137****5678" in out and "13712345678" not in out, out + err
    start = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    async with Worker(temporal_env.client, task_queue=task_queue, workflows=[TaskWorkflow],
                      activities=DispatchActivities(pool).all()):
        task_id = await run_cli_created(["tasks", "create", "--title", "清理楼道", "--start", start,
                                         "--grid", str(city.grid_id), "--category", "环境整治"], "任务", **kw)
        for _ in range(100):
            if await pool.fetchval("SELECT count(*) FROM offer WHERE task_id = $1", task_id):
                break
            await asyncio.sleep(0.1)
        code, out, err = await run_cli(["tasks", "answer", str(task_id), "--member", str(member + 1000000),
                                        "--accept"], **kw)
        assert code == 1 and task_rules.REFUSAL_NO_OFFER in err
        code, out, err = await run_cli(["tasks", "answer", str(task_id), "--member", str(member), "--accept"], **kw)
        assert code == 0 and "accepted" in out, err
        code, out, err = await run_cli(["ledger", "--grid", str(city.grid_id)], **kw)
        assert code == 0 and "清理楼道" in out and str(member) in out, out + err
        await temporal_env.client.get_workflow_handle(f"task-{task_id}").terminate()
