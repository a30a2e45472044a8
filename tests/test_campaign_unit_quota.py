"""A campaign's unit quota (at least X % of a unit's members registered): the rules, the reminders
along the ladder on the time-skipping server, progress and the evaluation threshold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from db.pool import Conn, Pool
from domain import campaign_unit_quota as unit_quota
from domain.errors import InvalidInput
from domain.notification_texts import day_label
from schemas.auth import SYSTEM_ACTOR
from schemas.campaign import (
    CampaignCreate,
    CampaignScope,
    LadderStep,
    ProgressLevel,
    Quotas,
    Recipient,
    ReminderPolicy,
)
from schemas.registration import ReminderStep
from services import campaign as campaign_service
from services import evaluation as evaluation_service
from telemetry import metrics
from tests import record_histories
from tests.test_campaign_workflow import launch
from tests.test_registration_seed import City, add_member, import_cohort, seed_city
from tests.waiting import eventually
from workers.registry import all_activities, all_workflows

R = Recipient


def test_behind_and_shortfall_are_exact() -> None:
    """19 of 20 meets 95 % and 94 of 99 does not; the shortfall is what reaching the rate takes."""
    assert not unit_quota.is_behind(members=20, registered=19, rate=0.95)
    assert unit_quota.is_behind(members=99, registered=94, rate=0.95)
    assert unit_quota.shortfall(members=99, registered=94, rate=0.95) == 1   # ceil(94.05) = 95
    assert unit_quota.shortfall(members=5, registered=1, rate=0.6) == 2
    assert unit_quota.shortfall(members=5, registered=4, rate=0.6) == 0
    assert not unit_quota.is_behind(members=0, registered=0, rate=0.95)
    assert (unit_quota.percent_label(0.95), unit_quota.percent_label(0.875)) == ("95%", "87.5%")


def test_unit_quota_needs_a_step_at_or_after_the_deadline_and_agrees_with_the_evaluation_rule() -> None:
    """A ladder that only reminds before the deadline, or an evaluation rule with another unit
    rate, is refused; the campaign's rate becomes the evaluation's unit registration threshold."""
    deadline = datetime(2026, 12, 1, tzinfo=UTC)
    quotas = Quotas(min_unit_registration_rate=0.9)
    early_only = ReminderPolicy(steps=(LadderStep(step=ReminderStep.remind, offset=timedelta(days=-1)),))
    with pytest.raises(InvalidInput):
        unit_quota.validate(quotas=quotas, registration_deadline=deadline, policy=early_only, evaluation_rule={})
    with pytest.raises(InvalidInput):
        unit_quota.validate(quotas=quotas, registration_deadline=deadline, policy=ReminderPolicy(),
                            evaluation_rule={"unit_min_registration_rate": 0.95})
    unit_quota.validate(quotas=quotas, registration_deadline=deadline, policy=ReminderPolicy(),
                        evaluation_rule={"unit_min_registration_rate": 0.9})
    rule = unit_quota.evaluation_rule({"unit_min_completion_rate": 0.5}, quotas.model_dump(mode="json"))
    assert (rule.unit_min_registration_rate, rule.unit_min_completion_rate) == (0.9, 0.5)
    assert unit_quota.evaluation_rule({}, {}).unit_min_registration_rate == 0.95


def ladder() -> ReminderPolicy:
    return ReminderPolicy(steps=(
        LadderStep(step=ReminderStep.remind, offset=timedelta(days=-2), notify=(R.member,)),
        LadderStep(step=ReminderStep.urge, offset=timedelta(0), notify=(R.member, R.unit)),
        LadderStep(step=ReminderStep.supervise, offset=timedelta(days=3), notify=(R.unit, R.community)),
    ), partitions=2, concurrency=2)


async def unit_reminders(conn: Conn, campaign_id: int) -> set[tuple[str, str, int]]:
    rows = await conn.fetch("SELECT step, recipient_kind, recipient_id FROM reminder WHERE ladder = $1",
                            unit_quota.ladder_name(campaign_id))
    return {(r["step"], r["recipient_kind"], r["recipient_id"]) for r in rows}


async def members_of(conn: Conn, city: City, unit_index: int, n: int) -> list[int]:
    return [await add_member(conn, city, unit_index=unit_index) for _ in range(n)]


def _unit_quota_reminders_counted(step: str) -> float:
    """What /metrics says: unit-quota reminders sent so far at `step` (this process's registry)."""
    value = metrics.REGISTRY.get_sample_value(
        "shuangbaodao_reminders_sent_total", {"ladder": "campaign_unit_quota", "step": step})
    return value or 0.0


async def test_units_below_the_rate_are_reminded_at_each_later_step_until_they_catch_up(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str
) -> None:
    """With a 60 % unit quota: at the deadline the unit with 1 of 5 registered and the one with 0 of
    2 are reminded (rate, shortfall, deadline in the text), the one with 2 of 2 is not; the first
    catches up and is not reminded at the next step, the community hears only the one still
    behind; not before the deadline; progress lists the unit behind; evaluation uses 60 %."""
    start = datetime.now(UTC)
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=1, units=3)
        lagging, full, idle = city.units
        lagging_members = await members_of(conn, city, 0, 5)
        full_members = await members_of(conn, city, 1, 2)
        await members_of(conn, city, 2, 2)
        await import_cohort(conn, city, [lagging_members[0], *full_members], at=start)
        view = await campaign_service.create_campaign(conn, SYSTEM_ACTOR, CampaignCreate(
            name="单位报到率 测试", scope=CampaignScope(community_ids=city.communities),
            window_start=start + timedelta(days=1), window_end=start + timedelta(days=30),
            registration_deadline=start + timedelta(days=10), reminder_policy=ladder(),
            quotas=Quotas(min_unit_registration_rate=0.6)), now=start)
    campaign_id = view.id
    counted = {step: _unit_quota_reminders_counted(step) for step in ("urge", "supervise")}
    async with Worker(ts_env.client, task_queue=task_queue, workflows=all_workflows(),
                      activities=all_activities(pool)):
        _, handle = await launch(ts_env, pool, task_queue, campaign_id, start=start)
        async with pool.acquire() as conn:
            await ts_env.fast_forward(handle, timedelta(days=8, hours=1))   # the remind step (deadline-2d)

            async def member_reminded() -> bool:
                return bool(await conn.fetchval(
                    "SELECT count(*) FROM reminder WHERE ladder = $1", f"campaign:{campaign_id}:registration"))
            await eventually(member_reminded)
            assert await unit_reminders(conn, campaign_id) == set()   # before the deadline: members only

            await ts_env.fast_forward(handle, timedelta(days=2))   # the deadline: urge

            async def urged() -> bool:
                return len(await unit_reminders(conn, campaign_id)) == 2
            await eventually(urged)
            assert await unit_reminders(conn, campaign_id) == {("urge", "unit", lagging), ("urge", "unit", idle)}
            body = await conn.fetchval("SELECT body FROM notification WHERE dedupe_key = $1",
                                       unit_quota.dedupe_base(campaign_id, ReminderStep.urge, "unit", lagging))
            assert "不低于 60%" in body and "已报到 1 名" in body and "还需 2 名" in body
            assert day_label(start + timedelta(days=10)) in body

            await import_cohort(conn, city, lagging_members[1:3], at=start)   # 3 of 5: 60 %
            await ts_env.fast_forward(handle, timedelta(days=3))   # supervise

            async def supervised() -> bool:
                return len(await unit_reminders(conn, campaign_id)) == 4
            await eventually(supervised)
            assert await unit_reminders(conn, campaign_id) == {
                ("urge", "unit", lagging), ("urge", "unit", idle), ("supervise", "unit", idle),
                ("supervise", "community", city.communities[0])}
            summary = await conn.fetchval(
                "SELECT body FROM notification WHERE dedupe_key = $1",
                unit_quota.dedupe_base(campaign_id, ReminderStep.supervise, "community", city.communities[0]))
            idle_name = await conn.fetchval("SELECT name FROM reporting_unit WHERE id = $1", idle)
            lagging_name = await conn.fetchval("SELECT name FROM reporting_unit WHERE id = $1", lagging)
            assert "1 个报到单位" in summary and idle_name in summary and lagging_name not in summary
            # /metrics counts the unit reminders by step (the community summary is not a unit reminder)
            assert {step: _unit_quota_reminders_counted(step) - n for step, n in counted.items()} == {
                "urge": 2, "supervise": 1}

            report = await campaign_service.progress(conn, SYSTEM_ACTOR, campaign_id, ProgressLevel.community,
                                                     now=start + timedelta(days=13))
            assert report.unit_quota is not None
            assert (report.unit_quota.units, report.unit_quota.units_behind) == (3, 1)
            assert [(u.unit_id, u.members, u.registered, u.shortfall) for u in report.unit_quota.behind] == [
                (idle, 2, 0, 2)]
            assert report.unit_quota.reminded == {"urge": 2, "supervise": 1}
            # SBD_RECORD_HISTORIES=1 keeps these runs as replay fixtures of the unit-quota code.
            await record_histories.save_from_test(handle, "unit_quota")
            await record_histories.save_from_test(ts_env.client.get_workflow_handle(
                f"campaign-{campaign_id}-wave-registration-0-supervise"), "unit_quota")
            await handle.terminate("test over")

            tx = conn.transaction()   # the run row is not kept
            await tx.start()
            try:
                run_id = await evaluation_service.create_run(conn, period=None, campaign_id=campaign_id)
                rule = await conn.fetchval("SELECT rule FROM evaluation_run WHERE id = $1", run_id)
                assert rule["unit_min_registration_rate"] == 0.6
            finally:
                await tx.rollback()
