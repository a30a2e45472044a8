"""`up --demo`'s points exchange: one merchant of 道德联盟 in the demo community, with two items
its members may redeem, found again (not duplicated) when the demo runs again."""

from __future__ import annotations

from datetime import datetime, timedelta

from db import exchange_item as item_db
from db import exchange_provider as provider_db
from db.pool import Conn

DEMO_MERCHANT = "爱心超市 (道德联盟)"
_ITEMS = [("大米 5 斤", 20.0, 30), ("洗衣液 1 瓶", 10.0, 50)]


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
