"""积分兑换 front door (道德银行): providers and their items, members' redemptions and codes, the
provider's confirmation on collection, and what staff oversee within their scope.

Thin: every route calls services/exchange.py. A merchant's account (role provider) may call these
routes and sign-in only (api/deps.py). Confirming a code is braked per address and per provider
(api/rate_limits.py): an 8-digit code must not be guessable by trying.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from api.deps import ActorDep, ClientDep, IdPath, IdQuery, Limit, NowDep, Offset, PoolDep, TaskQueueDep
from api.rate_limits import brake
from schemas import exchange as model
from schemas.api import Page
from services import exchange

router = APIRouter(tags=["exchange 积分兑换"])


@router.post("/exchange/providers", response_model=model.ProviderAdmitted, status_code=201,
             summary="吸纳道德联盟商户, 并为其开通账号")
async def admit_provider(pool: PoolDep, actor: ActorDep, now: NowDep, body: model.ProviderAdmit) -> model.ProviderAdmitted:
    async with pool.acquire() as conn:
        return await exchange.admit_merchant(conn, actor, body, now=now)


@router.get("/exchange/providers", response_model=Page[model.ProviderView], summary="辖区内的兑换提供方")
async def list_providers(pool: PoolDep, actor: ActorDep, limit: Limit = 50, offset: Offset = 0) -> Page[model.ProviderView]:
    async with pool.acquire() as conn:
        return await exchange.list_providers(conn, actor, limit=limit, offset=offset)


@router.get("/exchange/items", response_model=Page[model.ItemView],
            summary="兑换物品: 党员看可兑换的, 提供方看自己的, 工作人员看辖区内的")
async def list_items(pool: PoolDep, actor: ActorDep, now: NowDep, limit: Limit = 50,
                     offset: Offset = 0) -> Page[model.ItemView]:
    async with pool.acquire() as conn:
        return await exchange.list_items(conn, actor, now=now, limit=limit, offset=offset)


@router.post("/exchange/items", response_model=model.ItemView, status_code=201, summary="上架兑换物品")
async def create_item(pool: PoolDep, actor: ActorDep, now: NowDep, body: model.ItemCreate) -> model.ItemView:
    async with pool.acquire() as conn:
        return await exchange.create_item(conn, actor, body, now=now)


@router.get("/exchange/items/{item_id}", response_model=model.ItemView, summary="兑换物品详情")
async def get_item(pool: PoolDep, actor: ActorDep, now: NowDep, item_id: IdPath) -> model.ItemView:
    async with pool.acquire() as conn:
        return await exchange.get_item(conn, actor, item_id, now=now)


@router.post("/exchange/items/{item_id}/stock", response_model=model.ItemView, summary="修改库存")
async def set_stock(pool: PoolDep, actor: ActorDep, now: NowDep, item_id: IdPath, body: model.StockUpdate) -> model.ItemView:
    async with pool.acquire() as conn:
        return await exchange.set_stock(conn, actor, item_id, body.stock, now=now)


@router.post("/exchange/items/{item_id}/validity", response_model=model.ItemView, summary="修改可兑换期限与领取时限")
async def set_validity(pool: PoolDep, actor: ActorDep, now: NowDep, item_id: IdPath,
                       body: model.ValidityUpdate) -> model.ItemView:
    async with pool.acquire() as conn:
        return await exchange.set_validity(conn, actor, item_id, body, now=now)


@router.get("/exchange/resources", response_model=Page[model.ResourceView], summary="本单位资源清单 (共建单位上架物品时选用)")
async def list_resources(pool: PoolDep, actor: ActorDep, limit: Limit = 50, offset: Offset = 0) -> Page[model.ResourceView]:
    async with pool.acquire() as conn:
        return await exchange.list_resources(conn, actor, limit=limit, offset=offset)


@router.post("/exchange/items/{item_id}/withdraw", response_model=model.ItemView, summary="下架兑换物品")
async def withdraw_item(pool: PoolDep, actor: ActorDep, now: NowDep, item_id: IdPath) -> model.ItemView:
    async with pool.acquire() as conn:
        return await exchange.withdraw_item(conn, actor, item_id, now=now)


@router.post("/exchange/items/{item_id}/redeem", response_model=model.Redeemed, status_code=201,
             summary="党员兑换物品 (扣减可兑换积分, 得到一次性兑换码; 同一请求编号重试得到同一兑换)")
async def redeem(pool: PoolDep, client: ClientDep, actor: ActorDep, now: NowDep, task_queue: TaskQueueDep,
                 item_id: IdPath, body: model.RedeemInput) -> model.Redeemed:
    return await exchange.redeem(pool, client, actor, item_id, body, now=now, task_queue=task_queue)


@router.get("/exchange/redemptions", response_model=Page[model.RedemptionView],
            summary="兑换记录: 党员看自己的, 提供方看自己物品的, 工作人员看辖区内的")
async def list_redemptions(pool: PoolDep, actor: ActorDep, item_id: IdQuery = None,
                           state: model.RedemptionState | None = Query(default=None), limit: Limit = 50,
                           offset: Offset = 0) -> Page[model.RedemptionView]:
    async with pool.acquire() as conn:
        return await exchange.list_redemptions(conn, actor, item_id=item_id, state=state, limit=limit,
                                               offset=offset)


@router.post("/exchange/redemptions/{redemption_id}/code", response_model=model.CodeReissued,
             summary="重新生成兑换码 (原兑换码作废)")
async def reissue_code(pool: PoolDep, actor: ActorDep, redemption_id: IdPath) -> model.CodeReissued:
    async with pool.acquire() as conn:
        return await exchange.reissue_code(conn, actor, redemption_id)


@router.post("/exchange/confirm", response_model=model.RedemptionView, summary="提供方核销兑换码 (领取时)")
async def confirm(request: Request, pool: PoolDep, client: ClientDep, actor: ActorDep, now: NowDep,
                  body: model.ConfirmInput) -> model.RedemptionView:
    await brake(request, route="exchange_confirm", code=actor.audit_name)
    return await exchange.confirm(pool, client, actor, body.code, now=now)


@router.get("/exchange/balance", response_model=model.ExchangeBalance, summary="我的可兑换积分")
async def my_balance(pool: PoolDep, actor: ActorDep) -> model.ExchangeBalance:
    async with pool.acquire() as conn:
        return await exchange.my_balance(conn, actor)
