"""The `shuangbaodao` command: one entry, a sub-command per job."""

from __future__ import annotations

import typer

from cli import (
    campaign,
    channels,
    directory,
    dispatch,
    evaluation,
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
campaign.register(app)
service_records.register(app)
whistle.register(app)
web.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
