"""The `shuangbaodao` command: one entry, a sub-command per job."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

import typer

from cli import (
    campaign,
    channels,
    directory,
    dispatch,
    evaluation,
    exchange,
    registrations,
    roster,
    serve,
    service_records,
    stack,
    tokens,
    web,
    whistle,
    worker,
)
from schemas.text import unstorable_character

app = typer.Typer(
    name="shuangbaodao",
    help="双报到: 在职党员进社区的派单与报到引擎",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
stack.register(app)
serve.register(app)
worker.register(app)
roster.register(app)
tokens.register(app)
registrations.register(app)
directory.register(app)
dispatch.register(app)
channels.register(app)
evaluation.register(app)
exchange.register(app)
campaign.register(app)
service_records.register(app)
whistle.register(app)
web.register(app)


def argument_problem(argv: Sequence[str]) -> str | None:
    """Why the command line cannot be used, naming the argument, or None.

    Text the database cannot store is refused here, before any command runs, as the API refuses
    it (schemas.text): a NUL cannot be passed in argv, but bytes that are not UTF-8 arrive as lone
    surrogates.
    """
    for position, arg in enumerate(argv):
        problem = unstorable_character(arg)
        if problem is not None:
            option = argv[position - 1] if position and argv[position - 1].startswith("-") else None
            where = f"选项 {option} 的值" if option else f"第{position + 1}个参数"
            return f"{where}含有无法保存的字符: {problem}; 请确认终端使用 UTF-8 编码后重新输入"
    return None


def main() -> None:
    problem = argument_problem(sys.argv[1:])
    if problem is not None:
        typer.echo(problem, err=True)
        raise SystemExit(2)
    try:
        app()
        code: int = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
    # The command is done and has closed what it opened. Leave without the interpreter's teardown:
    # the Temporal client's native threads can outlive the event loop and abort a finalizing
    # interpreter (temporalio/sdk-python#300: "PyGILState_Release: thread state ... must be current
    # when releasing", exit -6 after the work succeeded; seen once in a full test run).
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
