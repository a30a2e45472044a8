"""`shuangbaodao channel add|list|disable` against the real database (in-process): endpoints are
saved, listed without their credentials, and a refusal prints the Chinese reason and exits 1."""

from __future__ import annotations

import asyncio
from typing import Any

from typer.testing import CliRunner

from cli.main import app
from db.pool import connect
from tests.conftest import unique
from tests.test_delivery_receivers import owner_id


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
