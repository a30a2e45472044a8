"""Evaluation front door 述职评议考核: start a run, read results per level in the reader's scope,
explain a member's grade line by line, export .xlsx, download a unit's feedback workbook."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from api.deps import BIGINT_MAX, ActorDep, ClientDep, IdPath, Limit, Offset, PoolDep, TaskQueueDep
from schemas.evaluation import (
    EvaluationLevel,
    EvaluationRule,
    EvaluationRun,
    EvaluationScope,
    FigureExplanation,
    MemberExplanation,
    ResultPage,
)
from schemas.text import Text
from services import evaluation, evaluation_explain

router = APIRouter(prefix="/evaluations", tags=["evaluation 述职评议考核"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LevelQuery = Annotated[EvaluationLevel, Query(description="member / unit / community / subdistrict / district / city")]


class StartEvaluation(BaseModel):
    period: Text | None = Field(default=None, description="考核期间: 2026-11 / 2026-Q4 / 2026", max_length=10)
    campaign_id: int | None = Field(default=None, ge=1)
    scope: EvaluationScope | None = None
    rule: EvaluationRule | None = None


@router.post("", response_model=EvaluationRun, status_code=202, summary="发起考核 (组织部)")
async def start(pool: PoolDep, client: ClientDep, actor: ActorDep, task_queue: TaskQueueDep,
                body: StartEvaluation) -> EvaluationRun:
    run_id = await evaluation.start_run_as(
        pool, client, actor, task_queue=task_queue, period_text=body.period, campaign_id=body.campaign_id,
        scope=body.scope, rule=body.rule)
    async with pool.acquire() as conn:
        return await evaluation.get_run(conn, run_id=run_id)


@router.get("", response_model=list[EvaluationRun], summary="考核批次")
async def runs(pool: PoolDep, actor: ActorDep, limit: Limit = 50) -> list[EvaluationRun]:
    async with pool.acquire() as conn:
        return await evaluation.list_runs(conn, limit=limit)


@router.get("/{run_id}", response_model=EvaluationRun, summary="考核批次详情")
async def run(pool: PoolDep, actor: ActorDep, run_id: IdPath) -> EvaluationRun:
    async with pool.acquire() as conn:
        return await evaluation.get_run(conn, run_id=run_id)


@router.get("/{run_id}/results", response_model=ResultPage, summary="考核结果 (按层级, 限管辖范围)")
async def results(pool: PoolDep, actor: ActorDep, run_id: IdPath, level: LevelQuery = EvaluationLevel.community,
                  unit_id: Annotated[int | None, Query(ge=1, le=BIGINT_MAX, description="仅 level=member: 某单位的党员")] = None,
                  limit: Limit = 100, offset: Offset = 0) -> ResultPage:
    async with pool.acquire() as conn:
        return await evaluation.results(conn, actor, run_id=run_id, level=level, limit=limit, offset=offset,
                                        unit_id=unit_id)


@router.get("/{run_id}/members/{member_id}/explain", response_model=MemberExplanation,
            summary="党员考核结果的逐条依据")
async def explain(pool: PoolDep, actor: ActorDep, run_id: IdPath, member_id: IdPath) -> MemberExplanation:
    async with pool.acquire() as conn:
        return await evaluation.explain_member(conn, actor, run_id=run_id, member_id=member_id)


@router.get("/{run_id}/units/{unit_id}/explain", response_model=FigureExplanation,
            summary="单位考核结果的逐条依据")
async def explain_unit(pool: PoolDep, actor: ActorDep, run_id: IdPath, unit_id: IdPath) -> FigureExplanation:
    async with pool.acquire() as conn:
        return await evaluation_explain.explain_unit(conn, actor, run_id=run_id, unit_id=unit_id)


@router.get("/{run_id}/communities/{community_id}/explain", response_model=FigureExplanation,
            summary="社区考核结果 (三率、覆盖率、星级) 的逐条依据")
async def explain_community(pool: PoolDep, actor: ActorDep, run_id: IdPath,
                            community_id: IdPath) -> FigureExplanation:
    async with pool.acquire() as conn:
        return await evaluation_explain.explain_community(conn, actor, run_id=run_id, community_id=community_id)


@router.get("/{run_id}/export.xlsx", summary="导出考核结果 (.xlsx)", response_class=Response)
async def export(pool: PoolDep, actor: ActorDep, run_id: IdPath,
                 level: LevelQuery = EvaluationLevel.unit) -> Response:
    async with pool.acquire() as conn:
        body = await evaluation.export_workbook(conn, actor, run_id=run_id, level=level)
    return Response(content=body, media_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="evaluation-{run_id}-{level.value}.xlsx"'})


@router.get("/{run_id}/units/{unit_id}/report.xlsx", summary="单位反馈表 (.xlsx)", response_class=FileResponse)
async def unit_report(pool: PoolDep, actor: ActorDep, run_id: IdPath, unit_id: IdPath) -> FileResponse:
    async with pool.acquire() as conn:
        path = await evaluation.unit_report_path(conn, actor, run_id=run_id, unit_id=unit_id)
    return FileResponse(path, media_type=XLSX, filename=f"evaluation-{run_id}-unit-{unit_id}.xlsx")
