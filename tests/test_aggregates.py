"""Every maintained aggregate equals its recomputation from the raw tables after a mixed workload
run through the real services and workflows (issue 12): registrations, a move to another
community, a withdrawal, a unit transfer, a dispatched task served through its workflow, service
records approved and rejected, a campaign's quota reminder wave through its workflow, and a retried
partition activity. The comparison covers the whole shared test database, so whatever the other
tests wrote before must have kept the aggregates right too.

Other maintained aggregates join the comparison by adding themselves to db.aggregates.AGGREGATES.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.campaign import CampaignActivities
from bench.import_roster import (
    APP_ROLE,
    APP_ROLE_GRANTS,
    MEMBER_HEADER,
    hierarchy_csv,
    member_rows,
    synthetic_city,
    units_csv,
)
from db import aggregates
from db import campaign as campaign_db
from db import member as member_db
from db.pool import Pool, open_pool
from db.registration_cohort import create_cohort
from domain.local_time import LOCAL_ZONE
from schemas.auth import SYSTEM_ACTOR
from schemas.campaign import CampaignCreate, CampaignScope, DeadlineKind, QuotaPeriod, Quotas, Recipient
from schemas.campaign_contract import (
    PartitionBounds,
    PartitionInput,
    PlanWaveInput,
    ReminderWaveInput,
    ReminderWaveResult,
)
from schemas.registration import ReminderStep
from schemas.service_record import ServiceRecordCreate
from services import campaign as campaign_service
from services import registration, service_record, unit_transfer
from services.roster_import import import_roster
from tests import test_dispatch_workflow as dispatch
from tests.conftest import unique
from tests.test_registration_seed import add_member, import_cohort, seed_city
from workers.registry import all_activities, all_workflows
from workflows.reminder_wave import ReminderWaveWorkflow


async def differences(pool: Pool) -> dict[str, list[dict[str, object]]]:
    """Each maintained aggregate's rows that differ from its recomputation (none when all agree)."""
    async with pool.acquire() as conn:
        return {a.table: found for a in aggregates.AGGREGATES if (found := await aggregates.differences(conn, a))}


def _record(community_id: int, day: date, start: str, end: str, *, member_id: int) -> ServiceRecordCreate:
    return ServiceRecordCreate.model_validate({"service_date": day, "start_time": start, "end_time": end,
                                               "category": "环境整治", "community_id": community_id,
                                               "member_id": member_id})


async def mixed_workload(ts_env: WorkflowEnvironment, pool: Pool, task_queue: str) -> int:
    """Run the workload (see the module doc); the campaign's id."""
    now = datetime.now(UTC).replace(microsecond=0)
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=3, units=2)
        members = [await add_member(conn, city, community_index=i % 3, unit_index=i % 2) for i in range(8)]
        view = await campaign_service.create_campaign(conn, SYSTEM_ACTOR, CampaignCreate(
            name="在职党员进社区 聚合", scope=CampaignScope(community_ids=city.communities),
            window_start=now - timedelta(days=2), window_end=now + timedelta(days=60),
            quotas=Quotas(period=QuotaPeriod.month, min_services=1)), now=now - timedelta(days=3))
        await campaign_db.resolve_scope(conn, campaign_id=view.id)
        # registrations: a roster cohort, confirmed; one rejected, one withdrawn, one moves
        _, regs = await import_cohort(conn, city, members[:7], at=now)
        await registration.confirm_registrations(conn, SYSTEM_ACTOR, regs[:5], now=now)
        await registration.reject_registrations(conn, SYSTEM_ACTOR, [regs[5]], "不在本社区", now=now)
        await registration.withdraw(conn, SYSTEM_ACTOR, regs[4], reason="退出", now=now)
        await registration.transfer_member(conn, SYSTEM_ACTOR, members[3], city.communities[2], now=now)
        await unit_transfer.start_unit_transfer(conn, SYSTEM_ACTOR, member_id=members[0], to_unit_id=city.units[1],
                                                decide_now=True, now=now)
        # service records: two approved (one member twice), one rejected, one left pending
        yesterday = (now.astimezone(LOCAL_ZONE) - timedelta(days=1)).date()   # inside the window, not ahead
        logged = [await service_record.log_record_in(conn, SYSTEM_ACTOR, _record(city.communities[i % 3], yesterday,
                                                                                   s, e, member_id=members[i]), now=now)
                  for i, s, e in ((0, "01:00", "02:30"), (0, "03:00", "04:00"), (1, "01:00", "02:00"),
                                  (2, "01:00", "02:00"))]
        await service_record.approve_records(conn, SYSTEM_ACTOR, [logged[0].id, logged[1].id], now=now)
        await service_record.reject_records(conn, SYSTEM_ACTOR, [logged[2].id], reason="不实", now=now)
    async with Worker(ts_env.client, task_queue=task_queue, workflows=all_workflows(),
                      activities=all_activities(pool)):
        await dispatch.served_task(ts_env, pool, task_queue)   # offered, accepted, checked in and out
        wave = ReminderWaveInput(
            campaign_id=view.id, deadline_kind=DeadlineKind.quota, period=0, period_start=now - timedelta(days=2),
            period_end=now + timedelta(days=1), step=ReminderStep.remind, notify=(Recipient.member,), as_of=now,
            partitions=4, concurrency=2)
        with ts_env.with_time_skipping_disabled():
            result = ReminderWaveResult.model_validate(await ts_env.client.execute_workflow(
                ReminderWaveWorkflow.run, wave, id=f"aggregates-wave-{view.id}", task_queue=task_queue))
        assert result.reminded > 0
    # A retry of a partition whose first attempt committed (its completion was lost): found done.
    activities = CampaignActivities(pool)
    plan = await ActivityEnvironment().run(activities.plan_wave, PlanWaveInput(wave=wave, at=now))
    assert plan.pending == []
    async with pool.acquire() as conn:
        done = await conn.fetchval("SELECT min(partition) FROM campaign_wave_partition WHERE wave_id = $1",
                                   plan.wave_id)
        ids = await conn.fetchrow("SELECT min(id) AS lo, max(id) + 1 AS hi FROM member")
    assert ids is not None
    retried = await ActivityEnvironment().run(activities.remind_partition, PartitionInput(
        wave_id=plan.wave_id, wave=wave, bounds=PartitionBounds(partition=done, lo=ids['lo'], hi=ids['hi']), as_of=now))
    assert retried.already_done
    return view.id


async def test_every_aggregate_equals_its_recomputation_after_a_mixed_workload(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str
) -> None:
    assert await differences(pool) == {}, "the aggregates disagreed before the workload"
    campaign_id = await mixed_workload(ts_env, pool, task_queue)
    async with pool.acquire() as conn:
        served = await conn.fetchval("SELECT sum(served) FROM campaign_tally WHERE campaign_id = $1", campaign_id)
        reminded = await conn.fetchval("SELECT sum(reminded) FROM campaign_reminded WHERE campaign_id = $1",
                                       campaign_id)
    assert served and reminded   # the workload reached the campaign's counters
    assert await differences(pool) == {}


async def test_a_rebuild_restores_aggregates_a_bulk_write_left_behind(pool: Pool) -> None:
    """A write with triggers off (a seeder, the import's superuser path) leaves the counters
    behind; the rebuild those paths call puts them right."""
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=1)
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await add_member(conn, city)
        assert "registration_tally" in {
            a.table for a in aggregates.AGGREGATES if await aggregates.differences(conn, a)}
        await aggregates.rebuild(conn)
    assert await differences(pool) == {}


# A role like a city's production one (bench.import_roster.APP_ROLE_GRANTS): owns no table, so the
# import takes its ordinary path (per-row FK triggers, aggregate triggers skipped and settled).
_APP_ROLE = "sbd_test_ordinary"


async def _app_role_pool(pool: Pool, dsn: str) -> Pool:
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", _APP_ROLE):
            database = await conn.fetchval("SELECT current_database()")
            for statement in APP_ROLE_GRANTS:
                await conn.execute(statement.replace(APP_ROLE, _APP_ROLE).format(database=database))
    parts = urlsplit(dsn)
    host = parts.netloc.rsplit("@", 1)[-1]
    return await open_pool(urlunsplit(parts._replace(netloc=f"{_APP_ROLE}@{host}")), min_size=1, max_size=2)


async def test_an_ordinary_role_import_leaves_every_aggregate_equal_to_its_recomputation(
    pool: Pool, pg_dsn: str
) -> None:
    """A roster imported by a role that owns no table (its aggregate triggers skipped, the tables
    they feed rebuilt once before its commit), beside members already registered in the city."""
    city = synthetic_city(unique("聚"), districts=1, subdistricts=1, communities=3, grids=2, units=2)
    await import_roster(pool, hierarchy_csv(city), actor=SYSTEM_ACTOR, file_name="hierarchy.csv")
    await import_roster(pool, units_csv(city), actor=SYSTEM_ACTOR, file_name="units.csv")
    rows = list(member_rows(city, 60, seed=5))
    first = io.StringIO()
    csv.writer(first).writerows([MEMBER_HEADER, *rows[:20]])
    await import_roster(pool, first.getvalue().encode(), actor=SYSTEM_ACTOR, file_name="first.csv")
    async with pool.acquire() as conn:   # one of them withdrawn: the next import registers them again
        withdrawn = await conn.fetchval(
            "SELECT r.id FROM member_registration r JOIN member m ON m.id = r.member_id WHERE m.id_number = $1",
            rows[0][4])
        assert withdrawn is not None
        await registration.withdraw(conn, SYSTEM_ACTOR, withdrawn, reason="退出", now=datetime.now(UTC))
    app_pool = await _app_role_pool(pool, pg_dsn)
    try:
        async with app_pool.acquire() as conn:
            assert not await member_db.fk_triggers_replaceable(conn)
        second = io.StringIO()
        csv.writer(second).writerows([MEMBER_HEADER, *rows])
        result = await import_roster(app_pool, second.getvalue().encode(), actor=SYSTEM_ACTOR, file_name="all.csv")
    finally:
        await app_pool.close()
    assert (result.inserted, result.registrations) == (40, 41)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM aggregate_bulk_pending") == 0
        submitted = await conn.fetchval(
            "SELECT sum(submitted) FROM registration_tally t JOIN community c ON c.id = t.group_id"
            " WHERE t.grouping = 'community' AND c.name = ANY($1::text[])", [c[2] for c in city.communities])
    assert submitted == 60
    assert await differences(pool) == {}


async def test_the_bulk_setting_set_by_hand_cannot_leave_aggregates_behind(pool: Pool, pg_dsn: str) -> None:
    """A session of the ordinary role that sets shuangbaodao.bulk itself (for the session, not a
    transaction) and writes without settling: each commit settles what its statements skipped."""
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=2)
    app_pool = await _app_role_pool(pool, pg_dsn)
    try:
        async with app_pool.acquire() as conn:
            await conn.execute("SET shuangbaodao.bulk = 'on'")
            member_id = await conn.fetchval(   # autocommit: its own transaction
                "INSERT INTO member (name, home_community_id, unit_id) VALUES ('手设', $1, $2) RETURNING id",
                city.communities[0], city.units[0])
            async with conn.transaction():
                cohort_id = await create_cohort(conn, source="import", size=1)
                await conn.execute(
                    "INSERT INTO member_registration (member_id, community_id, cohort_id, status)"
                    " VALUES ($1, $2, $3, 'submitted')", member_id, city.communities[0], cohort_id)
                assert await conn.fetchval("SELECT count(*) FROM aggregate_bulk_pending") > 0
                # confirmed: counted for 报到率's quota and its trend (migration 0024, skipped too)
                await conn.execute("UPDATE member_registration SET status = 'confirmed', confirmed_at = now()"
                                   " WHERE member_id = $1", member_id)
                await conn.execute("UPDATE member SET home_community_id = $2 WHERE id = $1",
                                   member_id, city.communities[1])
            assert await conn.fetchval("SELECT count(*) FROM aggregate_bulk_pending") == 0
    finally:
        await app_pool.close()
    async with pool.acquire() as conn:
        moved = await conn.fetchval(
            "SELECT members FROM registration_tally WHERE grouping = 'community' AND group_id = $1",
            city.communities[1])
        trend = await conn.fetchval(
            "SELECT sum(newly) FROM trend_tally WHERE level = 'community' AND area_id = $1", city.communities[1])
    assert (moved, trend) == (1, 1)
    assert await differences(pool) == {}
