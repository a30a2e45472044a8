"""The I/O step of the redemption workflow: lapse an uncollected redemption and return its points.

Idempotent: the state moves issued → expired once (UPDATE ... WHERE state = 'issued'), the refund
line is unique per redemption, and the stock goes back in the same transaction; a retried activity
finds the redemption expired and writes nothing. A collected redemption is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db import exchange_item as item_db
from db import exchange_redemption as redemption_db
from db import points as points_db
from db.pool import Pool
from schemas.exchange_contract import ExpireInput, ExpireResult

log = structlog.get_logger(__name__)


class ExchangeActivities:
    """Built once per worker with the pool; each method is one activity."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def all(self) -> list[Callable[..., Any]]:
        return [self.expire_redemption]

    @activity.defn(name="expire_redemption")
    async def expire_redemption(self, data: ExpireInput) -> ExpireResult:
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            lapsed = await redemption_db.mark_expired(conn, redemption_id=data.redemption_id, now=now)
            if lapsed is None:
                row = await redemption_db.select_redemption(conn, redemption_id=data.redemption_id)
                if row is None:
                    raise ApplicationError(f"兑换记录 {data.redemption_id} 不存在", type="not_found",
                                           non_retryable=True)
                if row["state"] == "issued":   # the timer fired a moment before the database's clock
                    raise ApplicationError(f"兑换 {data.redemption_id} 尚未到期", type="not_due")
                return ExpireResult(state=row["state"], refunded=False)
            item = await item_db.select_item(conn, item_id=lapsed["item_id"])
            assert item is not None   # a foreign key
            refunded = await points_db.refund_redemption(
                conn, member_id=lapsed["member_id"], redemption_id=data.redemption_id, points=lapsed["points"],
                item_name=item["name"], at=now)
            await item_db.put_back_one(conn, item_id=lapsed["item_id"], now=now)
        log.info("exchange_expired", redemption_id=data.redemption_id, refunded=refunded)
        return ExpireResult(state="expired", refunded=refunded)
