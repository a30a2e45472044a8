"""Dispatch front door: needs, tasks, offers, claims, scans, rating, verification, the ledger.

Thin: every route calls services/dispatch.py, which checks role and scope and talks to the task's
workflow; refusals come back as 409 with the workflow's Chinese message. Routes that reach the
workflow pass the pool, not a connection: no connection is held while the workflow works.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import ActorDep, ClientDep, IdPath, Limit, PoolDep, TaskQueueDep
from domain import local_time
from schemas.dispatch import (
    AnswerOfferInput,
    AnswerOfferResult,
    ClaimInput,
    ClaimResult,
    LedgerFilter,
    LedgerRow,
    MemberFit,
    MyTask,
    NeedCategory,
    NeedCreate,
    NeedDecision,
    NeedStatus,
    NeedView,
    OfferView,
    RateInput,
    RateResult,
    RejectVerifyResult,
    ScanInput,
    ScanResult,
    TaskCreate,
    TaskCreated,
    TaskEventView,
    TaskSnapshot,
    TaskStatus,
    TaskView,
    VerifyResult,
)
from schemas.text import Text
from services import dispatch

router = APIRouter(tags=["dispatch 派单"])


class VerifyBody(BaseModel):
    note: Text | None = Field(default=None, max_length=1000)



@router.post("/needs", response_model=NeedView, status_code=201, summary="登记居民需求 (含微心愿)")
async def place_need(pool: PoolDep, actor: ActorDep, body: NeedCreate) -> NeedView:
    async with pool.acquire() as conn:
        return await dispatch.place_need(conn, actor, body, now=local_time.now())


@router.get("/needs", response_model=list[NeedView], summary="需求清单")
async def list_needs(pool: PoolDep, actor: ActorDep, status: NeedStatus | None = None,
                     limit: Limit = 100) -> list[NeedView]:
    async with pool.acquire() as conn:
        return await dispatch.list_needs(conn, actor, status=status.value if status else None, limit=limit)


@router.get("/need-categories", response_model=list[NeedCategory], summary="需求类别目录")
async def need_categories(pool: PoolDep, actor: ActorDep) -> list[NeedCategory]:
    async with pool.acquire() as conn:
        return await dispatch.need_categories(conn, actor)


@router.post("/needs/{need_id}/decision", response_model=NeedView, summary="核查或驳回需求")
async def decide_need(pool: PoolDep, actor: ActorDep, need_id: IdPath, body: NeedDecision) -> NeedView:
    async with pool.acquire() as conn:
        return await dispatch.decide_need(conn, actor, need_id, body, now=local_time.now())


@router.post("/tasks", response_model=TaskCreated, status_code=201, summary="创建任务并开始派单")
async def create_task(pool: PoolDep, client: ClientDep, actor: ActorDep, task_queue: TaskQueueDep,
                      body: TaskCreate) -> TaskCreated:
    # The configured queue (the app's state), so the stack's worker picks the workflow up.
    return await dispatch.create_task(pool, client, actor, body, now=local_time.now(), task_queue=task_queue)


@router.get("/tasks/claimable", response_model=list[TaskView], summary="可认领的任务与岗位")
async def claimable_tasks(pool: PoolDep, actor: ActorDep, limit: Limit = 100) -> list[TaskView]:
    async with pool.acquire() as conn:
        return await dispatch.claimable_tasks(conn, actor, limit=limit)


@router.get("/me/tasks", response_model=list[MyTask], summary="我的任务 (党员本人: 派单邀请与已接任务)")
async def my_tasks(pool: PoolDep, actor: ActorDep, limit: Limit = 100) -> list[MyTask]:
    async with pool.acquire() as conn:
        return await dispatch.my_tasks(conn, actor, limit=limit)


@router.get("/me/tasks/{task_id}", response_model=MyTask, summary="我的任务详情 (党员本人)")
async def my_task(pool: PoolDep, actor: ActorDep, task_id: IdPath) -> MyTask:
    async with pool.acquire() as conn:
        return await dispatch.my_task(conn, actor, task_id)


@router.get("/tasks/{task_id}", response_model=TaskView, summary="任务详情")
async def get_task(pool: PoolDep, actor: ActorDep, task_id: IdPath) -> TaskView:
    async with pool.acquire() as conn:
        return await dispatch.get_task(conn, actor, task_id)


@router.get("/tasks/{task_id}/offers", response_model=list[OfferView], summary="派单记录及评分构成 (为何选中)")
async def list_offers(pool: PoolDep, actor: ActorDep, task_id: IdPath) -> list[OfferView]:
    async with pool.acquire() as conn:
        return await dispatch.list_offers(conn, actor, task_id)


@router.get("/tasks/{task_id}/fit/{member_id}", response_model=MemberFit, summary="为何(未)选中某党员")
async def explain_member(pool: PoolDep, actor: ActorDep, task_id: IdPath, member_id: IdPath) -> MemberFit:
    async with pool.acquire() as conn:
        return await dispatch.explain_member(conn, actor, task_id, member_id, now=local_time.now())


@router.get("/tasks/{task_id}/history", response_model=list[TaskEventView], summary="任务流转记录")
async def task_history(pool: PoolDep, actor: ActorDep, task_id: IdPath) -> list[TaskEventView]:
    async with pool.acquire() as conn:
        return await dispatch.task_history(conn, actor, task_id)


@router.post("/tasks/{task_id}/answer", response_model=AnswerOfferResult, summary="接单或婉拒")
async def answer_offer(pool: PoolDep, client: ClientDep, actor: ActorDep, task_id: IdPath,
                       body: AnswerOfferInput) -> AnswerOfferResult:
    return await dispatch.answer_offer(pool, client, actor, task_id, body)


@router.post("/tasks/{task_id}/claim", response_model=ClaimResult, summary="认领或认岗")
async def claim(pool: PoolDep, client: ClientDep, actor: ActorDep, task_id: IdPath,
                body: ClaimInput) -> ClaimResult:
    return await dispatch.claim(pool, client, actor, task_id, body)


@router.post("/tasks/{task_id}/check-in", response_model=ScanResult, summary="扫码签到")
async def check_in(pool: PoolDep, client: ClientDep, actor: ActorDep, task_id: IdPath,
                   body: ScanInput) -> ScanResult:
    return await dispatch.check_in(pool, client, actor, task_id, body)


@router.post("/tasks/{task_id}/check-out", response_model=ScanResult, summary="扫码签退并填写服务记录")
async def check_out(pool: PoolDep, client: ClientDep, actor: ActorDep, task_id: IdPath,
                    body: ScanInput) -> ScanResult:
    return await dispatch.check_out(pool, client, actor, task_id, body)


@router.post("/tasks/{task_id}/rating", response_model=RateResult, summary="居民评价")
async def rate(pool: PoolDep, client: ClientDep, actor: ActorDep, task_id: IdPath,
               body: RateInput) -> RateResult:
    return await dispatch.rate(pool, client, actor, task_id, body)


@router.post("/tasks/{task_id}/verify", response_model=VerifyResult, summary="社区核查并记积分")
async def verify(pool: PoolDep, client: ClientDep, actor: ActorDep, task_id: IdPath,
                 body: VerifyBody) -> VerifyResult:
    return await dispatch.verify(pool, client, actor, task_id, body.note)


class RejectVerifyBody(BaseModel):
    reason: Text = Field(min_length=1, max_length=1000, description="核查不通过的理由, 如: 签到不实、服务未完成")


@router.post("/tasks/{task_id}/verify/reject", response_model=RejectVerifyResult,
             summary="核查不通过 (不计积分, 转待跟进整改)")
async def reject_verification(pool: PoolDep, client: ClientDep, actor: ActorDep, task_id: IdPath,
                              body: RejectVerifyBody) -> RejectVerifyResult:
    return await dispatch.reject_verification(pool, client, actor, task_id, body.reason)


@router.post("/tasks/{task_id}/requeue", response_model=TaskSnapshot, summary="挂账任务重新派单")
async def requeue(pool: PoolDep, client: ClientDep, actor: ActorDep, task_id: IdPath) -> TaskSnapshot:
    return await dispatch.requeue(pool, client, actor, task_id)


class CancelBody(BaseModel):
    reason: Text = Field(min_length=1, max_length=500)


@router.post("/tasks/{task_id}/cancel", response_model=TaskSnapshot, summary="取消任务 (服务开始前)")
async def cancel(pool: PoolDep, client: ClientDep, actor: ActorDep, task_id: IdPath,
                 body: CancelBody) -> TaskSnapshot:
    return await dispatch.cancel(pool, client, actor, task_id, body.reason)


@router.get("/ledger", response_model=list[LedgerRow], summary="挂账销号台账")
async def ledger(pool: PoolDep, actor: ActorDep, grid_id: int | None = None, community_id: int | None = None,
                 status: TaskStatus | None = None, overdue: bool | None = None, parked: bool | None = None,
                 understaffed: bool | None = None, limit: Limit = 100) -> list[LedgerRow]:
    filters = LedgerFilter(grid_id=grid_id, community_id=community_id, status=status, overdue=overdue,
                           parked=parked, understaffed=understaffed, limit=limit)
    async with pool.acquire() as conn:
        return await dispatch.ledger(conn, actor, filters, now=local_time.now())
