"""Quota waves: who is behind their service quota at the step, and who is told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.testing import ActivityEnvironment

from activities.campaign import CampaignActivities
from db import campaign as campaign_db
from db.pool import Conn, Pool
from schemas.auth import SYSTEM_ACTOR
from schemas.campaign import CampaignCreate, CampaignScope, DeadlineKind, QuotaPeriod, Quotas, Recipient
from schemas.campaign_contract import FinishWaveInput, PartitionInput, PlanWaveInput, ReminderWaveInput
from schemas.registration import ReminderStep
from services import campaign as campaign_service
from tests.test_registration_seed import City, add_member, import_cohort, seed_city


async def serve(conn: Conn, city: City, member_id: int, *, at: datetime, hours: float) -> None:
    """A checked-out service of `member_id` at `at` (a task in the member's community)."""
    community_id = city.communities[0]
    task_id = await conn.fetchval(
        """INSERT INTO task (community_id, grid_id, title, category, mode, headcount, window_start, window_end,
                             qr_token_hash, created_by, status)
           VALUES ($1, $2, '清扫楼道', '环境整治', 'claim', 1, $3::timestamptz, $3::timestamptz + interval '1 day', 'x', 'test', 'done')
           RETURNING id""", community_id, city.grids[community_id], at - timedelta(hours=3))
    await conn.execute(
        """INSERT INTO assignment (task_id, member_id, source, status, accepted_at, checked_in_at,
                                   checked_out_at, hours)
           VALUES ($1, $2, 'claim', 'checked_out', $3, $3, $3, $4)""", task_id, member_id, at, hours)


async def log_service(conn: Conn, city: City, member_id: int, *, at: datetime, hours: float, status: str) -> None:
    """A self-logged service record 服务记录 of `member_id` ending at `at`, decided `status`."""
    await conn.execute(
        """INSERT INTO service_record (member_id, community_id, category, started_at, ended_at, hours, status,
                                       reject_reason, decided_by, decided_at, created_by, created_at)
           VALUES ($1, $2, '环境整治', $3::timestamptz - make_interval(secs => $4 * 3600), $3, $4, $5,
                   CASE WHEN $5 = 'rejected' THEN '不实' END, 'test', $3, 'test', $3)""",
        member_id, city.communities[0], at, hours, status)


async def test_quota_wave_reminds_members_under_quota_and_tells_their_unit_and_community(pool: Pool) -> None:
    """With a quota of 1 service and 2 hours per month: a member with one 3-hour service this
    period is not reminded, nor one whose approved service record 服务记录 covers it; one with a
    1-hour service, one whose only service was before the period, one whose only record was
    rejected and one who never served are; a paused member is exempt; the unit and community
    hear the count 4."""
    now = datetime.now(UTC)
    period_start = now - timedelta(days=20)
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=1)
        met, short, stale, idle, logged, refused, paused = [await add_member(conn, city) for _ in range(7)]
        _, registrations = await import_cohort(conn, city, [met, short, stale, idle, logged, refused, paused], at=now)
        await conn.execute("UPDATE member_registration SET status = 'active' WHERE id = ANY($1::bigint[])",
                           registrations[:6])
        await conn.execute("UPDATE member_registration SET status = 'paused' WHERE id = $1", registrations[6])
        await log_service(conn, city, logged, at=now - timedelta(days=3), hours=2.5, status="approved")
        await log_service(conn, city, refused, at=now - timedelta(days=3), hours=4, status="rejected")
        await serve(conn, city, met, at=now - timedelta(days=5), hours=3)
        await serve(conn, city, short, at=now - timedelta(days=5), hours=1)
        await serve(conn, city, stale, at=now - timedelta(days=40), hours=5)
        view = await campaign_service.create_campaign(conn, SYSTEM_ACTOR, CampaignCreate(
            name="社区奉献日", kind="共产党员社区奉献日", scope=CampaignScope(community_ids=city.communities),
            window_start=period_start, window_end=now + timedelta(days=60),
            quotas=Quotas(period=QuotaPeriod.month, min_services=1, min_hours=2)), now=now)
        await campaign_db.resolve_scope(conn, campaign_id=view.id)
    wave = ReminderWaveInput(
        campaign_id=view.id, deadline_kind=DeadlineKind.quota, period=0, period_start=period_start,
        period_end=now, step=ReminderStep.supervise,
        notify=(Recipient.member, Recipient.unit, Recipient.community), as_of=now, partitions=3)
    activities = CampaignActivities(pool)
    plan = await ActivityEnvironment().run(activities.plan_wave, PlanWaveInput(wave=wave, at=now))
    for bounds in plan.pending:
        await ActivityEnvironment().run(activities.remind_partition,
                                        PartitionInput(wave_id=plan.wave_id, wave=wave, bounds=bounds, as_of=now))
    totals = await ActivityEnvironment().run(activities.finish_wave,
                                             FinishWaveInput(wave_id=plan.wave_id, wave=wave, at=now))
    assert (totals.behind, totals.reminded, totals.groups_reminded) == (4, 4, 2)
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT recipient_kind, recipient_id, cycle, step FROM reminder WHERE ladder = $1",
            f"campaign:{view.id}:quota")
        assert {(r["recipient_kind"], r["recipient_id"]) for r in rows} == {
            ("member", short), ("member", stale), ("member", idle), ("member", refused),
            ("unit", city.units[0]), ("community", city.communities[0])}
        assert {(r["cycle"], r["step"]) for r in rows} == {(0, "supervise")}
        body = await conn.fetchval("SELECT body FROM notification WHERE dedupe_key = $1",
                                   f"campaign:{view.id}:quota:0:supervise:community:{city.communities[0]}")
        assert "4 名" in body and "服务指标未完成" in body
