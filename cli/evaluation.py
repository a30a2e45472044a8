"""CLI commands for evaluation 述职评议考核: `evaluation run`, `evaluation export`,
`evaluation show`, `evaluation schedules ensure`.

Runs as the system actor (the city organization department). `run` starts EvaluationWorkflow on
the workers' task queue and, unless --no-wait, waits for it and prints the summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.context import Runtime, run_job
from schemas.auth import SYSTEM_ACTOR
from schemas.evaluation import EvaluationLevel
from schemas.settings import Settings
from services import evaluation
from services.delivery import kick_dispatcher

app = typer.Typer(help="述职评议考核 (evaluation runs, results, exports, schedules)", no_args_is_help=True)
schedules_app = typer.Typer(help="定期考核的 Temporal Schedules", no_args_is_help=True)
app.add_typer(schedules_app, name="schedules")


@app.command("run")
def run(
    period: Annotated[str | None, typer.Option(help="考核期间: 2026-11 / 2026-Q4 / 2026")] = None,
    campaign: Annotated[int | None, typer.Option(min=1, help="活动编号 (按活动窗口、范围和规则考核)")] = None,
    no_reports: Annotated[bool, typer.Option("--no-reports", help="不生成单位反馈表")] = False,
    wait: Annotated[bool, typer.Option(help="等待考核完成并打印汇总")] = True,
    kick: Annotated[bool, typer.Option(help="完成后唤醒消息发送 (delivery dispatcher)")] = True,
) -> None:
    """发起一次考核 (start an evaluation run)."""
    settings = Settings()

    async def job(rt: Runtime) -> None:
        run_id = await evaluation.start_run_as(
            rt.pool, rt.client, SYSTEM_ACTOR, task_queue=settings.task_queue, period_text=period,
            campaign_id=campaign, unit_reports=not no_reports)
        typer.echo(f"考核批次 {run_id} 已发起 (工作流 {evaluation.workflow_id_for(run_id)})")
        if wait:
            with Console().status("考核计算中 ..."):
                result = await evaluation.wait_run(rt.client, run_id)
            if kick:
                # Unit notices may have queued group-robot deliveries: wake the dispatcher now.
                await kick_dispatcher(rt.client, settings.task_queue, reason="evaluation")
            typer.echo(f"完成: 党员 {result.members} 人, 单位 {result.units} 个, 社区 {result.communities} 个, "
                       f"单位反馈表 {result.reports} 份, 通知 {result.notified} 条")

    run_job(job)


@app.command("show")
def show(
    run_id: Annotated[int, typer.Argument(min=1, help="考核批次编号")],
    level: Annotated[EvaluationLevel, typer.Option(help="层级")] = EvaluationLevel.community,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
) -> None:
    """查看考核结果 (results of a run at one level)."""

    async def job(rt: Runtime) -> None:
        async with rt.pool.acquire() as conn:
            page = await evaluation.results(conn, SYSTEM_ACTOR, run_id=run_id, level=level, limit=limit)
        table = Table(title=f"考核批次 {run_id} · {level.value} · 共 {page.total} 条")
        if not page.items:
            Console().print(table)
            return
        fields = list(type(page.items[0]).model_fields)
        for name in fields:
            table.add_column(name)
        for item in page.items:
            table.add_row(*(str(getattr(item, name)) for name in fields))
        Console().print(table)

    run_job(job)


@app.command("export")
def export(
    run_id: Annotated[int, typer.Argument(min=1, help="考核批次编号")],
    out: Annotated[Path, typer.Option("--out", help="输出文件 (.xlsx)")],
    level: Annotated[EvaluationLevel, typer.Option(help="层级")] = EvaluationLevel.unit,
) -> None:
    """导出考核结果为 .xlsx (export results with Chinese headers)."""

    async def job(rt: Runtime) -> int:
        async with rt.pool.acquire() as conn:
            body = await evaluation.export_workbook(conn, SYSTEM_ACTOR, run_id=run_id, level=level)
        out.write_bytes(body)
        return len(body)

    size = run_job(job)
    typer.echo(f"已导出 {out} ({size} 字节)")


@schedules_app.command("ensure")
def ensure() -> None:
    """创建或更新每月、每季度、每年的考核计划 (evaluation-monthly / -quarterly / -yearly)."""
    settings = Settings()

    async def job(rt: Runtime) -> list[str]:
        return await evaluation.ensure_schedules(rt.client, task_queue=settings.task_queue)

    for schedule_id in run_job(job):
        typer.echo(f"计划已就绪: {schedule_id}")


def register(root: typer.Typer) -> None:
    """Attach this module's commands to the root command."""
    root.add_typer(app, name="evaluation")
