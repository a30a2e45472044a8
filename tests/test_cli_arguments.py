"""The command line refuses text the database cannot store before any command runs, naming the
argument, as the API refuses it; and such errors inside an activity are not retried."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import asyncpg

from cli.main import argument_problem
from workers.permanent_errors import permanent

CLI = Path(sys.executable).parent / "shuangbaodao"


def test_arguments_with_unstorable_text_are_named() -> None:
    assert argument_problem(["tasks", "cancel", "1", "--reason", "改期"]) is None
    problem = argument_problem(["tasks", "cancel", "1", "--reason", "改\udcff期"])
    assert problem is not None and "--reason" in problem and "U+DCFF" in problem
    problem = argument_problem(["campaigns", "create", "名\x00称"])
    assert problem is not None and "第3个参数" in problem and "NUL" in problem


async def test_the_command_refuses_bytes_that_are_not_utf8() -> None:
    """A reason typed in a GBK terminal reaches argv as bytes that are not UTF-8: exit 2 and say
    which option, with no database or Temporal contacted."""
    proc = await asyncio.create_subprocess_exec(
        str(CLI), "tasks", "cancel", "1", "--reason", "改期".encode("gbk"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "LC_ALL": "C.UTF-8"},
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 2, (out, err)
    assert "--reason" in err.decode("utf-8", errors="replace")


def test_data_errors_are_permanent_and_others_are_retried() -> None:
    surrogate: UnicodeEncodeError | None = None
    try:
        "\ud800".encode()
    except UnicodeEncodeError as err:
        surrogate = err
    assert surrogate is not None
    for error in (asyncpg.exceptions.CharacterNotInRepertoireError("x"),
                  asyncpg.exceptions.UntranslatableCharacterError("x"),
                  asyncpg.exceptions.CheckViolationError("x"), surrogate):
        refused = permanent(error)
        assert refused is not None and refused.non_retryable and refused.type == "invalid_input", error
    retried: list[BaseException] = [asyncpg.exceptions.DeadlockDetectedError("x"),
                                    asyncpg.exceptions.UniqueViolationError("x"), ConnectionResetError()]
    for other in retried:
        assert permanent(other) is None, other
