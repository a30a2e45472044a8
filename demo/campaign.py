"""The demo's campaign: 在职党员进社区 over the whole demo city, with one reminder wave run now.

The registration deadline is set just behind "now", so the ladder's first step (提醒, members
and their employer units) is due at launch and runs as soon as the worker picks the campaign up;
the later steps follow over the next days on their durable timers. Running the demo again finds
the campaign by name and launches nothing twice.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from temporalio.client import Client

from db import campaign as campaign_db
from db import campaign_wave as wave_db
from db.pool import Pool
from schemas.auth import SYSTEM_ACTOR
from schemas.campaign import CampaignCreate, LadderStep, QuotaPeriod, Quotas, Recipient, ReminderPolicy
from schemas.registration import ReminderStep
from services import campaign as campaign_service

log = structlog.get_logger(__name__)

DEMO_CAMPAIGN = "演示: 在职党员进社区 (双报到)"
R = Recipient
DEMO_LADDER = ReminderPolicy(
    steps=(
        LadderStep(step=ReminderStep.remind, offset=timedelta(0), notify=(R.member, R.unit)),
        LadderStep(step=ReminderStep.urge, offset=timedelta(days=2), notify=(R.member, R.unit, R.community)),
        LadderStep(step=ReminderStep.supervise, offset=timedelta(days=5),
                   notify=(R.member, R.unit, R.community, R.subdistrict)),
        LadderStep(step=ReminderStep.public_notice, offset=timedelta(days=7),
                   notify=(R.unit, R.community, R.subdistrict)),
    ),
    partitions=16, concurrency=4,
)


async def _existing(pool: Pool) -> int | None:
    async with pool.acquire() as conn:
        return await campaign_db.select_campaign_id_by_name(conn, name=DEMO_CAMPAIGN)


async def _first_wave_done(pool: Pool, campaign_id: int, *, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        async with pool.acquire() as conn:
            done = await wave_db.any_wave_finished(conn, campaign_id=campaign_id)
        if done:
            return
        await asyncio.sleep(0.5)
    log.warning("demo_campaign_wave_pending", campaign_id=campaign_id)


async def run_demo_campaign(pool: Pool, client: Client, *, task_queue: str, wait_seconds: float = 120.0) -> int:
    """Create and launch the demo campaign (once) and wait for its first reminder wave; its id."""
    campaign_id = await _existing(pool)
    if campaign_id is None:
        now = datetime.now(UTC)
        async with pool.acquire() as conn, conn.transaction():
            view = await campaign_service.create_campaign(conn, SYSTEM_ACTOR, CampaignCreate(
                name=DEMO_CAMPAIGN, kind="在职党员进社区",
                window_start=now - timedelta(days=14), window_end=now + timedelta(days=90),
                registration_deadline=now - timedelta(minutes=1),
                quotas=Quotas(period=QuotaPeriod.quarter, min_services=2, min_hours=4,
                              min_unit_registration_rate=0.95),
                reminder_policy=DEMO_LADDER,
            ), now=now)
        campaign_id = view.id
    async with pool.acquire() as conn:
        row = await campaign_db.select_campaign(conn, campaign_id=campaign_id)
    if row is not None and row.status == "draft":
        await campaign_service.launch_campaign(pool, client, SYSTEM_ACTOR, campaign_id, now=datetime.now(UTC),
                                               task_queue=task_queue)
    else:
        # Launched before (an earlier `up --demo`): make sure its workflow runs (no-op if it does).
        await campaign_service.start_campaign_workflow(client, campaign_id=campaign_id, task_queue=task_queue)
    await _first_wave_done(pool, campaign_id, timeout=wait_seconds)
    log.info("demo_campaign", campaign_id=campaign_id)
    return campaign_id
