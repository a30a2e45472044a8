"""CLI commands for the front end: `web build`, `web gen-client [--check]`, `web check`."""

from __future__ import annotations

from typing import Annotated

import typer

from stack import web_build

web_app = typer.Typer(help="前端: 构建控制台页面, 生成接口类型 (the web front end)", no_args_is_help=True)


def _fail(exc: web_build.WebBuildError) -> typer.Exit:
    typer.echo(str(exc), err=True)
    return typer.Exit(1)


@web_app.command("build")
def build_command(
    force: Annotated[bool, typer.Option("--force", help="源码未变也重新构建 (rebuild even if unchanged)")] = False,
) -> None:
    """npm ci (依赖变化时) 与 vite build (源码变化时) (install and build web/dist when needed)."""
    try:
        built = web_build.build(force=force, say=typer.echo)
    except web_build.WebBuildError as exc:
        raise _fail(exc) from None
    typer.echo(f"web/dist {'已构建 built' if built else '已是最新 up to date'}")


@web_app.command("gen-client")
def gen_client_command(
    check: Annotated[bool, typer.Option("--check", help="只检查是否最新 (fail when stale)")] = False,
) -> None:
    """从 OpenAPI 文档生成 web/src/api/schema.d.ts (generate the typed API client)."""
    try:
        if check:
            if not web_build.client_is_current():
                typer.echo(web_build.STALE_CLIENT_MESSAGE, err=True)
                raise typer.Exit(1)
            typer.echo("web/src/api/schema.d.ts 已是最新 (client is current)")
            return
        changed = web_build.write_client()
    except web_build.WebBuildError as exc:
        raise _fail(exc) from None
    typer.echo(f"web/src/api/schema.d.ts {'已更新 updated' if changed else '无变化 unchanged'}")


@web_app.command("check")
def check_command() -> None:
    """前端检查: 接口类型、vue-tsc、eslint、构建 (client freshness, type check, lint, build)."""
    steps = (
        ("npm ci", lambda: web_build.ensure_node_modules(say=typer.echo)),
        ("client", _client_check),
        ("vue-tsc", web_build.typecheck),
        ("eslint", web_build.lint),
        ("vite build", lambda: web_build.build(say=typer.echo)),
    )
    for name, step in steps:
        typer.echo(f"$ web {name}")
        try:
            step()
        except web_build.WebBuildError as exc:
            raise _fail(exc) from None


def _client_check() -> None:
    if not web_build.client_is_current():
        raise web_build.WebBuildError(web_build.STALE_CLIENT_MESSAGE)


def register(app: typer.Typer) -> None:
    """Attach `web ...` to the root command."""
    app.add_typer(web_app, name="web")
