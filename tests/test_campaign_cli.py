"""The campaign CLI against the real database and dev server: create, launch, progress, steer."""

from __future__ import annotations

import re

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from db.pool import Pool
from tests.cli_runner import run_cli, run_cli_created
from tests.test_registration_seed import add_member, seed_city
from tests.waiting import eventually
from workers.registry import all_activities, all_workflows


async def test_cli_launches_shows_progress_and_steers(
    pool: Pool, _migrated: str, temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    """`campaign create` and `launch` run the overdue remind and urge steps for two unregistered
    members; `progress --watch` shows both steps' counts and the finished waves; `pause` and
    `cancel` steer it; resuming a cancelled campaign prints the refusal and exits 1."""
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=1)
        for _ in range(2):
            await add_member(conn, city)
    kw = {"dsn": _migrated, "temporal": temporal_env.client.service_client.config.target_host,
          "task_queue": task_queue}
    campaign_id = await run_cli_created(["campaign", "create", "--name", "CLI 活动", "--registration-days", "0",
                                        "--communities", str(city.communities[0])], "活动", **kw)
    async with Worker(temporal_env.client, task_queue=task_queue, workflows=all_workflows(),
                      activities=all_activities(pool)):
        code, out, err = await run_cli(["campaign", "launch", str(campaign_id)], **kw)
        assert code == 0 and "已发布" in out, out + err

        async def two_waves() -> bool:
            done: int = await pool.fetchval(
                "SELECT count(*) FROM campaign_wave WHERE campaign_id = $1 AND finished_at IS NOT NULL", campaign_id)
            return done == 2
        await eventually(two_waves, seconds=30)
        code, out, err = await run_cli(["campaign", "progress", str(campaign_id), "--level", "community", "--watch",
                                        "--interval", "0.2"], **kw)
        assert code == 0, err
        row = next(line for line in out.splitlines() if str(city.communities[0]) in line and "社区" in line)
        assert re.search(r"│\s*2\s*│\s*0\s*│\s*0\s*│\s*0\s*│\s*2\s*│\s*2\s*│", row), out   # members … 提醒 催办
        assert "报到截止 第1期 提醒" in out and "报到截止 第1期 催办" in out
        code, out, err = await run_cli(["campaign", "pause", str(campaign_id), "--reason", "演练"], **kw)
        assert code == 0 and "已暂停" in out, out + err
        code, out, err = await run_cli(["campaign", "cancel", str(campaign_id), "--reason", "演练结束"], **kw)
        assert code == 0 and "已撤销" in out, out + err
        code, out, err = await run_cli(["campaign", "resume", str(campaign_id)], **kw)
        assert code == 1 and "不能恢复" in err, out + err
