"""The basis of a unit's and a community's evaluation figures 考核依据, line by line.

Each line restates one stored count or rate beside the threshold the run applied (kept with the
row when it was computed, and in the run's rule), so a clerk can check any figure on screen. A
member's basis (each ledger row) is services.evaluation.explain_member.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from db import evaluation as evaluation_db
from db.evaluation import F, FiguresRow
from db.pool import Conn
from domain.errors import Forbidden, NotFound
from domain.evaluation import thresholds
from domain.local_time import LOCAL_ZONE
from domain.scope import allows
from schemas.auth import Actor, ScopeKind
from schemas.evaluation import EvaluationRun, ExplainLine, FigureExplanation


def _pct(value: Any) -> str:
    return "—" if value is None else f"{Decimal(str(value)) * 100:.2f}%"


def _day(at: datetime) -> str:
    return at.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d")


async def _run(conn: Conn, run_id: int) -> EvaluationRun:
    run = await evaluation_db.select_run(conn, run_id=run_id)
    if run is None:
        raise NotFound(f"考核批次 {run_id} 不存在")
    return run


def _visible(actor: Actor, row: FiguresRow[F] | None, *, absent: str) -> FiguresRow[F]:
    """The stored result, or NotFound when there is none or it lies outside the actor's scope
    (outside reads as absent)."""
    if row is None or not allows(actor, row.path):
        raise NotFound(absent)
    return row


def _period_line(run: EvaluationRun, months: int) -> ExplainLine:
    return ExplainLine(kind="period", label="考核期间",
                       value=f"{run.period_label}: {_day(run.period_start)} 至 {_day(run.period_end)}"
                             f" (不含), 计 {months} 个月")


async def explain_unit(conn: Conn, actor: Actor, *, run_id: int, unit_id: int) -> FigureExplanation:
    """Why a unit has its rates, eligibility, stars, rank and grade."""
    run = await _run(conn, run_id)
    if actor.scope_kind == ScopeKind.member:
        raise Forbidden("党员个人无权查看单位的考核依据")
    row = _visible(actor, await evaluation_db.select_unit_result(conn, run_id=run_id, unit_id=unit_id),
                   absent=f"考核批次 {run_id} 中没有单位 {unit_id} 的结果")
    f = row.figures
    t = thresholds(run.rule, run.period_start, run.period_end)
    members, registered, met, services = f.members, f.registered, f.quota_met, f.services
    basic_ok = registered >= t.unit_basic_rate * members and met >= t.unit_basic_rate * members
    excellent_ok = services >= t.unit_excellent_services * members
    lower = min(f.registration_rate, f.completion_rate)
    lines = [
        _period_line(run, t.months),
        ExplainLine(kind="count", label="党员人数", value=f"{members} 人 (本单位在册党员)"),
        ExplainLine(kind="threshold", label="报到率", passed=registered >= t.unit_min_registration_rate * members,
                    value=f"已报到 {registered} / {members} 人 = {_pct(f.registration_rate)},"
                          f" 评优线 {_pct(t.unit_min_registration_rate)}"),
        ExplainLine(kind="threshold", label="完成率", passed=met >= t.unit_min_completion_rate * members,
                    value=f"完成服务指标 {met} / {members} 人 = {_pct(f.completion_rate)},"
                          f" 评优线 {_pct(t.unit_min_completion_rate)}"),
        ExplainLine(kind="threshold", label="评优资格", passed=f.eligible,
                    value="两率均达评优线, 具备评优资格" if f.eligible else "两率未全部达到评优线, 失去评优资格"),
        ExplainLine(kind="threshold", label="服务次数", passed=excellent_ok,
                    value=f"共 {services} 次, 人均 {f.services_per_member} 次;"
                          f" 优秀线 人均 {t.unit_excellent_services} 次 (具备评优资格时)"),
        ExplainLine(kind="threshold", label="基本合格线", passed=basic_ok,
                    value=f"报到率与完成率均不低于 {_pct(t.unit_basic_rate)}"),
        ExplainLine(kind="stars", label="星级",
                    value=f"{f.stars} 星: 两率中较低者 {_pct(lower)} 对照分档 "
                          + " / ".join(_pct(b) for b in t.star_bands)),
        ExplainLine(kind="rank", label="排名", value=f"第 {f.rank} 名 (依次按完成率、报到率、人均服务次数)"),
        ExplainLine(kind="grade", label="等次", value=f.grade.value),
    ]
    return FigureExplanation(run_id=run_id, subject_kind="unit", subject_id=unit_id, name=row.name,
                             grade=f.grade, stars=f.stars, lines=lines)


async def explain_community(conn: Conn, actor: Actor, *, run_id: int, community_id: int) -> FigureExplanation:
    """Why a community has its three rates 三率, coverage, composite, stars and rank."""
    run = await _run(conn, run_id)
    if actor.scope_kind in (ScopeKind.unit, ScopeKind.member):
        raise Forbidden("无权查看社区及以上的考核结果")
    row = _visible(actor, await evaluation_db.select_community_result(conn, run_id=run_id, community_id=community_id),
                   absent=f"考核批次 {run_id} 中没有社区 {community_id} 的结果")
    f = row.figures
    t = thresholds(run.rule, run.period_start, run.period_end)
    needs = f.needs
    no_needs = "本期无居民需求, 不计入综合值"
    rates = [r for r in (f.response_rate, f.resolution_rate, f.satisfaction_rate) if r is not None]
    lines = [
        _period_line(run, t.months),
        ExplainLine(kind="count", label="党员报到",
                    value=f"已报到 {f.registered} / {f.members} 人 (居住在本社区的党员)"),
        ExplainLine(kind="rate", label="响应率",
                    value=no_needs if needs == 0 else
                    f"有党员接单 {f.responded} / 需求 {needs} 件 = {_pct(f.response_rate)}"
                    + ("" if f.avg_hours_to_respond is None else f", 平均 {f.avg_hours_to_respond} 小时响应")),
        ExplainLine(kind="rate", label="解决率",
                    value=no_needs if needs == 0 else
                    f"已办结 {f.resolved} / 需求 {needs} 件 = {_pct(f.resolution_rate)}"),
        ExplainLine(kind="rate", label="满意率",
                    value="本期无居民评价, 不计入综合值" if f.ratings == 0 else
                    f"{t.satisfied_min_score} 星及以上 {f.satisfied} / 评价 {f.ratings} 条"
                    f" = {_pct(f.satisfaction_rate)}"),
        ExplainLine(kind="rate", label="综合值",
                    value="三率均无数据, 不评星" if f.composite is None else
                    f"{_pct(f.composite)} = 有数据的 {len(rates)} 项比率的平均"),
        ExplainLine(kind="stars", label="星级",
                    value="—" if f.stars is None else
                    f"{f.stars} 星: 综合值对照分档 " + " / ".join(_pct(b) for b in t.star_bands)),
        ExplainLine(kind="rate", label="网格党支部覆盖",
                    value=f"{f.grids_with_branch} / {f.grids} 个网格 = {_pct(f.branch_coverage)}"),
        ExplainLine(kind="rate", label="网格党员覆盖",
                    value=f"{f.grids_with_members} / {f.grids} 个网格有已报到党员"
                          f" = {_pct(f.member_coverage)}"),
        ExplainLine(kind="rank", label="排名", value=f"第 {f.rank} 名 (按综合值)"),
    ]
    return FigureExplanation(run_id=run_id, subject_kind="community", subject_id=community_id, name=row.name,
                             stars=f.stars, lines=lines)
