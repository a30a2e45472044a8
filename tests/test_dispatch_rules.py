"""Pure dispatch rules and the ledger's exactly-once credit: points, ladder, states, windows, duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from temporalio.testing import ActivityEnvironment

from activities.dispatch import DispatchActivities
from db.pool import Pool
from domain import task_rules
from domain.errors import Conflict
from domain.escalation import LADDER, next_level
from domain.need_rules import is_likely_duplicate, tier_deadline
from domain.points import compute_points, service_hours
from schemas.auth import Actor, Role, ScopeKind
from schemas.dispatch import LedgerFilter, PointsRule, TaskStatus, Urgency
from schemas.matching import EscalationLevel
from schemas.task_contract import AwardPointsInput
from services import dispatch
from tests.test_dispatch_workflow import add_member, make_city, make_task


def test_points_are_explained_part_by_part_and_capped() -> None:
    """Points = hours × rate + category bonus + bonus per star above 3, never above the cap."""
    rule = PointsRule(points_per_hour=10, category_bonus=2, rating_bonus=2, cap=30)
    parts = compute_points(rule, hours=2.5, rating=5)
    assert (parts.base, parts.category_bonus, parts.rating_bonus, parts.uncapped, parts.total) == (
        25.0, 2.0, 4.0, 31.0, 30)
    assert compute_points(rule, hours=1, rating=3).total == 12.0


def test_service_hours_round_down_to_the_quarter_hour() -> None:
    """Hours on site come from the two scans, in quarter hours, never negative."""
    t0 = datetime(2026, 5, 1, 9, tzinfo=UTC)
    assert service_hours(t0, t0 + timedelta(minutes=134)) == 2.0
    assert service_hours(t0, t0 + timedelta(minutes=135)) == 2.25
    assert service_hours(t0, t0 - timedelta(minutes=5)) == 0.0


def test_the_ladder_climbs_five_levels_then_stops() -> None:
    """grid → adjacent → community → subdistrict → district, and nothing above the district."""
    climbed = [LADDER[0]]
    while (nxt := next_level(climbed[-1])) is not None:
        climbed.append(nxt)
    assert climbed == [EscalationLevel.grid, EscalationLevel.adjacent, EscalationLevel.community,
                       EscalationLevel.subdistrict, EscalationLevel.district]


def test_a_closed_task_cannot_be_reopened() -> None:
    """Moves the state machine does not allow are refused with both states named in Chinese."""
    task_rules.check_move(TaskStatus.done, TaskStatus.follow_up)
    with pytest.raises(Conflict) as info:
        task_rules.check_move(TaskStatus.closed, TaskStatus.offering)
    assert "已销号" in info.value.message


def test_duplicate_needs_are_same_resident_category_grid_within_the_window() -> None:
    """Same phone, category and grid within 7 days is a likely duplicate; a different phone is not."""
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    kw = {"same_category": True, "same_grid": True}
    assert is_likely_duplicate(phone="13800000000", other_phone="13800000000", placed_at=t0,
                               other_placed_at=t0 - timedelta(days=3), **kw)
    assert not is_likely_duplicate(phone="13800000000", other_phone="13900000000", placed_at=t0,
                                   other_placed_at=t0, **kw)
    assert not is_likely_duplicate(phone="13800000000", other_phone="13800000000", placed_at=t0,
                                   other_placed_at=t0 - timedelta(days=8), **kw)
    assert tier_deadline(Urgency.red, placed_at=t0, red_hours=2, yellow_hours=24, blue_hours=72) == \
        t0 + timedelta(hours=2)


async def test_award_activity_retried_credits_once(pool: Pool) -> None:
    """Running the award activity twice (a retry) leaves one ledger row per service, not two."""
    city = await make_city(pool)
    member = await add_member(pool, city, grid_id=city.grid_id)
    task_id, start, _ = await make_task(pool, city)
    async with pool.acquire() as conn:
        await conn.execute(
            """
            INSERT INTO assignment (task_id, member_id, source, status, accepted_at, checked_in_at,
                                    checked_out_at, hours)
            VALUES ($1, $2, 'offer', 'checked_out', $3::timestamptz, $3::timestamptz, $3::timestamptz + interval '2 hours', 2)
            """,
            task_id, member, start,
        )
    acts = DispatchActivities(pool)
    env = ActivityEnvironment()
    data = AwardPointsInput(task_id=task_id, actor="test", as_of=start + timedelta(days=1))
    first = await env.run(acts.award_points, data)
    again = await env.run(acts.award_points, data)
    assert (first.credited, again.credited, again.already_credited) == (1, 0, 1)
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT points FROM evaluation_points WHERE task_id = $1", task_id)
        assert len(rows) == 1 and float(rows[0]["points"]) == 22.0   # 2 h × 10 + category 2, no rating
        with pytest.raises(asyncpg.RaiseError):
            await conn.execute("UPDATE evaluation_points SET points = 0 WHERE task_id = $1", task_id)


async def test_ledger_filters_overdue_and_parked_within_scope(pool: Pool) -> None:
    """The ledger shows a parked task under parked, an unfinished task past its window under
    overdue, and nothing of another community to that community's staff."""
    city = await make_city(pool)
    parked_id, _, _ = await make_task(pool, city)
    late_id, _, end = await make_task(pool, city, start_in=timedelta(hours=-5))
    async with pool.acquire() as conn:
        await conn.execute("UPDATE task SET status = 'parked', parked_reason = '无人接单' WHERE id = $1", parked_id)
        await conn.execute("UPDATE task SET status = 'in_progress' WHERE id = $1", late_id)
        now = datetime.now(UTC)
        mine = Actor(role=Role.community_staff, scope_kind=ScopeKind.community, scope_id=city.community_id,
                     label="甲")
        other = Actor(role=Role.community_staff, scope_kind=ScopeKind.community,
                      scope_id=city.other_community_id, label="乙")
        grid = LedgerFilter(grid_id=city.grid_id)
        parked = await dispatch.ledger(conn, mine, grid.model_copy(update={"parked": True}), now=now)
        assert [r.task_id for r in parked] == [parked_id] and parked[0].parked_reason == "无人接单"
        overdue = await dispatch.ledger(conn, mine, grid.model_copy(update={"overdue": True}), now=now)
        assert [r.task_id for r in overdue] == [late_id] and end < now
        assert await dispatch.ledger(conn, other, grid, now=now) == []


def test_offer_invitation_reads_the_deadline_on_the_beijing_clock() -> None:
    """An offer expiring at 01:30 UTC tells the member 09:30, the time on their own clock."""
    from domain.notification_texts import offer_invitation

    text = offer_invitation("陪老人就医", None, datetime(2026, 12, 4, 1, 30, tzinfo=UTC))
    assert "12-04 09:30 前接单或婉拒" in text.body and "地点见详情" in text.body
    assert text.category == "dispatch_offer"
