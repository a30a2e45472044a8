"""The registration workflows on the time-skipping dev server, against the real Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from db.pool import Pool
from schemas.auth import SYSTEM_ACTOR
from schemas.registration import CohortWorkflowResult
from services import registration as member_service
from services import unit_registration as unit_service
from tests.test_registration_seed import add_member, import_cohort, reminders, reminders_sent, seed_city
from tests.waiting import settled
from workers.registry import all_activities, all_workflows


@asynccontextmanager
async def running_worker(env: WorkflowEnvironment, pool: Pool, task_queue: str) -> AsyncIterator[Worker]:
    async with Worker(env.client, task_queue=task_queue, workflows=all_workflows(),
                      activities=all_activities(pool)) as worker:
        yield worker


async def run_to_completion(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> Any:
    """Skip time until the workflow chain ends (each continue-as-new run gets skipping anew)."""
    for _ in range(20):
        describe = await handle.describe()
        if describe.status is not None and describe.status is not WorkflowExecutionStatus.RUNNING:
            break
        await env.fast_forward(handle, None)
    return await handle.result()


async def virtual_now(env: WorkflowEnvironment, handle: WorkflowHandle[object, object]) -> datetime:
    return await env.get_current_time(handle)


async def _start_cohort(ts_env: WorkflowEnvironment, cohort_id: int, task_queue: str) -> WorkflowHandle[Any, Any]:
    """Start the cohort's workflow (in real time, as the service does) and return its handle."""
    with ts_env.with_time_skipping_disabled():
        workflow_id = await member_service.start_cohort(ts_env.client, cohort_id=cohort_id, task_queue=task_queue)
    return ts_env.client.get_workflow_handle(workflow_id)

async def test_confirmation_ladder_reminds_pending_communities_and_stops_when_confirmed(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str
) -> None:
    """Community staff get remind at day 2 and urge at day 5 with their pending count; after all
    are confirmed no supervise or public notice follows."""
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=2)
        a1, a2 = await add_member(conn, city), await add_member(conn, city)
        b1 = await add_member(conn, city, community_index=1)
        cohort_id, ids = await import_cohort(conn, city, [a1, a2, b1], at=datetime.now(UTC))
    key = ("member_confirmation", "registration_cohort", cohort_id)
    async with running_worker(ts_env, pool, task_queue):
        handle = await _start_cohort(ts_env, cohort_id, task_queue)
        await ts_env.fast_forward(handle, timedelta(days=1))
        async with pool.acquire() as conn:
            assert await reminders(conn, key) == []
            await ts_env.fast_forward(handle, timedelta(days=1, hours=1))

            rows = await reminders_sent(conn, key, 2)
            assert {(r["step"], r["recipient_id"]) for r in rows} == {
                ("remind", city.communities[0]), ("remind", city.communities[1])}
            body = await conn.fetchval(
                "SELECT body FROM notification WHERE recipient_kind = 'community' AND recipient_id = $1",
                city.communities[0])
            assert "2 名" in body

            await ts_env.fast_forward(handle, timedelta(days=3))

            await reminders_sent(conn, key, 4)
            await member_service.confirm_registrations(conn, SYSTEM_ACTOR, ids, client=ts_env.client)
            await ts_env.fast_forward(handle, timedelta(days=12))
            await settled(handle)   # the steps due in those 12 days have run (or been skipped)
            rows = await reminders(conn, key)
            assert [r["step"] for r in rows] == ["remind", "remind", "urge", "urge"]
        await handle.terminate("test over")


async def test_renewal_ladder_reminds_members_and_units_skips_renewed_and_lapses_the_rest(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str
) -> None:
    """Over six virtual months both members and their unit are reminded; the member who renews
    after the first reminder gets no more in that cycle, the other lapses at the deadline."""
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=1)
        renewing, lagging = await add_member(conn, city), await add_member(conn, city)
        cohort_id, (reg_renewing, reg_lagging) = await import_cohort(
            conn, city, [renewing, lagging], at=datetime.now(UTC))
        confirmed = await member_service.confirm_registrations(conn, SYSTEM_ACTOR, [reg_renewing, reg_lagging])
    deadline = confirmed[0].valid_until
    assert deadline is not None
    key = ("member_renewal", "registration_cohort", cohort_id)
    async with running_worker(ts_env, pool, task_queue):
        handle = await _start_cohort(ts_env, cohort_id, task_queue)
        start = await virtual_now(ts_env, handle)
        await ts_env.fast_forward(handle, deadline - timedelta(days=30) - start + timedelta(hours=1))
        async with pool.acquire() as conn:
            rows = await reminders_sent(conn, key, 3)
            assert {(r["step"], r["recipient_kind"], r["recipient_id"]) for r in rows} == {
                ("remind", "member", renewing), ("remind", "member", lagging), ("remind", "unit", city.units[0])}
            # No confirmation reminders: everyone was confirmed before the first step.
            assert await reminders(conn, ("member_confirmation", "registration_cohort", cohort_id)) == []
            await member_service.renew(conn, SYSTEM_ACTOR, reg_renewing, now=await virtual_now(ts_env, handle))
            # Skip to the end: cycle 1 finishes (the lagging member lapses), cycle 2 reminds the
            # renewed member until they lapse too, and the workflow ends with nothing open.
            result = await run_to_completion(ts_env, handle)
            assert CohortWorkflowResult.model_validate(result).cycles == 2
            rows = await reminders(conn, key)
            cycle1 = [(r["step"], r["recipient_kind"], r["recipient_id"]) for r in rows if r["cycle"] == 1]
            assert [s for s, kind, who in cycle1 if who == renewing and kind == "member"] == ["remind"]
            assert [s for s, kind, who in cycle1 if who == lagging and kind == "member"] == [
                "remind", "urge", "supervise", "public_notice"]
            assert [s for s, kind, _ in cycle1 if kind == "unit"] == ["remind", "urge", "supervise", "public_notice"]
            cycle2 = [(r["step"], r["recipient_id"]) for r in rows if r["cycle"] == 2 and r["recipient_kind"] == "member"]
            assert cycle2 == [("remind", renewing), ("urge", renewing), ("supervise", renewing),
                              ("public_notice", renewing)]
            statuses = dict(await conn.fetch(
                "SELECT id, status FROM member_registration WHERE cohort_id = $1", cohort_id))
            assert statuses == {reg_renewing: "lapsed", reg_lagging: "lapsed"}
            lapse_events = await conn.fetchval(
                """SELECT count(*) FROM registration_event WHERE registration_kind = 'member'
                   AND registration_id = ANY($1::bigint[]) AND to_status = 'lapsed'""",
                [reg_renewing, reg_lagging])
            assert lapse_events == 2
            unit_body = await conn.fetchval(
                """SELECT body FROM notification WHERE recipient_kind = 'unit' AND recipient_id = $1
                   AND dedupe_key LIKE '%:1:urge:%'""", city.units[0])
            assert "1 名" in unit_body


async def test_unit_registration_confirm_signs_agreement_and_reminds_renewal_yearly(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str
) -> None:
    """A pending unit registration reminds its community; confirming signs a one-year agreement;
    the unit is reminded 60/30/7/0 days before expiry; renewing starts the next year, and an
    unrenewed agreement lapses and ends the workflow."""
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=1, units=1)
        unit_id, community_id = city.units[0], city.communities[0]
        with ts_env.with_time_skipping_disabled():
            submitted = await unit_service.submit_unit_registration(
                conn, SYSTEM_ACTOR, unit_id=unit_id, client=ts_env.client, task_queue=task_queue)
    registration_id = submitted.id
    assert submitted.workflow_id == f"unit-registration-{registration_id}"
    confirm_key = ("unit_confirmation", "unit_registration", registration_id)
    renew_key = ("unit_renewal", "unit_registration", registration_id)
    async with running_worker(ts_env, pool, task_queue), pool.acquire() as conn:
        handle = ts_env.client.get_workflow_handle(submitted.workflow_id)
        await ts_env.fast_forward(handle, timedelta(days=2, hours=1))

        assert (await reminders_sent(conn, confirm_key, 1))[0]["recipient_id"] == community_id

        confirmed = await unit_service.confirm_unit_registration(
            conn, SYSTEM_ACTOR, registration_id, projects=["助老服务"], client=ts_env.client,
            now=await virtual_now(ts_env, handle))
        assert confirmed.status == "active" and confirmed.agreement_id is not None
        assert confirmed.valid_until is not None
        start = await virtual_now(ts_env, handle)
        await ts_env.fast_forward(handle, confirmed.valid_until - timedelta(days=60) - start + timedelta(hours=1))

        row = (await reminders_sent(conn, renew_key, 1))[0]
        assert (row["cycle"], row["step"], row["recipient_kind"], row["recipient_id"]) == (1, "remind", "unit", unit_id)

        renewed = await unit_service.renew_unit_registration(
            conn, SYSTEM_ACTOR, registration_id, client=ts_env.client, now=await virtual_now(ts_env, handle))
        assert renewed.valid_until is not None and renewed.valid_until > confirmed.valid_until
        result = await run_to_completion(ts_env, handle)
        assert result["final_status"] == "lapsed"
        rows = await reminders(conn, renew_key)
        assert [(r["cycle"], r["step"]) for r in rows] == [
            (1, "remind"), (2, "remind"), (2, "urge"), (2, "supervise"), (2, "public_notice")]
        # Only the remind step of the first confirmation ladder: staff confirmed before the urge.
        assert [r["step"] for r in await reminders(conn, confirm_key)] == ["remind"]
        agreement_status = await conn.fetchval(
            "SELECT status FROM co_building_agreement WHERE id = $1", confirmed.agreement_id)
        assert agreement_status == "lapsed"
