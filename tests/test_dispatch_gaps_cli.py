"""The dispatch CLI's new doors against the real database and dev server: `tasks verify --reject`
needs a reason, sends the task to follow-up without points, and a later `tasks verify` credits
them; `needs grid-code` issues a grid's code; `ledger --understaffed` filters."""

from __future__ import annotations

from datetime import timedelta

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.dispatch import DispatchActivities
from db.pool import Pool
from domain import task_rules
from schemas.dispatch import TaskStatus
from schemas.task_contract import RateUpdate
from services.workflow_calls import run_update
from tests.cli_runner import run_cli
from tests.test_dispatch_workflow import add_member, make_city, make_task, serve_through, snapshot, start
from tests.waiting import until
from workflows.task import TaskWorkflow


async def test_cli_rejects_a_verification_then_passes_it(
    pool: Pool, _migrated: str, temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    """A rejection without a reason is refused (exit 1); with one the task goes to follow-up with
    no points; the pass credits the service once; the grid code and the ledger filter work."""
    city = await make_city(pool)
    member = await add_member(pool, city, grid_id=city.grid_id)
    kw = {"dsn": _migrated, "temporal": temporal_env.client.service_client.config.target_host,
          "task_queue": task_queue}
    task_id, s, e = await make_task(pool, city, start_in=timedelta(minutes=5))
    async with Worker(temporal_env.client, task_queue=task_queue, workflows=[TaskWorkflow],
                      activities=DispatchActivities(pool).all()):
        handle = await start(temporal_env, task_queue, task_id, s, e)
        await until(snapshot(handle), lambda x: x.open_offers == [member])
        await serve_through(handle, member)
        await until(snapshot(handle), lambda x: x.status is TaskStatus.done)
        await run_update(handle, TaskWorkflow.rate, RateUpdate(score=5))

        code, out, err = await run_cli(["tasks", "verify", str(task_id), "--reject"], **kw)
        assert code == 1 and task_rules.REFUSAL_REJECT_NEEDS_REASON in err, out + err
        code, out, err = await run_cli(["tasks", "verify", str(task_id), "--reject", "--reason", "服务记录与现场不符"],
                                       **kw)
        assert code == 0 and "核查未通过" in out and "待跟进" in out, out + err
        assert await pool.fetchval("SELECT count(*) FROM evaluation_points WHERE task_id = $1", task_id) == 0
        code, out, err = await run_cli(["tasks", "verify", str(task_id), "--note", "整改完成"], **kw)
        assert code == 0 and "记分 1 人次" in out, out + err
        await handle.result()
    assert await pool.fetchval("SELECT count(*) FROM evaluation_points WHERE task_id = $1", task_id) == 1

    code, out, err = await run_cli(["needs", "grid-code", str(city.grid_id)], **kw)
    assert code == 0 and "sbd_need_" in out, out + err
    code, out, err = await run_cli(["ledger", "--grid", str(city.grid_id), "--understaffed"], **kw)
    assert code == 0 and "陪老人就医" not in out, out + err
    code, out, err = await run_cli(["ledger", "--grid", str(city.grid_id), "--fully-staffed"], **kw)
    assert code == 0 and "陪老人就医" in out, out + err
