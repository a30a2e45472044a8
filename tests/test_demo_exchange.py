"""`up --demo`'s points exchange, against real Postgres and Temporal: the demo member gets a past
of redeemable points through the real use cases (a redeemable campaign over their community, their
services logged and approved), one collected redemption, and can redeem again; seeding again adds
nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from db.pool import Pool
from demo.exchange import ensure_demo_merchant, seed_demo_exchange
from domain.local_time import LOCAL_ZONE
from schemas.auth import Actor, Role, ScopeKind
from schemas.exchange import RedeemInput
from schemas.service_record import ServiceRecordCreate
from services import exchange, service_record
from tests import places
from tests.conftest import unique
from workers.registry import all_activities, all_workflows


async def test_demo_member_has_redeemable_points_and_can_redeem(pool: Pool, client: Client,
                                                                task_queue: str) -> None:
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        district = await places.add_district(conn, unique("兑换区"))
        subdistrict = await places.add_subdistrict(conn, district, unique("兑换街道"))
        community = await places.add_community(conn, subdistrict, unique("兑换社区"))
        grid = await places.add_grid(conn, community, unique("网格"))
        member_id = await places.add_member(conn, community_id=community, grid_id=grid)
        await places.register_member(conn, member_id, community_id=community, grid_id=grid,
                                     confirmed_at=now - timedelta(days=90))
        provider_id = await ensure_demo_merchant(conn, community_id=community, now=now)
    async with Worker(client, task_queue=task_queue, workflows=list(all_workflows()),
                      activities=list(all_activities(pool))):
        # one of the member's evenings is taken by a record of their own: the demo moves that service
        day = now.astimezone(LOCAL_ZONE).date() - timedelta(days=3)
        await service_record.log_record(pool, None, Actor(role=Role.member, scope_kind=ScopeKind.member,
                                                          scope_id=member_id, label="党员"),
                                        ServiceRecordCreate(service_date=day, start_time=time(20, 0),
                                                            end_time=time(21, 0), category="环境整治",
                                                            community_id=community), now=now)
        seeded = await seed_demo_exchange(pool, client, member_id=member_id, provider_id=provider_id,
                                          task_queue=task_queue, now=now)
        assert seeded is not None and seeded.approved == 3 and seeded.redemption_id is not None
        async with pool.acquire() as conn:
            lines = await conn.fetch(
                "SELECT points::float AS points, service_record_id, redemption_id FROM redeemable_points"
                " WHERE member_id = $1 ORDER BY id", member_id)
            evaluation = await conn.fetchval("SELECT count(*) FROM evaluation_points WHERE member_id = $1",
                                             member_id)
            campaign = await conn.fetchrow("SELECT redeemable, status FROM campaign WHERE id = $1",
                                           seeded.campaign_id)
        assert campaign is not None and campaign["redeemable"] and campaign["status"] != "draft"
        # three approved services credited both ledgers; one redemption debited the cheapest item once
        assert [line["service_record_id"] is not None for line in lines] == [True, True, True, False]
        assert evaluation == 3
        earned = sum(line["points"] for line in lines[:3])
        assert lines[3]["redemption_id"] == seeded.redemption_id and lines[3]["points"] == -10.0
        assert seeded.balance == earned - 10.0 >= 20.0, "enough left for the dearest demo item"

        member = Actor(role=Role.member, scope_kind=ScopeKind.member, scope_id=member_id, label="党员")
        async with pool.acquire() as conn:
            mine = await exchange.list_redemptions(conn, member, item_id=None, state=None, limit=10, offset=0)
            items = await exchange.list_items(conn, member, now=now, limit=10, offset=0)
        assert [r.state for r in mine.items] == ["collected"]
        rice = next(i for i in items.items if i.points == 20.0)
        again = await exchange.redeem(pool, client, member, rice.id, RedeemInput(request_id=uuid.uuid4().hex),
                                      now=datetime.now(UTC), task_queue=task_queue)
        assert again.balance == seeded.balance - 20.0 and len(again.code) == 8

        # seeding again (the next `up --demo`) finds everything and writes nothing
        second = await seed_demo_exchange(pool, client, member_id=member_id, provider_id=provider_id,
                                          task_queue=task_queue)
        assert second is not None and second.campaign_id == seeded.campaign_id
        assert second.approved == 0 and second.redemption_id is None
        assert second.balance == again.balance
