"""The in-app inbox: notifications addressed to the caller's own scope (member, unit, community...)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ActorDep, IdPath, Limit, Offset, PoolDep
from schemas.api import Page
from schemas.directory import Notification
from services import directory

router = APIRouter(tags=["inbox 消息"])


@router.get("/inbox", response_model=Page[Notification], summary="我的消息")
async def list_inbox(
    pool: PoolDep, actor: ActorDep, unread_only: bool = False, limit: Limit = 50, offset: Offset = 0
) -> Page[Notification]:
    async with pool.acquire() as conn:
        return await directory.list_inbox(
            conn, actor, unread_only=unread_only, limit=limit, offset=offset
        )


@router.post("/inbox/{notification_id}/read", response_model=Notification, summary="标记已读")
async def mark_read(pool: PoolDep, actor: ActorDep, notification_id: IdPath) -> Notification:
    async with pool.acquire() as conn:
        return await directory.mark_read(conn, actor, notification_id=notification_id)
