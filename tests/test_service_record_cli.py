"""The service-record CLI against the real database and dev server: log, list, approve, reject; a
refusal prints the Chinese message and exits 1."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from temporalio.testing import WorkflowEnvironment

from db.pool import Pool
from domain.local_time import LOCAL_ZONE
from tests.cli_runner import run_cli
from tests.test_registration_seed import seed_city
from tests.test_service_record import registered_member


async def test_cli_logs_lists_approves_and_rejects(
    pool: Pool, _migrated: str, temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    """`services log` stores a pending record (and refuses an overlap), `services list` shows it,
    `services approve` credits it once even when repeated, `services reject` needs and keeps a reason."""
    async with pool.acquire() as conn, conn.transaction():
        city = await seed_city(conn, communities=1)
        member = await registered_member(conn, city)
    kw = {"dsn": _migrated, "temporal": temporal_env.client.service_client.config.target_host,
          "task_queue": task_queue}
    day = (datetime.now(UTC).astimezone(LOCAL_ZONE) - timedelta(days=1)).date().isoformat()
    base = ["services", "log", "--member", str(member), "--community", str(city.communities[0]),
            "--date", day, "--category", "环境整治"]

    code, out, err = await run_cli([*base, "--start", "09:00", "--end", "10:30", "--description", "周末清扫"], **kw)
    assert code == 0, err
    match = re.search(r"服务记录 (\d+) 已登记: 1.5 小时", out)
    assert match, out
    first = int(match.group(1))
    code, out, err = await run_cli([*base, "--start", "10:00", "--end", "11:00"], **kw)
    assert code == 1 and f"服务记录 #{first}" in err, out + err
    code, out, err = await run_cli([*base, "--start", "14:00", "--end", "15:00"], **kw)
    assert code == 0, err
    second = int(re.search(r"服务记录 (\d+)", out).group(1))  # type: ignore[union-attr]

    code, out, err = await run_cli(["services", "list", "--member", str(member), "--status", "pending"], **kw)
    assert code == 0 and str(first) in out and str(second) in out and "待核实" in out, out + err
    for _ in range(2):
        code, out, err = await run_cli(["services", "approve", str(first)], **kw)
        assert code == 0 and "已核实" in out, out + err
    code, out, err = await run_cli(["services", "reject", str(second), "--reason", "无人证实"], **kw)
    assert code == 0 and "无人证实" in out, out + err
    code, out, err = await run_cli(["services", "reject", str(first), "--reason", "x"], **kw)
    assert code == 1 and "不能驳回" in err, out + err
    assert await pool.fetchval(
        "SELECT count(*) FROM evaluation_points WHERE service_record_id = ANY($1)", [first, second]) == 1
