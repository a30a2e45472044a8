"""CLI commands of the unit admin's tools: `unit transfer|transfers|accept|refuse|cancel` (转单位)
and `registration certificate` (打印报到证).

Like the other commands, they act as the system actor (city organization department) or as the
actor behind `--token`, so the API's scope rules apply; a refusal prints the Chinese message and
exits 1.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.context import Runtime, TokenOption, acting_actor, run_job
from schemas.settings import Settings
from schemas.unit_transfer import UnitTransferOut, UnitTransferStatus
from services import certificate as certificates
from services import unit_transfer as transfers

unit_app = typer.Typer(help="报到单位管理: 转单位 (unit admin tools)", no_args_is_help=True)

_STATUS_LABELS = {
    UnitTransferStatus.pending: "待确认", UnitTransferStatus.accepted: "已转入",
    UnitTransferStatus.refused: "已拒绝", UnitTransferStatus.cancelled: "已撤回",
    UnitTransferStatus.expired: "已失效",
}


def _print(transfer: UnitTransferOut) -> None:
    Console().print(
        f"转单位申请 {transfer.id}: 党员 {transfer.member_name}({transfer.member_id}) "
        f"{transfer.from_unit_name or '(无单位)'} → {transfer.to_unit_name} "
        f"状态 {transfer.status.value} {_STATUS_LABELS[transfer.status]}"
        + (f" 原因: {transfer.decision_reason}" if transfer.decision_reason else "")
    )


def _answer(step: Callable[..., Awaitable[UnitTransferOut]], transfer_id: int, token: str | None,
            *reason: str | None) -> None:
    """Accept, refuse or cancel a transfer (`step`: the service's; refusing and cancelling take a reason)."""

    async def job(runtime: Runtime) -> UnitTransferOut:
        async with runtime.pool.acquire() as conn:
            return await step(conn, await acting_actor(conn, token), transfer_id, *reason, client=runtime.client)

    _print(run_job(job))


@unit_app.command("transfer")
def start(member_id: int, to_unit: Annotated[int, typer.Option("--to-unit", help="转入单位编号")],
          note: Annotated[str | None, typer.Option("--note", help="申请说明")] = None,
          now: Annotated[bool, typer.Option("--now", help="组织部门直接办理, 不经转入单位确认")] = False,
          token: TokenOption = None) -> None:
    """申请把党员转到另一个工作单位 (原单位、本人或组织部门发起)."""

    async def job(runtime: Runtime) -> UnitTransferOut:
        async with runtime.pool.acquire() as conn:
            return await transfers.start_unit_transfer(
                conn, await acting_actor(conn, token), member_id=member_id, to_unit_id=to_unit, note=note,
                decide_now=now, client=runtime.client, task_queue=Settings().task_queue,
            )

    _print(run_job(job))


@unit_app.command("accept")
def accept(transfer_id: int, token: TokenOption = None) -> None:
    """转入单位确认接收."""
    _answer(transfers.accept_unit_transfer, transfer_id, token)


@unit_app.command("refuse")
def refuse(transfer_id: int, reason: Annotated[str, typer.Option("--reason", help="拒绝原因 (必填)")],
           token: TokenOption = None) -> None:
    """转入单位拒绝接收 (须填原因)."""
    _answer(transfers.refuse_unit_transfer, transfer_id, token, reason)


@unit_app.command("cancel")
def cancel(transfer_id: int, reason: Annotated[str | None, typer.Option("--reason", help="撤回原因")] = None,
           token: TokenOption = None) -> None:
    """申请方撤回尚未处理的转单位申请."""
    _answer(transfers.cancel_unit_transfer, transfer_id, token, reason)


@unit_app.command("transfers")
def list_transfers(
    status: Annotated[UnitTransferStatus | None, typer.Option("--status", help="按状态筛选")] = None,
    unit: Annotated[int | None, typer.Option("--unit", help="转出或转入该单位")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    token: TokenOption = None,
) -> None:
    """转单位申请列表 (在您的管理范围内)."""

    async def job(runtime: Runtime) -> tuple[int, list[UnitTransferOut]]:
        async with runtime.pool.acquire() as conn:
            page = await transfers.list_unit_transfers(conn, await acting_actor(conn, token), status=status,
                                                       unit_id=unit, limit=limit)
        return page.total, page.items

    total, items = run_job(job)
    table = Table("编号", "党员", "原单位", "转入单位", "状态", "申请时间", "失效时间", title=f"转单位申请 共 {total} 条")
    for t in items:
        table.add_row(str(t.id), t.member_name, t.from_unit_name or "—", t.to_unit_name,
                      _STATUS_LABELS[t.status], f"{t.requested_at:%Y-%m-%d}", f"{t.expires_at:%Y-%m-%d}")
    Console(width=200).print(table)


def certificate(
    registration_id: int,
    out: Annotated[Path, typer.Option("--out", help="保存为 HTML 文件 (浏览器打开后打印, A5)")],
    base_url: Annotated[str, typer.Option(
        "--base-url", help="二维码指向的接口地址, 如 https://sbd.example.gov.cn (手机扫码即可核验)")] = "",
    token: TokenOption = None,
) -> None:
    """打印报到证: 已生效的个人报到, 保存为可打印的 HTML."""

    async def job(runtime: Runtime) -> str:
        async with runtime.pool.acquire() as conn:
            view = await certificates.member_certificate(conn, await acting_actor(conn, token), registration_id)
        out.write_text(certificates.render([view], title=f"报到证 {view.number}", base_url=base_url),
                       encoding="utf-8")
        return view.number

    number = run_job(job)
    Console().print(f"报到证 {number} 已保存到 {out}")


def register(app: typer.Typer, registration_app: typer.Typer) -> None:
    """Attach `unit ...` to the root command and `certificate` to `registration`."""
    app.add_typer(unit_app, name="unit")
    registration_app.command("certificate")(certificate)
