"""CLI commands for dispatch: `needs ...`, `tasks ...`, `ledger`.

The CLI runs as the system actor (the city organization department): it may act on a member's
behalf (e.g. a member who phoned in their answer), like staff in the API. Refusals print the
workflow's Chinese message and exit with status 1.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.context import Runtime, run_job
from domain import local_time
from domain.task_rules import STATUS_LABELS
from schemas.auth import SYSTEM_ACTOR
from schemas.dispatch import (
    AnswerOfferInput,
    ClaimInput,
    LedgerFilter,
    NeedCreate,
    NeedDecision,
    NeedStatus,
    RateInput,
    ScanInput,
    TaskCreate,
    TaskMode,
    TaskStatus,
    Urgency,
)
from schemas.settings import Settings
from services import dispatch, resident

needs_app = typer.Typer(help="需求清单 (needs, micro-wishes)", no_args_is_help=True)
tasks_app = typer.Typer(help="任务与派单 (tasks, offers, scans, rating, verification)", no_args_is_help=True)

MemberOpt = Annotated[int, typer.Option("--member", min=1, help="党员编号")]
TokenOpt = Annotated[str, typer.Option("--token", help="任务现场二维码令牌")]



@needs_app.command("add")
def add_need(
    grid: Annotated[int, typer.Option(min=1, help="网格编号")],
    category: Annotated[str, typer.Option(help="类别, 如 助老助残")],
    description: Annotated[str, typer.Option(help="需求描述")],
    urgency: Annotated[Urgency, typer.Option(help="紧急程度 red/yellow/blue")] = Urgency.blue,
    resident_name: Annotated[str | None, typer.Option(help="居民姓名")] = None,
    resident_phone: Annotated[str | None, typer.Option(help="居民电话")] = None,
    donor: Annotated[str | None, typer.Option(help="捐赠人 (微心愿)")] = None,
    anonymous: Annotated[bool, typer.Option(help="捐赠人匿名")] = False,
) -> None:
    """登记居民需求 (place a need)."""
    data = NeedCreate(category=category, grid_id=grid, urgency=urgency, description=description,
                      resident_name=resident_name, resident_phone=resident_phone, donor_name=donor,
                      donor_anonymous=anonymous)

    async def job(rt: Runtime) -> str:
        async with rt.pool.acquire() as conn:
            need = await dispatch.place_need(conn, SYSTEM_ACTOR, data, now=local_time.now())
        flag = f" (疑似重复, 与需求 {need.duplicate_of} 相同)" if need.likely_duplicate else ""
        return f"需求 {need.id} 已登记, 处置时限 {need.deadline_at:%Y-%m-%d %H:%M}{flag}"

    typer.echo(run_job(job))


@needs_app.command("decide")
def decide_need(
    need_id: int,
    approve: Annotated[bool, typer.Option("--approve/--reject", help="核查通过或驳回")],
    reason: Annotated[str | None, typer.Option(help="驳回理由")] = None,
) -> None:
    """核查或驳回需求 (verify or reject a need)."""

    async def job(rt: Runtime) -> str:
        async with rt.pool.acquire() as conn:
            need = await dispatch.decide_need(conn, SYSTEM_ACTOR, need_id,
                                              NeedDecision(approve=approve, reason=reason), now=local_time.now())
        return f"需求 {need.id}: {need.status.value}"

    typer.echo(run_job(job))


@needs_app.command("list")
def list_needs(status: Annotated[NeedStatus | None, typer.Option(help="状态")] = None,
               limit: Annotated[int, typer.Option(min=1, max=1000)] = 100) -> None:
    """需求清单 (the need list; resident phones masked)."""

    async def job(rt: Runtime) -> Table:
        async with rt.pool.acquire() as conn:
            rows = await dispatch.list_needs(conn, SYSTEM_ACTOR, status=status.value if status else None,
                                             limit=limit)
        table = Table("需求", "类别", "社区", "网格", "紧急程度", "处置时限", "状态", "居民电话", "疑似重复",
                      "描述", title="需求清单")
        for n in rows:
            table.add_row(str(n.id), n.category, str(n.community_id), str(n.grid_id), n.urgency.value,
                          f"{n.deadline_at:%m-%d %H:%M}", n.status.value, n.resident_phone or "",
                          "是" if n.likely_duplicate else "", n.description)
        return table

    Console().print(run_job(job))


@tasks_app.command("create")
def create_task(
    title: Annotated[str, typer.Option(help="任务名称")],
    start: Annotated[datetime, typer.Option(help="开始时间 (ISO 格式, 含时区, 如 2026-12-01T09:00:00+08:00)")],
    hours: Annotated[float, typer.Option(min=0.25, help="时长 (小时)")] = 2.0,
    need: Annotated[int | None, typer.Option(min=1, help="由已核查的需求转为任务")] = None,
    grid: Annotated[int | None, typer.Option(min=1, help="网格编号")] = None,
    category: Annotated[str | None, typer.Option(help="类别")] = None,
    mode: Annotated[TaskMode, typer.Option(help="dispatch 派单 / claim 认领 / post 认岗")] = TaskMode.dispatch,
    headcount: Annotated[int, typer.Option(min=1, help="人数")] = 1,
    skill: Annotated[list[str] | None, typer.Option(help="所需技能, 可重复")] = None,
    place: Annotated[str, typer.Option(help="地点")] = "",
    redeemable: Annotated[bool, typer.Option(help="积分同时计入可兑换账户")] = False,
) -> None:
    """创建任务并开始派单 (create a task; prints the QR token once)."""
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    data = TaskCreate(need_id=need, grid_id=grid, title=title, category=category, mode=mode,
                      headcount=headcount, required_skills=skill or [], window_start=start,
                      window_end=start + timedelta(hours=hours), place=place, redeemable=redeemable)

    async def job(rt: Runtime) -> str:
        made = await dispatch.create_task(rt.pool, rt.client, SYSTEM_ACTOR, data, now=local_time.now(),
                                          task_queue=Settings().task_queue)
        line = f"任务 {made.task.id} 已创建, 流程 {made.task.workflow_id}; 现场二维码令牌 (仅显示一次): {made.qr_token}"
        if made.resident_rating_code:
            line += f"; 居民评价码 (仅显示一次, 交给居民): {made.resident_rating_code}"
        return line

    typer.echo(run_job(job))


@tasks_app.command("answer")
def answer(task_id: int, member: MemberOpt,
           accept: Annotated[bool, typer.Option("--accept/--decline", help="接单或婉拒")],
           reason: Annotated[str | None, typer.Option(help="婉拒理由")] = None) -> None:
    """接单或婉拒 (answer an offer on a member's behalf)."""

    async def job(rt: Runtime) -> str:
        res = await dispatch.answer_offer(rt.pool, rt.client, SYSTEM_ACTOR, task_id,
                                          AnswerOfferInput(member_id=member, accept=accept, reason=reason))
        return f"邀请 {res.offer_id}: {res.status.value}"

    typer.echo(run_job(job))


@tasks_app.command("claim")
def claim(task_id: int, member: MemberOpt) -> None:
    """认领或认岗 (claim a claimable task or post)."""

    async def job(rt: Runtime) -> str:
        res = await dispatch.claim(rt.pool, rt.client, SYSTEM_ACTOR, task_id, ClaimInput(member_id=member))
        return f"已认领 ({res.filled}/{res.headcount})"

    typer.echo(run_job(job))


@tasks_app.command("check-in")
def check_in(task_id: int, member: MemberOpt, token: TokenOpt) -> None:
    """扫码签到 (check in with the task's QR token)."""

    async def job(rt: Runtime) -> str:
        res = await dispatch.check_in(rt.pool, rt.client, SYSTEM_ACTOR, task_id,
                                      ScanInput(member_id=member, token=token))
        return f"党员 {res.member_id}: {res.status.value}"

    typer.echo(run_job(job))


@tasks_app.command("check-out")
def check_out(task_id: int, member: MemberOpt, token: TokenOpt,
              report: Annotated[str | None, typer.Option(help="服务记录")] = None) -> None:
    """扫码签退并填写服务记录 (check out with a report)."""

    async def job(rt: Runtime) -> str:
        res = await dispatch.check_out(rt.pool, rt.client, SYSTEM_ACTOR, task_id,
                                       ScanInput(member_id=member, token=token, report=report))
        return f"党员 {res.member_id}: {res.status.value}, 服务时长 {res.hours} 小时"

    typer.echo(run_job(job))


@tasks_app.command("rate")
def rate(task_id: int, score: Annotated[int, typer.Option(min=1, max=5, help="评分 1-5")],
         comment: Annotated[str | None, typer.Option(help="评价")] = None) -> None:
    """录入居民评价 (record the resident's rating)."""

    async def job(rt: Runtime) -> str:
        res = await dispatch.rate(rt.pool, rt.client, SYSTEM_ACTOR, task_id, RateInput(score=score, comment=comment))
        return f"评分 {res.score}" + (", 已转待跟进" if res.follow_up else "")

    typer.echo(run_job(job))


@tasks_app.command("verify")
def verify(
    task_id: int,
    note: Annotated[str | None, typer.Option(help="核查意见")] = None,
    reject: Annotated[bool, typer.Option("--reject", help="核查不通过: 不计积分, 转待跟进整改 (须 --reason)")] = False,
    reason: Annotated[str | None, typer.Option(help="核查不通过的理由")] = None,
) -> None:
    """社区核查并记积分 (verify; credits points and closes the task), or --reject with a reason."""

    async def job(rt: Runtime) -> str:
        if reject:
            rejected = await dispatch.reject_verification(rt.pool, rt.client, SYSTEM_ACTOR, task_id, reason or "")
            return f"任务 {task_id} 核查未通过 (第 {rejected.rejections} 次), 已转{STATUS_LABELS[rejected.status]}"
        res = await dispatch.verify(rt.pool, rt.client, SYSTEM_ACTOR, task_id, note)
        return f"已核查, 记分 {res.points_credited} 人次"

    typer.echo(run_job(job))


@tasks_app.command("rating-code")
def rating_code(task_id: int) -> None:
    """重新签发居民评价码 (re-issue the resident's rating code; the old one stops working)."""

    async def job(rt: Runtime) -> str:
        async with rt.pool.acquire() as conn:
            issued = await resident.reissue_rating_code(conn, SYSTEM_ACTOR, task_id, now=local_time.now())
        return f"任务 {task_id} 的居民评价码 (仅显示一次, {issued.expires_at:%Y-%m-%d %H:%M} 前有效): {issued.code}"

    typer.echo(run_job(job))


@needs_app.command("grid-code")
def grid_code(grid_id: int) -> None:
    """签发网格点单码 (a grid's public code residents place needs with; the old one stops working)."""

    async def job(rt: Runtime) -> str:
        async with rt.pool.acquire() as conn:
            issued = await resident.issue_grid_need_code(conn, SYSTEM_ACTOR, grid_id, now=local_time.now())
        return f"网格 {grid_id} 的点单码 (仅显示一次, 原点单码已作废): {issued.code}"

    typer.echo(run_job(job))


@tasks_app.command("requeue")
def requeue(task_id: int) -> None:
    """挂账任务重新派单 (send a parked task down the ladder again)."""

    async def job(rt: Runtime) -> str:
        snap = await dispatch.requeue(rt.pool, rt.client, SYSTEM_ACTOR, task_id)
        return f"任务 {task_id}: {STATUS_LABELS[snap.status]}"

    typer.echo(run_job(job))


@tasks_app.command("cancel")
def cancel(task_id: int, reason: Annotated[str, typer.Option(help="取消原因")]) -> None:
    """取消任务 (before anyone has checked in)."""

    async def job(rt: Runtime) -> str:
        snap = await dispatch.cancel(rt.pool, rt.client, SYSTEM_ACTOR, task_id, reason)
        return f"任务 {task_id}: {STATUS_LABELS[snap.status]}"

    typer.echo(run_job(job))


@tasks_app.command("offers")
def offers(task_id: int) -> None:
    """派单记录及评分构成 (who was offered the task, and why)."""

    async def job(rt: Runtime) -> Table:
        async with rt.pool.acquire() as conn:
            rows = await dispatch.list_offers(conn, SYSTEM_ACTOR, task_id)
        table = Table("轮次", "层级", "党员", "状态", "距离", "技能", "公平", "质量", "单位分散", "总分",
                      title=f"任务 {task_id} 的派单记录")
        for o in rows:
            p = o.score_parts
            table.add_row(str(o.wave), o.level.value, str(o.member_id), o.status.value,
                          *(f"{v:.2f}" for v in (p.proximity, p.skills, p.fairness, p.quality, p.unit_spread,
                                                 p.total)))
        return table

    Console().print(run_job(job))


def ledger(
    grid: Annotated[int | None, typer.Option(min=1, help="网格编号")] = None,
    community: Annotated[int | None, typer.Option(min=1, help="社区编号")] = None,
    status: Annotated[TaskStatus | None, typer.Option(help="状态")] = None,
    overdue: Annotated[bool | None, typer.Option("--overdue/--on-time", help="只看超时 / 未超时")] = None,
    parked: Annotated[bool | None, typer.Option("--parked/--not-parked", help="只看挂账 / 非挂账")] = None,
    understaffed: Annotated[bool | None, typer.Option("--understaffed/--fully-staffed",
                                                      help="只看人手不足 / 满员")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """挂账销号台账 (the task ledger, with filters)."""
    filters = LedgerFilter(grid_id=grid, community_id=community, status=status, overdue=overdue,
                           parked=parked, understaffed=understaffed, limit=limit)

    async def job(rt: Runtime) -> Table:
        async with rt.pool.acquire() as conn:
            rows = await dispatch.ledger(conn, SYSTEM_ACTOR, filters, now=local_time.now())
        table = Table("任务", "名称", "类别", "社区", "网格", "状态", "层级", "承接党员", "超时", "人手不足",
                      "挂账原因", title="挂账销号台账")
        for r in rows:
            short = f"差 {r.understaffed_shortfall} 人" if r.understaffed_shortfall else ""
            table.add_row(str(r.task_id), r.title, r.category, str(r.community_id), str(r.grid_id),
                          STATUS_LABELS[r.status], r.escalation_level.value, ",".join(map(str, r.holders)),
                          "是" if r.overdue else "", short, r.parked_reason or "")
        return table

    Console().print(run_job(job))


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root command."""
    app.add_typer(needs_app, name="needs")
    app.add_typer(tasks_app, name="tasks")
    app.command("ledger")(ledger)
