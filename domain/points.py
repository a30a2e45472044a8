"""Points by rule 积分: per hour and category, a rating bonus, a cap per activity.

Deterministic and explainable: the function returns every part, and the ledger stores them, so
a member (and their employer unit) can see line by line how a credit was computed.
"""

from __future__ import annotations

from datetime import datetime

from schemas.dispatch import PointsBreakdown, PointsRule

# Stars above this earn the rating bonus; a plain 3 is a service done, not a service praised.
RATING_BONUS_FROM = 3


def service_hours(checked_in_at: datetime, checked_out_at: datetime) -> float:
    """Hours on site, to the quarter hour (rounded down), never negative."""
    seconds = max(0.0, (checked_out_at - checked_in_at).total_seconds())
    return int(seconds // 900) / 4


def compute_points(rule: PointsRule, *, hours: float, rating: int | None) -> PointsBreakdown:
    base = round(rule.points_per_hour * hours, 2)
    stars_above = max(0, (rating or 0) - RATING_BONUS_FROM)
    rating_bonus = round(rule.rating_bonus * stars_above, 2)
    uncapped = round(base + rule.category_bonus + rating_bonus, 2)
    return PointsBreakdown(
        hours=hours,
        base=base,
        category_bonus=rule.category_bonus,
        rating_bonus=rating_bonus,
        uncapped=uncapped,
        cap=rule.cap,
        total=min(uncapped, rule.cap),
    )


def service_key(task_id: int, member_id: int) -> str:
    """The ledger's uniqueness key: one credit per member per task, ever."""
    return f"task:{task_id}:member:{member_id}"


def line_reason(*, task_title: str | None, record_category: str | None, hours: float | None,
                campaign_name: str | None, points: float) -> str:
    """What a ledger line was for, in the member's words: the task, or the service record, and
    the campaign it counted in."""
    if task_title is not None:
        reason = f"任务「{task_title}」"
    elif record_category is not None:
        reason = f"服务记录: {record_category}"
    else:
        reason = "积分兑换" if points < 0 else "其他"
    if hours is not None and points >= 0:
        reason += f" ({hours:g} 小时)"
    if campaign_name is not None:
        reason += f" · 活动「{campaign_name}」"
    return reason
