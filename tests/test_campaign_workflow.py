"""The campaign workflow on the time-skipping dev server, against the real Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from db.pool import Conn, Pool
from schemas.auth import SYSTEM_ACTOR
from schemas.campaign import (
    CampaignCreate,
    CampaignScope,
    CampaignStatus,
    CampaignView,
    LadderStep,
    Recipient,
    ReminderPolicy,
)
from schemas.campaign_contract import CampaignWorkflowResult
from schemas.registration import ReminderStep
from services import campaign as campaign_service
from tests.test_registration_seed import City, add_member, import_cohort, seed_city
from tests.waiting import eventually
from workers.registry import all_activities, all_workflows

R = Recipient


def short_ladder(partitions: int = 4, concurrency: int = 2) -> ReminderPolicy:
    return ReminderPolicy(
        steps=(
            LadderStep(step=ReminderStep.remind, offset=timedelta(days=-2), notify=(R.member,)),
            LadderStep(step=ReminderStep.urge, offset=timedelta(0), notify=(R.member, R.unit)),
            LadderStep(step=ReminderStep.public_notice, offset=timedelta(days=3),
                       notify=(R.unit, R.community, R.subdistrict)),
        ),
        partitions=partitions, concurrency=concurrency,
    )


async def create_campaign(conn: Conn, city: City, *, start: datetime, policy: ReminderPolicy) -> int:
    view = await campaign_service.create_campaign(conn, SYSTEM_ACTOR, CampaignCreate(
        name="在职党员进社区 测试", scope=CampaignScope(community_ids=city.communities),
        window_start=start + timedelta(days=1), window_end=start + timedelta(days=30),
        registration_deadline=start + timedelta(days=10), reminder_policy=policy,
    ), now=start)
    return view.id


async def campaign_reminders(conn: Conn, campaign_id: int) -> list[tuple[str, str, int]]:
    rows = await conn.fetch(
        """SELECT step, recipient_kind, recipient_id FROM reminder WHERE ladder = $1 ORDER BY id""",
        f"campaign:{campaign_id}:registration")
    return [(r["step"], r["recipient_kind"], r["recipient_id"]) for r in rows]


async def status(conn: Conn, campaign_id: int) -> str:
    value: str = await conn.fetchval("SELECT status FROM campaign WHERE id = $1", campaign_id)
    return value


async def launch(ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, campaign_id: int, *,
                 start: datetime) -> tuple[CampaignView, WorkflowHandle[Any, Any]]:
    """Launch the campaign (time skipping off: the launch must not race the workflow's first timer)
    and the handle of its workflow."""
    with ts_env.with_time_skipping_disabled():
        launched = await campaign_service.launch_campaign(pool, ts_env.client, SYSTEM_ACTOR, campaign_id,
                                                          now=start, task_queue=task_queue)
    return launched, ts_env.client.get_workflow_handle(f"campaign-{campaign_id}")


async def test_campaign_reminds_along_the_ladder_skips_members_who_registered_and_closes(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str
) -> None:
    """Launch → running at window start; at deadline-2d members behind are reminded, one who then
    registers is not urged; the unit is told with its count at urge; public notice goes to unit,
    community and subdistrict only; at window end the campaign closes and evaluation takes over."""
    start = datetime.now(UTC)
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=2)
        lagging = await add_member(conn, city)
        catching_up = await add_member(conn, city, community_index=1)
        registered = await add_member(conn, city)
        await import_cohort(conn, city, [registered], at=start)
        campaign_id = await create_campaign(conn, city, start=start, policy=short_ladder())
        # The unit's WeCom robot: urge and public notice queue an outbox row and kick the
        # dispatcher, which is not running here (the campaign must go on regardless).
        endpoint_id = await conn.fetchval(
            """INSERT INTO channel_endpoint (owner_kind, owner_id, channel, url)
               VALUES ('unit', $1, 'wecom', 'http://127.0.0.1:9/cgi-bin/webhook/send?key=t') RETURNING id""",
            city.units[0])
    try:
        await _run_ladder(ts_env, pool, task_queue, city, campaign_id, start, lagging, catching_up, registered)
    finally:
        async with pool.acquire() as conn:
            await conn.execute("DELETE FROM delivery WHERE endpoint_id = $1", endpoint_id)
            await conn.execute("DELETE FROM channel_endpoint WHERE id = $1", endpoint_id)


async def _run_ladder(ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, city: City, campaign_id: int,
                      start: datetime, lagging: int, catching_up: int, registered: int) -> None:
    async with Worker(ts_env.client, task_queue=task_queue, workflows=all_workflows(),
                      activities=all_activities(pool)):
        launched, handle = await launch(ts_env, pool, task_queue, campaign_id, start=start)
        assert launched.status is CampaignStatus.launched
        async with pool.acquire() as conn:
            await ts_env.fast_forward(handle, timedelta(days=1, hours=1))

            async def running() -> bool:
                return await status(conn, campaign_id) == "running"
            await eventually(running)
            assert await campaign_reminders(conn, campaign_id) == []

            await ts_env.fast_forward(handle, timedelta(days=7))   # day 8+1h: the remind step

            async def reminded() -> bool:
                return len(await campaign_reminders(conn, campaign_id)) == 2
            await eventually(reminded)
            assert set(await campaign_reminders(conn, campaign_id)) == {
                ("remind", "member", lagging), ("remind", "member", catching_up)}
            await import_cohort(conn, city, [catching_up], at=start)

            await ts_env.fast_forward(handle, timedelta(days=2))   # day 10+1h: urge
            async def urged() -> bool:
                return len(await campaign_reminders(conn, campaign_id)) == 4
            await eventually(urged)
            rows = await campaign_reminders(conn, campaign_id)
            assert set(rows[2:]) == {("urge", "member", lagging), ("urge", "unit", city.units[0])}
            unit_body = await conn.fetchval(
                "SELECT body FROM notification WHERE dedupe_key = $1",
                f"campaign:{campaign_id}:registration:0:urge:unit:{city.units[0]}")
            assert "1 名" in unit_body

            await ts_env.fast_forward(handle, timedelta(days=3))   # day 13+1h: public notice
            async def noticed() -> bool:
                return len(await campaign_reminders(conn, campaign_id)) == 7
            await eventually(noticed)
            assert set((await campaign_reminders(conn, campaign_id))[4:]) == {
                ("public_notice", "unit", city.units[0]),
                ("public_notice", "community", city.communities[0]),
                ("public_notice", "subdistrict", city.subdistrict_id)}
            member_notes = await conn.fetchval(
                "SELECT count(*) FROM notification WHERE recipient_kind = 'member' AND recipient_id = ANY($1::bigint[])",
                [lagging, catching_up, registered])
            assert member_notes == 3   # lagging: remind + urge; catching_up: remind only

            await ts_env.fast_forward(handle, timedelta(days=20))
            result = CampaignWorkflowResult.model_validate(await handle.result())
            assert result.final_status is CampaignStatus.closed
            assert result.waves_run == 3
            async def evaluated() -> bool:   # the evaluation workflow took the campaign over
                return await status(conn, campaign_id) == "evaluated"
            await eventually(evaluated, seconds=30)
            kinds = [e.kind for e in await campaign_service.campaign_events(conn, SYSTEM_ACTOR, campaign_id)]
            assert kinds == ["create", "launch", "start", "close", "handover_to_evaluation", "evaluated"]
            # The evaluation graded every member in scope (the one who never registered cannot
            # be 合格) and wrote the unit's feedback workbook, of which the unit was told.
            run_id = await conn.fetchval("SELECT id FROM evaluation_run WHERE campaign_id = $1", campaign_id)
            grades = {r["member_id"]: r["grade"] for r in await conn.fetch(
                "SELECT member_id, grade FROM member_evaluation WHERE run_id = $1", run_id)}
            assert {lagging, catching_up, registered} <= set(grades)
            assert grades[lagging] == "不合格"
            report = await conn.fetchrow(
                "SELECT path, rows, notification_id FROM evaluation_report WHERE run_id = $1 AND unit_id = $2",
                run_id, city.units[0])
            assert report is not None and report["rows"] >= 3 and report["notification_id"] is not None
            robots = await conn.fetch("SELECT idempotency_key FROM delivery WHERE campaign_id = $1 ORDER BY id",
                                      campaign_id)
            assert [r["idempotency_key"].split(":")[4] for r in robots] == ["urge", "public_notice"]
