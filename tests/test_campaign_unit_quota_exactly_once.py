"""Unit-quota reminders are written exactly once per unit per step, whatever retries or races."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.campaign import CampaignActivities
from db import campaign as campaign_db
from db.pool import Conn, Pool
from domain import campaign_unit_quota as unit_quota
from schemas.auth import SYSTEM_ACTOR
from schemas.campaign import CampaignCreate, CampaignScope, DeadlineKind, Quotas, Recipient
from schemas.campaign_contract import (
    ReminderWaveInput,
    ReminderWaveResult,
    UnitQuotaPageInput,
    UnitQuotaPageResult,
)
from schemas.registration import ReminderStep
from services import campaign as campaign_service
from tests.test_registration_seed import City, add_member, seed_city
from workers.registry import all_activities, all_workflows
from workflows.reminder_wave import ReminderWaveWorkflow

PAGE_ACTIVITY = "campaign_remind_unit_quota_page"


async def campaign_over(conn: Conn, city: City, now: datetime) -> int:
    view = await campaign_service.create_campaign(conn, SYSTEM_ACTOR, CampaignCreate(
        name="单位报到率 一次", scope=CampaignScope(community_ids=city.communities),
        window_start=now - timedelta(days=1), window_end=now + timedelta(days=30),
        registration_deadline=now, quotas=Quotas(min_unit_registration_rate=0.95)), now=now)
    await campaign_db.resolve_scope(conn, campaign_id=view.id)
    return view.id


def wave(campaign_id: int, now: datetime) -> ReminderWaveInput:
    return ReminderWaveInput(
        campaign_id=campaign_id, deadline_kind=DeadlineKind.registration, period=0,
        period_start=now - timedelta(days=1), period_end=now, step=ReminderStep.urge,
        notify=(Recipient.unit, Recipient.community), as_of=now, partitions=2, concurrency=2,
        unit_quota_rate=0.95)


async def unit_counts(conn: Conn, campaign_id: int, units: list[int]) -> tuple[int, int, int]:
    """(unit reminders, distinct units reminded, unit inbox notifications) of this campaign's quota."""
    row = await conn.fetchrow(
        """SELECT count(*) AS n, count(DISTINCT recipient_id) AS d FROM reminder
           WHERE ladder = $1 AND recipient_kind = 'unit'""", unit_quota.ladder_name(campaign_id))
    notes = await conn.fetchval(
        "SELECT count(*) FROM notification WHERE recipient_kind = 'unit' AND recipient_id = ANY($1::bigint[]) "
        "AND dedupe_key LIKE $2", units, unit_quota.ladder_name(campaign_id) + ":%")
    assert row is not None
    return int(row["n"]), int(row["d"]), int(notes)


async def test_retried_and_racing_page_activities_write_each_unit_reminder_once(pool: Pool) -> None:
    """The same page run again (a retry after a commit) and twice at once (a retry racing a slow
    first attempt) leaves one reminder, one inbox notification and one robot delivery per unit."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=1, units=2)
        for unit_index in (0, 1):
            await add_member(conn, city, unit_index=unit_index)
        campaign_id = await campaign_over(conn, city, now)
        endpoint_id = await conn.fetchval(
            """INSERT INTO channel_endpoint (owner_kind, owner_id, channel, url)
               VALUES ('unit', $1, 'wecom', 'http://127.0.0.1:9/cgi-bin/webhook/send?key=q') RETURNING id""",
            city.units[0])
    activities = CampaignActivities(pool)
    # One page holding exactly this test's two units (every unit in the shared database has a
    # smaller id or is one of them).
    page = UnitQuotaPageInput(wave=wave(campaign_id, now).model_copy(update={"unit_page_size": 2}),
                              after_unit_id=min(city.units) - 1)
    try:
        first = await ActivityEnvironment().run(activities.remind_unit_quota_page, page)
        again = await ActivityEnvironment().run(activities.remind_unit_quota_page, page)
        racing = await asyncio.gather(*(ActivityEnvironment().run(activities.remind_unit_quota_page, page)
                                        for _ in range(2)))
        assert (first.behind, first.reminded, first.external_queued) == (2, 2, 1)
        assert [(r.behind, r.reminded, r.external_queued) for r in (again, *racing)] == [(2, 0, 0)] * 3
        async with pool.acquire() as conn:
            assert await unit_counts(conn, campaign_id, city.units) == (2, 2, 2)
            robots = await conn.fetch("SELECT idempotency_key FROM delivery WHERE campaign_id = $1", campaign_id)
            assert [r["idempotency_key"] for r in robots] == [
                unit_quota.dedupe_base(campaign_id, ReminderStep.urge, "unit", city.units[0]) + ":wecom"]
    finally:
        async with pool.acquire() as conn:
            # Nobody listens at that URL: keep the shared outbox free of undeliverable rows.
            await conn.execute("DELETE FROM delivery WHERE endpoint_id = $1", endpoint_id)
            await conn.execute("DELETE FROM channel_endpoint WHERE id = $1", endpoint_id)


async def test_wave_whose_pages_fail_after_committing_reminds_each_unit_once(
    client: Client, pool: Pool, task_queue: str
) -> None:
    """Every page activity's first attempt commits its reminders and is then lost (as when the
    worker dies before reporting); Temporal retries each page, and the finished wave has reminded
    each unit behind exactly once, with one inbox notification each, and the community once."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=1, units=6)
        for unit_index in range(6):
            await add_member(conn, city, unit_index=unit_index)
        campaign_id = await campaign_over(conn, city, now)
    real = CampaignActivities(pool)
    lost = 0

    @activity.defn(name=PAGE_ACTIVITY)
    async def lost_after_commit(data: UnitQuotaPageInput) -> UnitQuotaPageResult:
        nonlocal lost
        result = await real.remind_unit_quota_page(data)
        if activity.info().attempt == 1:
            lost += 1
            raise ApplicationError("the worker died after the commit")   # retryable
        return result

    acts = [a for a in all_activities(pool) if activity._Definition.must_from_callable(a).name != PAGE_ACTIVITY]
    async with Worker(client, task_queue=task_queue, workflows=all_workflows(),
                      activities=[*acts, lost_after_commit]):
        result = ReminderWaveResult.model_validate(await asyncio.wait_for(client.execute_workflow(
            ReminderWaveWorkflow.run, wave(campaign_id, now), id=f"unit-quota-once-{uuid.uuid4().hex[:8]}",
            task_queue=task_queue), 60))
    assert lost >= 1
    assert result.units_behind == 6
    async with pool.acquire() as conn:
        assert await unit_counts(conn, campaign_id, city.units) == (6, 6, 6)
        community = await conn.fetchval(
            "SELECT count(*) FROM notification WHERE dedupe_key = $1",
            unit_quota.dedupe_base(campaign_id, ReminderStep.urge, "community", city.communities[0]))
        assert community == 1
