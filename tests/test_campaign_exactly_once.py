"""A campaign's reminders are sent exactly once per member per step, whatever retries or crashes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from temporalio.client import Client
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.campaign import CampaignActivities
from db import campaign as campaign_db
from db.pool import Conn, Pool
from schemas.auth import SYSTEM_ACTOR
from schemas.campaign import CampaignCreate, CampaignScope, DeadlineKind, Recipient
from schemas.campaign_contract import (
    FinishWaveInput,
    PartitionInput,
    PlanWaveInput,
    ReminderWaveInput,
    ReminderWaveResult,
)
from schemas.registration import ReminderStep
from services import campaign as campaign_service
from tests.test_registration_seed import City, add_member, seed_city
from workers.registry import all_activities, all_workflows
from workflows.reminder_wave import ReminderWaveWorkflow


async def campaign_over(conn: Conn, city: City, now: datetime) -> int:
    view = await campaign_service.create_campaign(conn, SYSTEM_ACTOR, CampaignCreate(
        name="双报到 动员", scope=CampaignScope(community_ids=city.communities),
        window_start=now - timedelta(days=1), window_end=now + timedelta(days=30),
        registration_deadline=now), now=now)
    await campaign_db.resolve_scope(conn, campaign_id=view.id)
    return view.id


def wave(campaign_id: int, now: datetime, *, partitions: int, concurrency: int) -> ReminderWaveInput:
    return ReminderWaveInput(
        campaign_id=campaign_id, deadline_kind=DeadlineKind.registration, period=0,
        period_start=now - timedelta(days=1), period_end=now, step=ReminderStep.urge,
        notify=(Recipient.member, Recipient.unit), as_of=now, partitions=partitions, concurrency=concurrency)


async def counts(conn: Conn, campaign_id: int, members: list[int]) -> tuple[int, int, int]:
    """(member reminders, distinct reminded members, member notifications) of this campaign."""
    row = await conn.fetchrow(
        """SELECT count(*) AS n, count(DISTINCT recipient_id) AS d FROM reminder
           WHERE ladder = $1 AND recipient_kind = 'member'""", f"campaign:{campaign_id}:registration")
    notes = await conn.fetchval(
        "SELECT count(*) FROM notification WHERE recipient_kind = 'member' AND recipient_id = ANY($1::bigint[])",
        members)
    assert row is not None
    return int(row["n"]), int(row["d"]), int(notes)


async def test_retried_partition_activity_sends_once(pool: Pool) -> None:
    """Running the same partition twice (a retry) sends each member one reminder and one
    notification; the second run reports the partition already done."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=2)
        members = [await add_member(conn, city, community_index=i % 2) for i in range(5)]
        campaign_id = await campaign_over(conn, city, now)
    activities = CampaignActivities(pool)
    data = wave(campaign_id, now, partitions=1, concurrency=1)
    plan = await ActivityEnvironment().run(activities.plan_wave, PlanWaveInput(wave=data, at=now))
    part = PartitionInput(wave_id=plan.wave_id, wave=data, bounds=plan.pending[0], as_of=now)
    first = await ActivityEnvironment().run(activities.remind_partition, part)
    second = await ActivityEnvironment().run(activities.remind_partition, part)
    assert (first.behind, first.reminded, first.already_done) == (5, 5, False)
    assert (second.reminded, second.already_done) == (5, True)
    async with pool.acquire() as conn:
        assert await counts(conn, campaign_id, members) == (5, 5, 5)
        replanned = await ActivityEnvironment().run(activities.plan_wave, PlanWaveInput(wave=data, at=now))
        assert replanned.wave_id == plan.wave_id and replanned.pending == []


async def test_worker_stopped_mid_wave_then_replaced_sends_no_duplicates(
    client: Client, pool: Pool, task_queue: str
) -> None:
    """A worker stopped while a 200-partition wave runs one partition at a time, and a new worker
    finishing it, leave exactly one reminder and one notification per member behind, and one per
    unit."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=2)
        members = [await add_member(conn, city, community_index=i % 2) for i in range(40)]
        campaign_id = await campaign_over(conn, city, now)
    workflow_id = f"campaign-{campaign_id}-wave-test"

    async def done_partitions() -> tuple[int, int]:
        async with pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT partitions_done, partitions_total FROM campaign_wave WHERE campaign_id = $1", campaign_id)
        return (int(row["partitions_done"]), int(row["partitions_total"])) if row else (0, 1)

    async with Worker(client, task_queue=task_queue, workflows=all_workflows(), activities=all_activities(pool)):
        handle = await client.start_workflow(
            ReminderWaveWorkflow.run, wave(campaign_id, now, partitions=200, concurrency=1),
            id=workflow_id, task_queue=task_queue)
        for _ in range(300):
            done, total = await done_partitions()
            if done >= 5:
                break
            await asyncio.sleep(0.02)
    done, total = await done_partitions()
    assert 0 < done < total, "the first worker should stop mid-wave"
    async with Worker(client, task_queue=task_queue, workflows=all_workflows(), activities=all_activities(pool)):
        result = ReminderWaveResult.model_validate(await asyncio.wait_for(handle.result(), 60))
    assert result.reminded == result.behind == 40
    async with pool.acquire() as conn:
        assert await counts(conn, campaign_id, members) == (40, 40, 40)
        unit_rows = await conn.fetch(
            "SELECT body FROM notification WHERE dedupe_key = $1",
            f"campaign:{campaign_id}:registration:0:urge:unit:{city.units[0]}")
        assert [r["body"].count("40 名") for r in unit_rows] == [1]
        assert await done_partitions() == (total, total)


async def test_group_robots_are_queued_once_in_the_outbox_with_the_reminder(pool: Pool) -> None:
    """A unit with a WeCom robot gets one outbox row per step with the count in its body, keyed by
    the reminder's dedupe key; finishing the wave again queues nothing more; a community without
    an endpoint gets only its inbox notification."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=1)
        for _ in range(3):
            await add_member(conn, city)
        campaign_id = await campaign_over(conn, city, now)
        endpoint_id = await conn.fetchval(
            """INSERT INTO channel_endpoint (owner_kind, owner_id, channel, url)
               VALUES ('unit', $1, 'wecom', 'http://127.0.0.1:9/cgi-bin/webhook/send?key=test') RETURNING id""",
            city.units[0])
    data = ReminderWaveInput(
        campaign_id=campaign_id, deadline_kind=DeadlineKind.registration, period=0,
        period_start=now - timedelta(days=1), period_end=now, step=ReminderStep.urge,
        notify=(Recipient.member, Recipient.unit, Recipient.community), as_of=now, partitions=1)
    activities = CampaignActivities(pool)
    try:
        plan = await ActivityEnvironment().run(activities.plan_wave, PlanWaveInput(wave=data, at=now))
        await ActivityEnvironment().run(activities.remind_partition, PartitionInput(
            wave_id=plan.wave_id, wave=data, bounds=plan.pending[0], as_of=now))
        finish = FinishWaveInput(wave_id=plan.wave_id, wave=data, at=now)
        first = await ActivityEnvironment().run(activities.finish_wave, finish)
        again = await ActivityEnvironment().run(activities.finish_wave, finish)
        assert (first.groups_reminded, first.external_queued, again.external_queued) == (2, 1, 0)
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT channel, recipient_kind, body, idempotency_key FROM delivery "
                                    "WHERE campaign_id = $1", campaign_id)
            assert [(r["channel"], r["recipient_kind"]) for r in rows] == [("wecom", "unit")]
            assert "3 名" in rows[0]["body"]
            assert rows[0]["idempotency_key"] == (
                f"campaign:{campaign_id}:registration:0:urge:unit:{city.units[0]}:wecom")
    finally:
        async with pool.acquire() as conn:
            # Nobody listens at that URL: keep the shared outbox free of undeliverable rows.
            await conn.execute("DELETE FROM delivery WHERE endpoint_id = $1", endpoint_id)
            await conn.execute("DELETE FROM channel_endpoint WHERE id = $1", endpoint_id)
