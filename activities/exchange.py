"""The I/O steps of the exchange's workflows: lapse an uncollected redemption and return its
points (the redemption's own timer, `expire_redemption`), and the backstop sweep over every
redemption whose code expired while it still waits (`sweep_lapsed_redemptions`).

Idempotent: the state moves issued → expired once (UPDATE ... WHERE state = 'issued' AND
expires_at <= now), the refund line is unique per redemption, and the stock goes back in the same
transaction; a retried activity, or the timer and the sweep both reaching the same redemption,
finds it expired and writes nothing. A collected redemption is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db import exchange_item as item_db
from db import exchange_redemption as redemption_db
from db import points as points_db
from db.pool import Conn, Pool
from schemas.exchange_contract import ExpireInput, ExpireResult, SweepBatchInput, SweepResult

log = structlog.get_logger(__name__)


async def _lapse(conn: Conn, redemption_id: int, *, now: datetime) -> tuple[dict[str, Any] | None, bool]:
    """In the caller's transaction: expire the redemption if it is issued and due, refund its
    points and put the item back. (the lapsed row or None, whether a refund line was written)."""
    lapsed = await redemption_db.mark_expired(conn, redemption_id=redemption_id, now=now)
    if lapsed is None:
        return None, False
    item = await item_db.select_item(conn, item_id=lapsed["item_id"])
    assert item is not None   # a foreign key
    refunded = await points_db.refund_redemption(
        conn, member_id=lapsed["member_id"], redemption_id=redemption_id, points=lapsed["points"],
        item_name=item["name"], at=now)
    await item_db.put_back_one(conn, item_id=lapsed["item_id"], now=now)
    return lapsed, refunded


class ExchangeActivities:
    """Built once per worker with the pool; each method is one activity."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def all(self) -> list[Callable[..., Any]]:
        return [self.expire_redemption, self.sweep_lapsed_redemptions]

    @activity.defn(name="expire_redemption")
    async def expire_redemption(self, data: ExpireInput) -> ExpireResult:
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            lapsed, refunded = await _lapse(conn, data.redemption_id, now=now)
            if lapsed is None:
                row = await redemption_db.select_redemption(conn, redemption_id=data.redemption_id)
                if row is None:
                    raise ApplicationError(f"兑换记录 {data.redemption_id} 不存在", type="not_found",
                                           non_retryable=True)
                if row["state"] == "issued":   # the timer fired a moment before the database's clock
                    raise ApplicationError(f"兑换 {data.redemption_id} 尚未到期", type="not_due")
                return ExpireResult(state=row["state"], refunded=False)
        log.info("exchange_expired", redemption_id=data.redemption_id, refunded=refunded)
        return ExpireResult(state="expired", refunded=refunded)

    @activity.defn(name="sweep_lapsed_redemptions")
    async def sweep_lapsed_redemptions(self, data: SweepBatchInput) -> SweepResult:
        """One batch of the backstop: redemptions still issued `grace_seconds` after their code
        expired, each lapsed in a transaction of its own (one stuck row holds up no other)."""
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn:
            ids = await redemption_db.select_lapsed_ids(
                conn, expired_before=now - timedelta(seconds=data.grace_seconds), limit=data.limit)
            expired = refunded = 0
            for redemption_id in ids:
                async with conn.transaction():
                    lapsed, wrote = await _lapse(conn, redemption_id, now=now)
                expired += lapsed is not None
                refunded += wrote
                activity.heartbeat(redemption_id)
        if ids:
            log.info("exchange_sweep_batch", looked_at=len(ids), expired=expired, refunded=refunded)
        return SweepResult(looked_at=len(ids), expired=expired, refunded=refunded)
