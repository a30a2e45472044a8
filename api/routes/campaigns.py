"""Campaign front door: create and steer (organization departments), read and watch progress.

Thin: every route calls services/campaign.py, which checks role and scope; lifecycle refusals
come back from the campaign's workflow as 409 with a Chinese message.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import ActorDep, ClientDep, GroupPageQuery, IdPath, Limit, PoolDep, TaskQueueDep
from domain import local_time
from schemas.campaign import (
    CampaignCreate,
    CampaignEventView,
    CampaignProgress,
    CampaignStatusResult,
    CampaignView,
    MobilisePreview,
    MobiliseResult,
    ProgressLevel,
)
from schemas.campaign_contract import MobiliseInput
from schemas.moments import Moment
from schemas.text import Text
from services import campaign as campaign_service

router = APIRouter(tags=["campaigns 活动"])


class ReasonBody(BaseModel):
    reason: Text = Field(default="", max_length=500)


class ExtendBody(BaseModel):
    window_end: Moment | None = None
    registration_deadline: Moment | None = None


class MobiliseBody(BaseModel):
    title: Text = Field(default="应急动员", min_length=1, max_length=200)
    category: Text = Field(default="疫情防控", min_length=1, max_length=40)
    headcount: int = Field(default=2, ge=1, le=50)
    hours: int = Field(default=24, ge=1, le=24 * 14)



@router.post("/campaigns", response_model=CampaignView, status_code=201, summary="创建活动 (草稿)")
async def create_campaign(pool: PoolDep, actor: ActorDep, body: CampaignCreate) -> CampaignView:
    async with pool.acquire() as conn:
        return await campaign_service.create_campaign(conn, actor, body, now=local_time.now())


@router.get("/campaigns", response_model=list[CampaignView], summary="活动列表")
async def list_campaigns(pool: PoolDep, actor: ActorDep, limit: Limit = 50) -> list[CampaignView]:
    async with pool.acquire() as conn:
        return await campaign_service.list_campaigns(conn, actor, limit=limit)


@router.get("/campaigns/{campaign_id}", response_model=CampaignView, summary="活动详情")
async def get_campaign(pool: PoolDep, actor: ActorDep, campaign_id: IdPath) -> CampaignView:
    async with pool.acquire() as conn:
        return await campaign_service.get_campaign(conn, actor, campaign_id)


@router.get("/campaigns/{campaign_id}/events", response_model=list[CampaignEventView], summary="活动历程")
async def campaign_events(pool: PoolDep, actor: ActorDep, campaign_id: IdPath) -> list[CampaignEventView]:
    async with pool.acquire() as conn:
        return await campaign_service.campaign_events(conn, actor, campaign_id)


@router.get("/campaigns/{campaign_id}/progress", response_model=CampaignProgress, summary="活动进度")
async def campaign_progress(pool: PoolDep, actor: ActorDep, campaign_id: IdPath, page: GroupPageQuery,
                            level: ProgressLevel = ProgressLevel.community) -> CampaignProgress:
    """Per district/subdistrict/community: one page (`limit` up to 500, 500 when not given;
    `offset`) sorted by `order` (id; rate_asc: the lowest registered share first); `total` counts
    them all."""
    async with pool.acquire() as conn:
        return await campaign_service.progress(conn, actor, campaign_id, level, now=local_time.now(), page=page)


@router.post("/campaigns/{campaign_id}/launch", response_model=CampaignView, summary="发布活动")
async def launch(pool: PoolDep, client: ClientDep, actor: ActorDep, campaign_id: IdPath) -> CampaignView:
    return await campaign_service.launch_campaign(pool, client, actor, campaign_id, now=local_time.now())


@router.post("/campaigns/{campaign_id}/pause", response_model=CampaignStatusResult, summary="暂停活动")
async def pause(pool: PoolDep, client: ClientDep, actor: ActorDep, campaign_id: IdPath,
                body: ReasonBody) -> CampaignStatusResult:
    return await campaign_service.pause(pool, client, actor, campaign_id, body.reason)


@router.post("/campaigns/{campaign_id}/resume", response_model=CampaignStatusResult, summary="恢复活动")
async def resume(pool: PoolDep, client: ClientDep, actor: ActorDep, campaign_id: IdPath) -> CampaignStatusResult:
    return await campaign_service.resume(pool, client, actor, campaign_id)


@router.post("/campaigns/{campaign_id}/extend", response_model=CampaignStatusResult, summary="活动延期")
async def extend(pool: PoolDep, client: ClientDep, actor: ActorDep, campaign_id: IdPath,
                 body: ExtendBody) -> CampaignStatusResult:
    return await campaign_service.extend(pool, client, actor, campaign_id, window_end=body.window_end,
                                          registration_deadline=body.registration_deadline)


@router.post("/campaigns/{campaign_id}/cancel", response_model=CampaignStatusResult, summary="撤销活动")
async def cancel(pool: PoolDep, client: ClientDep, actor: ActorDep, campaign_id: IdPath,
                 body: ReasonBody) -> CampaignStatusResult:
    return await campaign_service.cancel(pool, client, actor, campaign_id, body.reason or "撤销", now=local_time.now())


@router.post("/campaigns/{campaign_id}/close", response_model=CampaignStatusResult, summary="结束活动")
async def close(pool: PoolDep, client: ClientDep, actor: ActorDep, campaign_id: IdPath) -> CampaignStatusResult:
    return await campaign_service.close(pool, client, actor, campaign_id)


@router.get("/campaigns/{campaign_id}/mobilise/preview", response_model=MobilisePreview,
            summary="平急转换预览: 将涉及的网格数与任务数 (不做任何改动)")
async def mobilise_preview(pool: PoolDep, actor: ActorDep, campaign_id: IdPath,
                           headcount: Annotated[int, Query(ge=1, le=50, description="每项任务人数")] = 2,
                           ) -> MobilisePreview:
    async with pool.acquire() as conn:
        return await campaign_service.mobilise_preview(conn, actor, campaign_id, headcount=headcount)


@router.post("/campaigns/{campaign_id}/mobilise", response_model=MobiliseResult, summary="平急转换: 向范围内每个网格派发任务")
async def mobilise(pool: PoolDep, client: ClientDep, actor: ActorDep, task_queue: TaskQueueDep,
                   campaign_id: IdPath, body: MobiliseBody) -> MobiliseResult:
    return await campaign_service.mobilise(
        pool, client, actor, campaign_id, MobiliseInput(actor=actor.audit_name, **body.model_dump()),
        task_queue=task_queue)
