"""Pure campaign rules: lifecycle refusals, quota periods, shortfalls, deadlines and partitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from activities.campaign import partition_bounds
from domain import campaign_rules as rules
from domain.errors import Conflict, InvalidInput
from domain.local_time import LOCAL_ZONE
from domain.quota import periods, shortfall
from schemas.campaign import (
    CampaignCreate,
    CampaignStatus,
    DeadlineKind,
    LadderStep,
    QuotaPeriod,
    Quotas,
    ReminderPolicy,
)
from schemas.registration import ReminderStep

S = CampaignStatus


def test_lifecycle_allows_the_documented_path_and_refuses_the_rest_in_chinese() -> None:
    """draft→launch, launched→start, running→pause/close, paused→resume, closed→evaluate are
    allowed; closing a draft or resuming a running campaign is refused with a Chinese message."""
    for action, status in [("launch", S.draft), ("start", S.launched), ("pause", S.running),
                           ("resume", S.paused), ("close", S.running), ("close", S.paused),
                           ("evaluate", S.closed), ("cancel", S.draft), ("extend", S.paused)]:
        rules.check(action, status)
    with pytest.raises(Conflict, match="草稿.*不能结束"):
        rules.check("close", S.draft)
    with pytest.raises(Conflict, match="进行中.*不能恢复"):
        rules.check("resume", S.running)
    with pytest.raises(Conflict, match="已撤销"):
        rules.check("cancel", S.cancelled)


def test_monthly_periods_follow_the_beijing_calendar_and_are_clipped_to_the_window() -> None:
    """A window from 15 March to 10 May (Beijing time) has three monthly periods, the first and
    last partial; quarterly, it has two."""
    start = datetime(2026, 3, 15, tzinfo=LOCAL_ZONE)
    end = datetime(2026, 5, 10, tzinfo=LOCAL_ZONE)
    months = periods(start, end, QuotaPeriod.month)
    assert [(p.start, p.end) for p in months] == [
        (start, datetime(2026, 4, 1, tzinfo=LOCAL_ZONE)),
        (datetime(2026, 4, 1, tzinfo=LOCAL_ZONE), datetime(2026, 5, 1, tzinfo=LOCAL_ZONE)),
        (datetime(2026, 5, 1, tzinfo=LOCAL_ZONE), end)]
    quarters = periods(start, end, QuotaPeriod.quarter)
    assert [p.end for p in quarters] == [datetime(2026, 4, 1, tzinfo=LOCAL_ZONE), end]
    december = periods(datetime(2026, 12, 20, tzinfo=LOCAL_ZONE), datetime(2027, 1, 5, tzinfo=LOCAL_ZONE), QuotaPeriod.month)
    assert december[0].end == datetime(2027, 1, 1, tzinfo=LOCAL_ZONE)


def test_shortfall_counts_missing_services_and_hours() -> None:
    """A member with 1 of 2 services and 3 of 4 hours owes one service and one hour; meeting both
    means not behind; no quota set means never behind."""
    quotas = Quotas(min_services=2, min_hours=4)
    owed = shortfall(quotas, services=1, hours=3.0)
    assert (owed.services, owed.hours, owed.behind) == (1, 1.0, True)
    assert not shortfall(quotas, services=2, hours=4.0).behind
    assert not shortfall(Quotas(), services=0, hours=0).behind


def test_deadlines_put_registration_and_quota_period_ends_in_time_order() -> None:
    """With a registration deadline and monthly quotas, the deadlines are the quota period ends
    and the registration deadline, sorted by time."""
    start = datetime(2026, 3, 1, tzinfo=LOCAL_ZONE)
    found = rules.deadlines(window_start=start, window_end=datetime(2026, 5, 1, tzinfo=LOCAL_ZONE),
                            registration_deadline=datetime(2026, 3, 20, tzinfo=LOCAL_ZONE),
                            quotas=Quotas(period=QuotaPeriod.month, min_services=1))
    assert [(d.kind, d.period) for d in found] == [
        (DeadlineKind.registration, 0), (DeadlineKind.quota, 0), (DeadlineKind.quota, 1)]


def test_ladder_policy_must_be_ordered_and_create_needs_something_to_remind() -> None:
    """Ladder steps out of time order are rejected; a campaign with neither a registration
    deadline nor a service quota is refused; a deadline outside the window is refused."""
    with pytest.raises(ValueError, match="按时间先后"):
        ReminderPolicy(steps=(LadderStep(step=ReminderStep.urge, offset=timedelta(days=1)),
                              LadderStep(step=ReminderStep.remind, offset=timedelta(0))))
    now = datetime.now(UTC)
    with pytest.raises(InvalidInput, match="报到截止时间或服务指标"):
        rules.validate_create(CampaignCreate(name="x", window_start=now, window_end=now + timedelta(days=1)),
                             now=now)
    with pytest.raises(InvalidInput, match="活动时间范围内"):
        rules.validate_create(CampaignCreate(name="x", window_start=now, window_end=now + timedelta(days=1),
                                             registration_deadline=now + timedelta(days=2)), now=now)


def test_extend_refuses_shortening() -> None:
    """An extension may move the end and the registration deadline later, never earlier."""
    now = datetime.now(UTC)
    end, deadline = rules.validate_extend(window_end=now + timedelta(days=5), registration_deadline=now,
                                          new_window_end=now + timedelta(days=9), new_registration_deadline=None,
                                          now=now)
    assert (end, deadline) == (now + timedelta(days=9), now)
    with pytest.raises(InvalidInput, match="不能提前"):
        rules.validate_extend(window_end=now + timedelta(days=5), registration_deadline=None,
                              new_window_end=now + timedelta(days=4), new_registration_deadline=None, now=now)


def test_dates_further_than_two_years_ahead_are_refused() -> None:
    """A window end of 9999-12-31 (or anything beyond two years from now) is refused, in Chinese,
    when a campaign is created and when it is extended."""
    now = datetime.now(UTC)
    far = datetime(9999, 12, 31, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="两年之内"):
        # (the request model refuses it already: schemas.moments; the rule holds behind it too)
        rules.validate_create(CampaignCreate.model_construct(name="x", window_start=now, window_end=far,
                                                             registration_deadline=now + timedelta(days=2)),
                              now=now)
    with pytest.raises(InvalidInput, match="新的结束时间最晚可设在两年之内"):
        rules.validate_extend(window_end=now + timedelta(days=5), registration_deadline=None,
                              new_window_end=far, new_registration_deadline=None, now=now)
    end, _ = rules.validate_extend(window_end=now + timedelta(days=5), registration_deadline=None,
                                   new_window_end=now + timedelta(days=700), new_registration_deadline=None,
                                   now=now)
    assert end == now + timedelta(days=700)


def test_partitions_cover_the_id_range_exactly_once() -> None:
    """Partition bounds are contiguous, disjoint and cover [lo, hi]; tiny ranges get fewer partitions."""
    parts = partition_bounds(17, 1_000_016, 128)
    assert len(parts) == 128
    assert parts[0].lo == 17 and parts[-1].hi == 1_000_016
    assert all(a.hi + 1 == b.lo for a, b in zip(parts, parts[1:], strict=False))
    assert [(p.lo, p.hi) for p in partition_bounds(5, 7, 128)] == [(5, 5), (6, 6), (7, 7)]
