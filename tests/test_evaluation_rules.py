"""Pure evaluation rules: periods in Beijing time, quota scaling, grades, exact eligibility,
stars by bands and SQL-style ranks."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain import evaluation as ev
from domain.local_time import LOCAL_ZONE
from schemas.evaluation import EvaluationRule, Grade, PeriodKind


def test_periods_parse_and_the_previous_period_is_in_beijing_time() -> None:
    """2026-Q4 is Oct 1 – Jan 1 Beijing time; a schedule firing on Dec 1 02:00 (Beijing) evaluates
    November, though it is still Nov 30 in UTC."""
    q4 = ev.parse_period("2026-Q4")
    assert (q4.kind, q4.start, q4.end) == (PeriodKind.quarter, datetime(2026, 10, 1, tzinfo=LOCAL_ZONE),
                                           datetime(2027, 1, 1, tzinfo=LOCAL_ZONE))
    assert ev.parse_period("2026-11").label == "2026-11" and ev.parse_period("2026").kind == PeriodKind.year
    fired = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)   # 2026-12-01 02:00 in Beijing
    assert ev.previous_period(PeriodKind.month, fired).label == "2026-11"
    assert ev.previous_period(PeriodKind.quarter, datetime(2027, 1, 1, 3, tzinfo=LOCAL_ZONE)).label == "2026-Q4"
    assert ev.previous_period(PeriodKind.year, datetime(2027, 1, 1, 4, tzinfo=LOCAL_ZONE)).label == "2026"
    for bad in ("2026-13", "2026-Q5", "abc"):
        with pytest.raises(ValueError):
            ev.parse_period(bad)


def test_quota_scales_with_the_period_length() -> None:
    """Monthly quotas triple for a quarter and multiply by twelve for a year."""
    rule = EvaluationRule(min_services_per_month=1, min_hours_per_month=4, excellent_score_per_month=30)
    q = ev.parse_period("2026-Q3")
    t = ev.thresholds(rule, q.start, q.end)
    assert (t.months, t.quota_services, t.quota_hours, t.excellent_score) == (3, Decimal(3), Decimal(12), Decimal(90))
    y = ev.parse_period("2026")
    assert ev.thresholds(rule, y.start, y.end).quota_hours == 48


def test_member_grades_at_their_boundaries() -> None:
    """优秀 needs the quota and the excellent score; a never-registered member is 不合格 even when
    over every threshold; half the quota is 基本合格."""
    q = ev.parse_period("2026-Q3")
    t = ev.thresholds(EvaluationRule(), q.start, q.end)   # quota 3 services / 6 h, excellent 90

    def grade(registered: bool, services: int, hours: str, score: str) -> Grade:
        return ev.member_grade(t, registered=registered, services=services, hours=Decimal(hours),
                               score=Decimal(score))

    assert grade(True, 3, "6", "90") == Grade.excellent
    assert grade(True, 3, "6", "89.99") == Grade.qualified
    assert grade(True, 2, "6", "200") == Grade.basic
    assert grade(True, 1, "6", "200") == Grade.unqualified     # 1 < 1.5 services
    assert grade(False, 30, "60", "900") == Grade.unqualified


def test_unit_eligibility_is_exact_and_stars_follow_bands() -> None:
    """94.9 % loses eligibility, 95 % keeps it; stars count the bands reached; ranks tie like SQL."""
    q = ev.parse_period("2026-Q3")
    t = ev.thresholds(EvaluationRule(), q.start, q.end)
    assert not ev.unit_eligible(t, members=1000, registered=949, quota_met_count=1000)
    assert ev.unit_eligible(t, members=1000, registered=950, quota_met_count=950)
    assert ev.unit_grade(t, members=20, registered=19, quota_met_count=16, services=100) == Grade.basic
    assert [ev.stars(t, Decimal(v)) for v in ("0.5999", "0.6", "0.85", "0.95", "1")] == [1, 2, 3, 5, 5]
    assert ev.stars(t, None) is None
    assert ev.ranks([(Decimal("0.9"),), None, (Decimal("0.95"),), (Decimal("0.9"),)]) == [2, 4, 1, 2]
    assert ev.composite([Decimal("0.6667"), None, Decimal("1")]) == Decimal("0.8334")
