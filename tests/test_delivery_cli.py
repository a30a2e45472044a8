"""`shuangbaodao channel add|list|disable` against the real database (in-process): endpoints are
saved, listed without their credentials, and a refusal prints the Chinese reason and exits 1."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cli.main import app
from db.pool import connect
from tests.conftest import unique
from tests.receivers import owner_id
from workflows.delivery import DISPATCHER_WORKFLOW_ID


def _fetchval(dsn: str, sql: str, *args: Any) -> Any:
    async def run() -> Any:
        conn = await connect(dsn)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()
    return asyncio.run(run())


def test_channel_add_list_disable(_migrated: str) -> None:
    """A unit's WeCom robot is added, listed with its key masked, and disabled; a robot without an owner is refused."""
    runner = CliRunner()
    env = {"DATABASE_URL": _migrated, "COLUMNS": "200"}
    unit = owner_id()
    key = unique("secretkey")
    result = runner.invoke(app, ["channel", "add", "--owner-kind", "unit", "--owner-id", str(unit),
                                 "--channel", "wecom", "--rate-per-minute", "15",
                                 "--url", f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={key}"],
                           env=env)
    assert result.exit_code == 0, result.output
    assert "已保存" in result.stdout and key not in result.stdout
    endpoint_id = _fetchval(_migrated, "SELECT id FROM channel_endpoint WHERE owner_kind = 'unit' AND owner_id = $1",
                            unit)
    assert endpoint_id is not None
    result = runner.invoke(app, ["channel", "list", "--owner-kind", "unit", "--owner-id", str(unit)], env=env)
    assert result.exit_code == 0, result.output
    assert "wecom" in result.stdout and "15" in result.stdout
    assert key not in result.stdout and key[:4] in result.stdout
    result = runner.invoke(app, ["channel", "disable", str(endpoint_id)], env=env)
    assert result.exit_code == 0 and "已停用" in result.stdout, result.output
    assert _fetchval(_migrated, "SELECT enabled FROM channel_endpoint WHERE id = $1", endpoint_id) is False
    result = runner.invoke(app, ["channel", "add", "--owner-kind", "community", "--channel", "dingtalk",
                                 "--url", "https://oapi.dingtalk.com/robot/send?access_token=x"], env=env)
    assert result.exit_code == 1 and "--owner-id" in result.stderr


def test_channel_kick_starts_the_dispatcher(_migrated: str, temporal_env: WorkflowEnvironment,
                                            task_queue: str) -> None:
    """`channel kick` signal-with-starts the one dispatcher workflow (delivery-dispatcher) on the configured task queue."""
    target = temporal_env.client.service_client.config.target_host
    env = {"DATABASE_URL": _migrated, "TEMPORAL_ADDRESS": target, "SBD_TASK_QUEUE": task_queue}
    result = CliRunner().invoke(app, ["channel", "kick"], env=env)
    assert result.exit_code == 0 and "已唤醒" in result.stdout, result.output

    async def inspect_and_stop() -> str:
        client = await Client.connect(target, data_converter=pydantic_data_converter)
        handle = client.get_workflow_handle(DISPATCHER_WORKFLOW_ID)
        described = await handle.describe()
        if described.status is WorkflowExecutionStatus.RUNNING and described.task_queue == task_queue:
            await handle.terminate("test over")   # no worker polls this test's queue
        return described.workflow_type

    # In a full run another test may have started the dispatcher on its own queue: then the kick
    # signalled that one, which is what signal-with-start is for.
    assert asyncio.run(inspect_and_stop()) == "DeliveryDispatcherWorkflow"
