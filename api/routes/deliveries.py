"""Notification deliveries on external channels: what was sent, what failed and why."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ActorDep, Limit, Offset, PoolDep
from schemas.api import Page
from schemas.delivery import Channel, DeliveryFilter, DeliveryStatus, DeliveryView
from services import delivery

router = APIRouter(tags=["deliveries 消息发送"])


@router.get("/deliveries", response_model=Page[DeliveryView], summary="消息发送记录 (可按失败筛选)")
async def list_deliveries(
    pool: PoolDep,
    actor: ActorDep,
    status: Annotated[DeliveryStatus | None, Query(description="pending / sent / failed / dead")] = None,
    channel: Annotated[Channel | None, Query(description="wecom / dingtalk / sms")] = None,
    campaign_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[DeliveryView]:
    filters = DeliveryFilter(status=status, channel=channel, campaign_id=campaign_id, limit=limit, offset=offset)
    async with pool.acquire() as conn:
        return await delivery.list_deliveries(conn, actor, filters)
