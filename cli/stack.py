"""CLI commands: `up` (the whole embedded stack) and `version`."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.context import process_tracing
from schemas.settings import Settings
from stack.embedded import run_stack
from stack.temporal import StackStartError
from stack.web_build import WebBuildError, build
from telemetry.logging import configure_logging


class DemoSizeOption(StrEnum):
    full = "full"
    small = "small"


def settings_from_options(**options: Any) -> Settings:
    """Settings from the environment, with the options given on the command line on top."""
    given = {key: value for key, value in options.items() if value is not None}
    return Settings(**given)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root command."""

    @app.command()
    def version() -> None:
        """打印版本 (print the version)."""
        typer.echo("shuangbaodao 0.1.0")

    @app.command()
    def up(
        demo: Annotated[bool, typer.Option("--demo", help="生成并导入演示城市 (seed the demo city)")] = False,
        demo_size: Annotated[
            DemoSizeOption, typer.Option("--demo-size", help="演示城市规模 (full, or small for tests)")
        ] = DemoSizeOption.full,
        data_dir: Annotated[
            Path | None, typer.Option("--data-dir", help="数据目录 (default ./.shuangbaodao)")
        ] = None,
        api_port: Annotated[int | None, typer.Option("--api-port", help="API 端口 (8700)")] = None,
        temporal_port: Annotated[
            int | None, typer.Option("--temporal-port", help="Temporal 端口 (7233)")
        ] = None,
        temporal_ui_port: Annotated[
            int | None, typer.Option("--temporal-ui-port", help="Temporal 界面端口 (8233)")
        ] = None,
        worker_processes: Annotated[int | None, typer.Option(
            "--worker-processes", min=0, max=16,
            help="以 N 个独立进程运行 worker, 崩溃后自动重启 (default 0: in this process)")] = None,
    ) -> None:
        """启动全部服务: Postgres, Temporal, worker, API (start the whole embedded stack)."""
        settings = settings_from_options(
            data_dir=data_dir, api_port=api_port, temporal_port=temporal_port,
            temporal_ui_port=temporal_ui_port, worker_processes=worker_processes,
        )
        configure_logging(json=settings.log_json)
        with process_tracing(settings, role="up"):
            try:
                build(say=typer.echo)  # the console pages, when their sources changed since the last build
            except WebBuildError as exc:
                # The API still starts; /admin then says how to build.
                typer.echo(f"{exc}\n控制台页面未构建, 接口照常启动 (console not built; the API starts anyway)",
                           err=True)
            demo_step = None
            if demo:
                from demo.seed import demo_step_for  # the demo pulls in the services; only when asked

                demo_step = demo_step_for(demo_size.value)
            try:
                asyncio.run(run_stack(settings, demo=demo_step, print_line=typer.echo))
            except StackStartError as exc:
                typer.echo(str(exc), err=True)
                raise typer.Exit(1) from None
