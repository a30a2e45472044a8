"""`up --demo`, members' own service records 服务记录: a few members log services they did outside
any dispatched task; the community approves most (points credited once), rejects some with a
reason and leaves a few pending, so each pending one has its `ServiceRecordWorkflow` waiting to
remind the community.

Runs once per data directory (a second `up --demo` finds its records and logs none);
before the campaign, so its progress counts the approved records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import structlog
from temporalio.client import Client

from db import member_registration as registration_db
from db import service_record as record_db
from db.pool import Pool
from domain.local_time import LOCAL_ZONE
from schemas.auth import SYSTEM_ACTOR
from schemas.service_record import ServiceRecordCreate
from services import service_record

log = structlog.get_logger(__name__)

# What members in the documents do on their own: visits as 党员中心户, clean-ups, explaining policy.
_SERVICES = (
    ("助老助残", "作为党员中心户走访独居老人, 帮助购买生活用品"),
    ("环境整治", "周末参加小区楼道清理和杂物清运"),
    ("政策宣传", "在小区门口讲解医保缴费政策"),
    ("文明创建", "劝导电动车规范停放"),
)
_REJECT_REASON = "与社区活动签到记录不符, 请补充说明或照片"


@dataclass(frozen=True)
class ServiceRecordsSeeded:
    logged: int
    approved: int
    rejected: int
    pending: int


async def _members(pool: Pool, count: int) -> list[tuple[int, int]]:
    """(member, community) of the first `count` members with an active registration."""
    async with pool.acquire() as conn:
        return await registration_db.select_first_active(conn, limit=count)


async def seed_service_records(
    pool: Pool, client: Client, *, task_queue: str, count: int = 24
) -> ServiceRecordsSeeded | None:
    """Log `count` records (one per member), approve two thirds, reject one in eight; None if the
    demo logged them before."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        # The demo's past (demo/history.py) holds older records the members logged themselves.
        if await record_db.any_record_created_by(conn, created_by=SYSTEM_ACTOR.audit_name):
            return None
    logged = []
    for i, (member_id, community_id) in enumerate(await _members(pool, count)):
        category, description = _SERVICES[i % len(_SERVICES)]
        day = (now - timedelta(days=1 + i % 5)).astimezone(LOCAL_ZONE).date()
        start = time(9 + i % 3, 0)
        view = await service_record.log_record(pool, client, SYSTEM_ACTOR, ServiceRecordCreate(
            service_date=day, start_time=start, end_time=time(start.hour + 2, 30), category=category,
            community_id=community_id, description=description, member_id=member_id,
        ), now=now, task_queue=task_queue)
        logged.append(view.id)
    rejected = logged[::8]
    approved = [r for r in logged if r not in rejected][: len(logged) * 2 // 3]
    if approved:
        await service_record.decide(pool, client, SYSTEM_ACTOR, approved, approve=True, now=now)
    if rejected:
        await service_record.decide(pool, client, SYSTEM_ACTOR, rejected, approve=False,
                                    reason=_REJECT_REASON, now=now)
    seeded = ServiceRecordsSeeded(logged=len(logged), approved=len(approved), rejected=len(rejected),
                                  pending=len(logged) - len(approved) - len(rejected))
    log.info("demo_service_records", logged=seeded.logged, approved=seeded.approved,
             rejected=seeded.rejected, pending=seeded.pending)
    return seeded
