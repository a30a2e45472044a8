"""Reminders are sent exactly once per (ladder, subject, cycle, step, recipient)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.registration import RegistrationActivities
from db.pool import Pool
from schemas.auth import SYSTEM_ACTOR
from schemas.registration import ConfirmationReminderInput, ReminderStep, RenewalReminderInput
from services import registration as member_service
from tests.test_registration_seed import add_member, import_cohort, reminders, seed_city
from workers.registry import all_activities, all_workflows


async def _notifications(pool: Pool, kind: str, ids: list[int], category: str | None = None) -> int:
    async with pool.acquire() as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM notification WHERE recipient_kind = $1 AND recipient_id = ANY($2::bigint[])"
            " AND ($3::text IS NULL OR category = $3)", kind, ids, category)
        return count


async def test_retried_confirmation_reminder_sends_once(pool: Pool) -> None:
    """Running the same confirmation step twice (a retry) leaves one reminder and one notification
    per community."""
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=2)
        members = [await add_member(conn, city), await add_member(conn, city, community_index=1)]
        cohort_id, _ = await import_cohort(conn, city, members, at=datetime.now(UTC))
    activities = RegistrationActivities(pool)
    data = ConfirmationReminderInput(cohort_id=cohort_id, step=ReminderStep.urge, as_of=datetime.now(UTC))
    first = await ActivityEnvironment().run(activities.remind_pending_confirmations, data)
    second = await ActivityEnvironment().run(activities.remind_pending_confirmations, data)
    assert (first.pending, first.communities_reminded) == (2, 2)
    assert (second.pending, second.communities_reminded) == (2, 0)
    async with pool.acquire() as conn:
        rows = await reminders(conn, ("member_confirmation", "registration_cohort", cohort_id))
    assert len(rows) == 2
    assert await _notifications(pool, "community", city.communities) == 2


async def test_retried_renewal_reminder_sends_once(pool: Pool) -> None:
    """Running the same renewal step twice leaves one reminder and notification per member and unit."""
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=1)
        members = [await add_member(conn, city) for _ in range(3)]
        cohort_id, ids = await import_cohort(conn, city, members, at=datetime.now(UTC))
        confirmed = await member_service.confirm_registrations(conn, SYSTEM_ACTOR, ids)
    deadline = confirmed[0].valid_until
    assert deadline is not None
    activities = RegistrationActivities(pool)
    data = RenewalReminderInput(cohort_id=cohort_id, cycle=1, step=ReminderStep.remind, deadline=deadline,
                                as_of=deadline - timedelta(days=30))
    first = await ActivityEnvironment().run(activities.remind_due_renewals, data)
    second = await ActivityEnvironment().run(activities.remind_due_renewals, data)
    assert (first.due, first.members_reminded, first.units_reminded) == (3, 3, 1)
    assert (second.due, second.members_reminded, second.units_reminded) == (3, 0, 0)
    # (each member also has the message that their registration was confirmed)
    assert await _notifications(pool, "member", members, "registration_renewal") == 3
    assert await _notifications(pool, "member", members, "registration_decision") == 3
    assert await _notifications(pool, "unit", city.units) == 1


async def test_worker_restart_mid_ladder_sends_no_duplicates(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str
) -> None:
    """A worker stopped after the remind step and a new worker finishing the ladder send each step
    once: one reminder row and one notification per community and step."""
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=2)
        members = [await add_member(conn, city), await add_member(conn, city, community_index=1)]
        cohort_id, _ = await import_cohort(conn, city, members, at=datetime.now(UTC))
    key = ("member_confirmation", "registration_cohort", cohort_id)
    async with Worker(ts_env.client, task_queue=task_queue, workflows=all_workflows(),
                      activities=all_activities(pool)):
        with ts_env.with_time_skipping_disabled():
            workflow_id = await member_service.start_cohort(ts_env.client, cohort_id=cohort_id,
                                                            task_queue=task_queue)
        handle = ts_env.client.get_workflow_handle(workflow_id)
        await ts_env.fast_forward(handle, timedelta(days=2, hours=1))
        for _ in range(100):
            async with pool.acquire() as conn:
                if len(await reminders(conn, key)) == 2:
                    break
            await asyncio.sleep(0.1)
    # The first worker is gone; a new one (empty cache) replays the history and goes on.
    async with Worker(ts_env.client, task_queue=task_queue, workflows=all_workflows(),
                      activities=all_activities(pool)):
        await ts_env.fast_forward(handle, timedelta(days=14))
        for _ in range(100):
            async with pool.acquire() as conn:
                rows = await reminders(conn, key)
            if len(rows) == 8:
                break
            await asyncio.sleep(0.1)
        await handle.terminate("test over")
    steps = [(r["step"], r["recipient_id"]) for r in rows]
    assert len(steps) == len(set(steps)) == 8
    assert await _notifications(pool, "community", city.communities) == 8
