"""CLI command: `import FILE [--kind hierarchy|units|members] [--dry-run]` (花名册导入).

A bad file prints every bad row (row, column, message) as a table and exits with 1.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.context import open_runtime
from domain.errors import DomainError
from schemas.auth import SYSTEM_ACTOR
from schemas.roster import ImportResult, RosterKind
from schemas.settings import Settings
from services.roster_import import Progress as ProgressCallback
from services.roster_import import RosterInvalid, import_roster

_KIND_NAMES = {RosterKind.hierarchy: "区划", RosterKind.units: "单位", RosterKind.members: "党员"}
MAX_PRINTED_ERRORS = 2000


async def _run(path: Path, kind: RosterKind | None, dry_run: bool, progress: ProgressCallback | None,
               start_workflow: bool) -> ImportResult:
    settings = Settings()
    async with open_runtime(settings) as runtime:
        return await import_roster(
            runtime.pool, path, kind=kind, actor=SYSTEM_ACTOR,
            client=runtime.client if start_workflow else None, progress=progress, dry_run=dry_run,
            task_queue=settings.task_queue,
        )


def print_errors(console: Console, error: RosterInvalid) -> None:
    console.print(f"[bold red]{error.message}[/]")
    if not error.errors:
        return
    table = Table("行号", "列", "问题", title=f"错误清单 (共{len(error.errors)}处)")
    for row_error in error.errors[:MAX_PRINTED_ERRORS]:
        table.add_row(str(row_error.row), row_error.column, row_error.message)
    console.print(table)
    if len(error.errors) > MAX_PRINTED_ERRORS:
        console.print(f"…… 另有{len(error.errors) - MAX_PRINTED_ERRORS}处错误未显示")


def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help=".xlsx 或 .csv 文件")],
    kind: Annotated[RosterKind | None, typer.Option(help="名册类型; 不填则按表头自动判断")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只检查, 不写入")] = False,
    start_workflow: Annotated[
        bool, typer.Option("--start-workflow/--no-start-workflow", help="导入党员后启动报到提醒流程")
    ] = True,
) -> None:
    """导入花名册 (import a roster of the hierarchy, units or members; all or nothing)."""
    console = Console(stderr=True)
    bar: Progress | None = None
    callback: ProgressCallback | None = None
    if sys.stderr.isatty():
        bar = Progress(
            TextColumn("读取并校验"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
            transient=True,
        )
        task = bar.add_task("rows", total=None)

        def callback(done: int, total: int | None) -> None:
            assert bar is not None
            bar.update(task, completed=done, total=total)

    try:
        if bar is not None:
            with bar:
                result = asyncio.run(_run(file, kind, dry_run, callback, start_workflow))
        else:
            result = asyncio.run(_run(file, kind, dry_run, callback, start_workflow))
    except RosterInvalid as exc:
        print_errors(console, exc)
        raise typer.Exit(1) from None
    except DomainError as exc:
        console.print(f"[bold red]{exc.message}[/]")
        raise typer.Exit(1) from None
    out = Console()
    what = _KIND_NAMES[result.kind]
    prefix = "检查通过 (未写入): " if dry_run else ""
    out.print(
        f"{prefix}{what}名册「{result.file_name}」共{result.rows}行: "
        f"{'新增区划及相邻关系' if result.kind is RosterKind.hierarchy else '新增'}{result.inserted}, "
        f"未变{result.unchanged}" + (f", 新提交个人报到{result.registrations}" if result.kind is RosterKind.members else "")
    )
    if result.skipped_total_rows:
        shown = "、".join(str(n) for n in result.skipped_total_rows)
        out.print(f"第{shown}行是合计/小计行, 不是记录: 已跳过。")
    if result.already_imported:
        out.print("该文件此前已导入过; 本次没有重复写入。")
    if result.cohort_id is not None:
        started = "已启动" if result.workflow_started else "未启动"
        out.print(f"报到批次 {result.cohort_id}: 提醒流程{started}")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root command."""
    app.command("import")(import_command)
