"""Steering a running campaign: pause, extend, resume, cancel, refusals, and the mobilisation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from db.pool import Pool
from domain.errors import Conflict
from schemas.auth import SYSTEM_ACTOR
from schemas.campaign import CampaignCreate, CampaignScope, CampaignStatus, ProgressLevel
from schemas.campaign_contract import CampaignWorkflowResult, MobiliseInput
from schemas.dispatch import AnswerOfferInput
from services import campaign as campaign_service
from services import dispatch as dispatch_service
from tests.test_campaign_workflow import campaign_reminders, create_campaign, launch, short_ladder, status
from tests.test_registration_seed import add_member, import_cohort, seed_city
from tests.waiting import eventually
from workers.registry import all_activities, all_workflows


async def test_paused_campaign_sends_nothing_extension_moves_the_ladder_and_cancel_ends_it(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str
) -> None:
    """While paused no step fires; the registration deadline extended by 10 days moves the remind
    step with it; after resume it fires at the new time; resuming a running campaign is refused;
    cancel ends the workflow as cancelled with the history recorded."""
    start = datetime.now(UTC)
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=1)
        lagging = await add_member(conn, city)
        campaign_id = await create_campaign(conn, city, start=start, policy=short_ladder())
    async with Worker(ts_env.client, task_queue=task_queue, workflows=all_workflows(),
                      activities=all_activities(pool)):
        _, handle = await launch(ts_env, pool, task_queue, campaign_id, start=start)
        async with pool.acquire() as conn:
            await ts_env.fast_forward(handle, timedelta(days=1, hours=1))

            async def running() -> bool:
                return await status(conn, campaign_id) == "running"
            await eventually(running)
            paused = await campaign_service.pause(pool, ts_env.client, SYSTEM_ACTOR, campaign_id, "春节")
            assert paused.status is CampaignStatus.paused
            await ts_env.fast_forward(handle, timedelta(days=8))          # day 9: remind (day 8) was due
            assert await campaign_reminders(conn, campaign_id) == []
            old = paused.registration_deadline
            assert old is not None
            extended = await campaign_service.extend(pool, ts_env.client, SYSTEM_ACTOR, campaign_id,
                                                     window_end=None, registration_deadline=old + timedelta(days=10))
            assert extended.registration_deadline == old + timedelta(days=10)
            resumed = await campaign_service.resume(pool, ts_env.client, SYSTEM_ACTOR, campaign_id)
            assert resumed.status is CampaignStatus.running
            with pytest.raises(Conflict, match="不能恢复"):
                await campaign_service.resume(pool, ts_env.client, SYSTEM_ACTOR, campaign_id)
            await ts_env.fast_forward(handle, timedelta(days=2))          # day 11: old urge time
            assert await campaign_reminders(conn, campaign_id) == []
            await ts_env.fast_forward(handle, timedelta(days=7, hours=1))  # day 18+: new remind

            async def reminded() -> bool:
                return await campaign_reminders(conn, campaign_id) == [("remind", "member", lagging)]
            await eventually(reminded)
            cancelled = await campaign_service.cancel(pool, ts_env.client, SYSTEM_ACTOR, campaign_id, "任务调整",
                                                      now=start)
            assert cancelled.status is CampaignStatus.cancelled
            result = CampaignWorkflowResult.model_validate(await handle.result())
            assert (result.final_status, result.waves_run) == (CampaignStatus.cancelled, 1)
            kinds = [e.kind for e in await campaign_service.campaign_events(conn, SYSTEM_ACTOR, campaign_id)]
            assert kinds == ["create", "launch", "start", "pause", "extend", "resume", "cancel"]


async def test_mobilise_creates_one_task_per_grid_with_batch_offers_and_progress_counts_them(
    client: Client, pool: Pool, task_queue: str
) -> None:
    """平急转换 on a running campaign over two communities creates one task per grid, offers them to
    the registered members by batch matching, and the community progress counts the open tasks
    and the registered members."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=2)
        members = [await add_member(conn, city, community_index=i % 2) for i in range(4)]
        _, registrations = await import_cohort(conn, city, members, at=now)
        await conn.execute("UPDATE member_registration SET status = 'active' WHERE id = ANY($1::bigint[])",
                           registrations)
        view = await campaign_service.create_campaign(conn, SYSTEM_ACTOR, CampaignCreate(
            name="疫情防控动员", kind="疫情防控动员", scope=CampaignScope(subdistrict_ids=[city.subdistrict_id]),
            window_start=now - timedelta(hours=1), window_end=now + timedelta(days=14),
            registration_deadline=now + timedelta(days=3), emergency=True), now=now)
    async with Worker(client, task_queue=task_queue, workflows=all_workflows(), activities=all_activities(pool)):
        await campaign_service.launch_campaign(pool, client, SYSTEM_ACTOR, view.id, now=now, task_queue=task_queue)
        async with pool.acquire() as conn:
            async def running() -> bool:
                return await status(conn, view.id) == "running"
            await eventually(running)
            result = await campaign_service.mobilise(pool, client, SYSTEM_ACTOR, view.id,
                                                     MobiliseInput(actor="x", headcount=2, hours=12),
                                                     task_queue=task_queue)
            assert (result.tasks_created, result.offers, result.unfilled_slots) == (2, 4, 0)
            offered = await conn.fetch(
                """SELECT t.community_id, o.member_id FROM campaign_task ct JOIN task t ON t.id = ct.task_id
                   JOIN offer o ON o.task_id = t.id WHERE ct.campaign_id = $1""", view.id)
            home = {m: city.communities[i % 2] for i, m in enumerate(members)}
            assert sorted(r["member_id"] for r in offered) == sorted(members)
            assert all(home[r["member_id"]] == r["community_id"] for r in offered)
            # The mobilised tasks run as TaskWorkflows that adopted the batch offers as their
            # first wave: a member can accept one through the ordinary dispatch update.
            first = await conn.fetchrow(
                """SELECT o.task_id, o.member_id FROM campaign_task ct JOIN offer o ON o.task_id = ct.task_id
                   WHERE ct.campaign_id = $1 ORDER BY o.id LIMIT 1""", view.id)
            assert first is not None

            async def accepted() -> bool:
                try:
                    answer = await dispatch_service.answer_offer(
                        pool, client, SYSTEM_ACTOR, first["task_id"],
                        AnswerOfferInput(member_id=first["member_id"], accept=True))
                except Conflict:
                    return False  # the workflow has not adopted its first wave yet
                return answer.status == "accepted"
            await eventually(accepted)
            assert await conn.fetchval("SELECT count(*) FROM offer WHERE task_id = $1", first["task_id"]) == 2
            report = await campaign_service.progress(conn, SYSTEM_ACTOR, view.id, ProgressLevel.community, now=now)
            assert [(r.level_id, r.members, r.registered, r.tasks_open) for r in report.rows] == [
                (c, 2, 2, 1) for c in city.communities]
            await campaign_service.cancel(pool, client, SYSTEM_ACTOR, view.id, "演练结束", now=now)
