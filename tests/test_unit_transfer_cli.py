"""The `unit` CLI drives the same transfer use cases as the API, under the token's scope."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from db.pool import Pool
from tests.cli_runner import run_cli
from tests.test_unit_transfer_api import build_world


async def test_cli_asks_lists_refuses_out_of_scope_and_accepts(
    pool: Pool, _migrated: str, temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    """`unit transfer` opens a request, `unit transfers` lists it for the target, an unrelated unit's
    `unit accept` exits 1 in Chinese, a blank refusal exits 1, and the target's accept moves the member."""
    world = await build_world(pool)
    u1 = world.city.units[1]
    kw = {"dsn": _migrated, "temporal": temporal_env.client.service_client.config.target_host,
          "task_queue": task_queue}
    code, out, err = await run_cli(["unit", "transfer", str(world.m0), "--to-unit", str(u1),
                                    "--token", world.tokens["unit0"]], **kw)
    assert code == 0, err
    assert "待确认" in out
    transfer_id = out.split("转单位申请 ", 1)[1].split(":", 1)[0]
    code, out, err = await run_cli(["unit", "transfers", "--status", "pending", "--token", world.tokens["unit1"]], **kw)
    assert code == 0, err
    assert "共 1 条" in out and "待确认" in out
    code, _, err = await run_cli(["unit", "accept", transfer_id, "--token", world.tokens["unit2"]], **kw)
    assert code == 1 and "不存在" in err
    code, _, err = await run_cli(["unit", "refuse", transfer_id, "--reason", " ", "--token", world.tokens["unit1"]],
                                 **kw)
    assert code == 1 and "原因" in err
    code, out, err = await run_cli(["unit", "accept", transfer_id, "--token", world.tokens["unit1"]], **kw)
    assert code == 0 and "已转入" in out, err
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT unit_id FROM member WHERE id = $1", world.m0) == u1
