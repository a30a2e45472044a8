"""Runs the `shuangbaodao` CLI as a subprocess, the way an operator would, for the CLI tests."""

from __future__ import annotations

import asyncio
import os
import re
import sys


async def run_cli(
    args: list[str], *, dsn: str, temporal: str | None = None, task_queue: str | None = None
) -> tuple[int, str, str]:
    """`python -m cli.main ARGS` on the database `dsn` (and the Temporal server and task queue when
    given), with a wide terminal so tables are not wrapped; (exit code, stdout, stderr)."""
    env = {**os.environ, "DATABASE_URL": dsn, "COLUMNS": "200"}
    if temporal is not None:
        env["TEMPORAL_ADDRESS"] = temporal
    if task_queue is not None:
        env["SBD_TASK_QUEUE"] = task_queue
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def run_cli_created(
    args: list[str], noun: str, *, dsn: str, temporal: str | None = None, task_queue: str | None = None
) -> int:
    """Run a create command that must succeed; the id it prints as "NOUN <id> 已创建"."""
    code, out, err = await run_cli(args, dsn=dsn, temporal=temporal, task_queue=task_queue)
    assert code == 0, err
    match = re.search(rf"{noun} (\d+) 已创建", out)
    assert match, out
    return int(match.group(1))
