"""`up --demo`'s points exchange 积分兑换: one merchant of 道德联盟 in the demo member's community,
with two items its members may redeem, and a past that lets the demo member try the exchange.

The past goes through the real use cases, as a city would live it: the organization department
launches a campaign that makes points redeemable 道德银行 over the member's community (its window
opened weeks ago); the member's own services of the last weeks are logged and the community
approves them, so the approval credits both ledgers (services/service_record.py decides which
records fall in a redeemable campaign); then the member redeems one item and the merchant confirms
the code (services/exchange.py). Every step is found again, not repeated, when the demo runs again:
the merchant and the campaign by name, the records by who logged them, the redemption by its
request id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import structlog
from temporalio.client import Client

from db import campaign as campaign_db
from db import exchange_item as item_db
from db import exchange_provider as provider_db
from db import points as points_db
from db import service_record as record_db
from db.pool import Conn, Pool
from domain.errors import Conflict, InvalidInput
from domain.local_time import LOCAL_ZONE
from schemas.auth import SYSTEM_ACTOR, Actor, Role, ScopeKind
from schemas.campaign import CampaignCreate, CampaignScope
from schemas.exchange import RedeemInput
from schemas.service_record import ServiceRecordCreate
from services import campaign as campaign_service
from services import exchange as exchange_service
from services import service_record

log = structlog.get_logger(__name__)

DEMO_MERCHANT = "爱心超市 (道德联盟)"
_ITEMS = [("大米 5 斤", 20.0, 30), ("洗衣液 1 瓶", 10.0, 50)]


def exchange_campaign_name(community_name: str) -> str:
    """The demo's redeemable campaign over one community (found again by this name)."""
    return f"演示: {community_name}道德银行 (服务积分可兑换)"


# The member's own services of the last weeks (each 2.5 h, one a week, in the evening).
_SERVICES = (
    ("助老助残", "为独居老人代购米面油并送上门"),
    ("环境整治", "楼道杂物清理"),
    ("政策宣传", "在小区广场讲解垃圾分类新规"),
)
_FIRST_REQUEST = "demo-exchange-first-redemption"


async def ensure_demo_merchant(conn: Conn, *, community_id: int, now: datetime) -> int:
    """The demo merchant's provider id; on first run it is admitted and lists its items."""
    found = await provider_db.select_merchant_id(conn, name=DEMO_MERCHANT, community_id=community_id)
    if found is not None:
        return found
    provider_id = await provider_db.insert_merchant(conn, name=DEMO_MERCHANT, community_id=community_id,
                                                    address="社区党群服务中心旁", admitted_by="demo", at=now)
    for name, points, stock in _ITEMS:
        await item_db.insert_item(conn, provider_id=provider_id, data={
            "resource_item_id": None, "name": name, "description": "凭兑换码到店领取", "points": points,
            "stock": stock, "valid_from": now, "valid_until": now + timedelta(days=180),
            "collect_at": "爱心超市收银台", "collect_hours": 72, "community_id": community_id, "district_id": None,
        }, created_by="demo", at=now)
    return provider_id


@dataclass(frozen=True)
class ExchangeSeeded:
    campaign_id: int
    approved: int        # records approved now (0 on a second run)
    balance: float       # the member's redeemable balance after the demo's redemption
    redemption_id: int | None


def _community_actor(community_id: int, member_id: int) -> Actor:
    # One label per member: `any_record_created_by` then tells whether this member's past was written.
    return Actor(role=Role.community_staff, scope_kind=ScopeKind.community, scope_id=community_id,
                 label=f"道德银行演示-{member_id}")


async def _ensure_campaign(pool: Pool, client: Client, *, community_id: int, community_name: str,
                           now: datetime, task_queue: str) -> int:
    """The redeemable campaign over the member's community, created and launched once."""
    name = exchange_campaign_name(community_name)
    async with pool.acquire() as conn:
        campaign_id = await campaign_db.select_campaign_id_by_name(conn, name=name)
    if campaign_id is None:
        window_end = now + timedelta(days=180)
        async with pool.acquire() as conn, conn.transaction():
            view = await campaign_service.create_campaign(conn, SYSTEM_ACTOR, CampaignCreate(
                name=name, kind="共产党员社区奉献日",
                scope=CampaignScope(community_ids=[community_id]),
                window_start=now - timedelta(days=30), window_end=window_end,
                registration_deadline=window_end, redeemable=True,
            ), now=now)
        campaign_id = view.id
    async with pool.acquire() as conn:
        row = await campaign_db.select_campaign(conn, campaign_id=campaign_id)
    if row is not None and row.status == "draft":
        await campaign_service.launch_campaign(pool, client, SYSTEM_ACTOR, campaign_id, now=now,
                                               task_queue=task_queue)
    else:
        await campaign_service.start_campaign_workflow(client, campaign_id=campaign_id, task_queue=task_queue)
    return campaign_id


async def _log_services(pool: Pool, client: Client, actor: Actor, *, member_id: int, community_id: int,
                        now: datetime, task_queue: str) -> list[int]:
    """The member's services of the last weeks, logged by the community (a day that overlaps a
    task the member served is moved a day earlier)."""
    logged: list[int] = []
    today = now.astimezone(LOCAL_ZONE).date()
    for week, (category, description) in enumerate(_SERVICES, start=1):
        for shift in range(7):
            day = today - timedelta(days=7 * week - 4 + shift)
            try:
                view = await service_record.log_record(pool, client, actor, ServiceRecordCreate(
                    service_date=day, start_time=time(19, 0), end_time=time(21, 30), category=category,
                    community_id=community_id, description=description, member_id=member_id,
                ), now=now, task_queue=task_queue)
            except InvalidInput:
                continue
            logged.append(view.id)
            break
    return logged


async def _first_redemption(pool: Pool, client: Client, *, member_id: int, provider_id: int, now: datetime,
                            task_queue: str) -> int | None:
    """The member redeems the provider's cheapest item and the provider confirms the code: one
    collected redemption in both their histories (None when the demo did it before, or nothing is
    in stock)."""
    member = Actor(role=Role.member, scope_kind=ScopeKind.member, scope_id=member_id, label="演示党员")
    provider = Actor(role=Role.provider, scope_kind=ScopeKind.provider, scope_id=provider_id, label=DEMO_MERCHANT)
    async with pool.acquire() as conn:
        offered = await exchange_service.list_items(conn, member, now=now, limit=50, offset=0)
    mine = sorted((i for i in offered.items if i.provider_id == provider_id and i.stock > 0), key=lambda i: i.points)
    if not mine:
        return None
    try:
        redeemed = await exchange_service.redeem(pool, client, member, mine[0].id,
                                                 RedeemInput(request_id=_FIRST_REQUEST), now=now,
                                                 task_queue=task_queue)
    except Conflict:   # collected (or lapsed) on an earlier run, or not enough points
        return None
    await exchange_service.confirm(pool, client, provider, redeemed.code, now=now)
    return redeemed.redemption.id


async def seed_demo_exchange(pool: Pool, client: Client, *, member_id: int, provider_id: int, task_queue: str,
                             now: datetime | None = None) -> ExchangeSeeded | None:
    """Give the demo member a past of redeemable points and one collected redemption; None when
    the provider is unknown."""
    now = now or datetime.now(UTC)
    async with pool.acquire() as conn:
        provider = await provider_db.select_provider(conn, provider_id=provider_id)
    if provider is None:
        return None
    community_id = int(provider["community_id"])
    campaign_id = await _ensure_campaign(pool, client, community_id=community_id,
                                         community_name=str(provider["community_name"]), now=now,
                                         task_queue=task_queue)
    actor = _community_actor(community_id, member_id)
    approved = 0
    async with pool.acquire() as conn:
        written = await record_db.any_record_created_by(conn, created_by=actor.audit_name)
    if not written:
        logged = await _log_services(pool, client, actor, member_id=member_id, community_id=community_id,
                                     now=now, task_queue=task_queue)
        if logged:
            approved = len(await service_record.decide(pool, client, actor, logged, approve=True, now=now))
    # By its request id: a run stopped before the confirmation finishes it; a collected one is not redone.
    redemption_id = await _first_redemption(pool, client, member_id=member_id, provider_id=provider_id,
                                            now=now, task_queue=task_queue)
    async with pool.acquire() as conn:
        balance, _ = await points_db.select_redeemable(conn, member_id=member_id)
    log.info("demo_exchange", campaign_id=campaign_id, approved=approved, balance=balance,
             redemption_id=redemption_id)
    return ExchangeSeeded(campaign_id=campaign_id, approved=approved, balance=balance,
                          redemption_id=redemption_id)
