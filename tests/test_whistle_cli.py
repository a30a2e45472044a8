"""The whistle CLI against the real database and dev server: blow, list, show, answer, arrive,
close; a refusal prints the Chinese message and exits 1."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.whistle import WhistleActivities
from db.pool import Pool
from domain import whistle as rules
from tests.cli_runner import run_cli
from tests.test_whistle_workflow import make_city
from workflows.whistle import WhistleWorkflow


async def test_cli_blows_answers_and_closes(
    pool: Pool, _migrated: str, temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    """`whistle blow|list|show|answer|arrive|close` drive the same use cases as the API."""
    city = await make_city(pool)
    target = temporal_env.client.service_client.config.target_host
    kw = {"dsn": _migrated, "temporal": target, "task_queue": task_queue}
    async with Worker(temporal_env.client, task_queue=task_queue, workflows=[WhistleWorkflow],
                      activities=WhistleActivities(pool).all()):
        code, out, err = await run_cli(["whistle", "blow", "--community", str(city.community_id), "--title", "疫情封控物资转运",
                                        "--matter", "封控小区需搬运生活物资", "--people", "2", "--respond-within", "2",
                                        "--resource", "车辆:2:厢式货车", "--resource", "生活物资:100"], **kw)
        assert code == 0, err
        match = re.search(r"吹哨事项 (\d+) 已发出", out)
        assert match, out
        whistle_id = match.group(1)
        for _ in range(100):
            if await pool.fetchval("SELECT count(*) FROM whistle_summon WHERE whistle_id = $1", int(whistle_id)) == 2:
                break
            await asyncio.sleep(0.1)
        code, out, err = await run_cli(["whistle", "answer", whistle_id, "--unit", str(city.far), "--accept",
                                        "--people", "1", "--eta", (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                                        "--contact", "张", "--phone", "13912345678"], **kw)
        assert code == 1 and rules.REFUSAL_NOT_SUMMONED in err, out + err
        code, out, err = await run_cli(["whistle", "answer", whistle_id, "--unit", str(city.located), "--accept",
                                        "--people", "2", "--eta", (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                                        "--contact", "张", "--phone", "13912345678", "--resource", "车辆:1"], **kw)
        assert code == 0 and "已报到响应" in out and "已响应 2 人" in out, out + err
        code, out, err = await run_cli(["whistle", "list", "--community", str(city.community_id)], **kw)
        assert code == 0 and "疫情封控物资转运" in out, out + err
        code, out, err = await run_cli(["whistle", "arrive", whistle_id, "--unit", str(city.located)], **kw)
        assert code == 0 and "到岗 2 人" in out, out + err
        code, out, err = await run_cli(["whistle", "close", whistle_id, "--summary", "物资已全部转运"], **kw)
        assert code == 0 and "已办结" in out, out + err
        code, out, err = await run_cli(["whistle", "show", whistle_id], **kw)
        assert code == 0, err
        assert "物资已全部转运" in out and "已到岗" in out and "共建协议单位" in out and "139****5678" in out, out
