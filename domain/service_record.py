"""Rules of members' self-logged service records 服务记录: what may be logged, how many hours it is,
what its approval earns, and when an unanswered one nudges whom. Pure: no I/O, no clock.

Points: the tasks' rule (domain/points.py) with the same defaults a task gets (10 per hour, the
category's bonus, a cap of 100 per activity) and no rating bonus, since no resident rated it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from domain.errors import InvalidInput
from domain.local_time import LOCAL_ZONE
from domain.notification_texts import Text
from domain.points import compute_points, service_hours
from domain.reminder_ladder import STEP_LABELS
from schemas.dispatch import PointsBreakdown, PointsRule
from schemas.registration import ReminderStep
from schemas.service_record import ServiceRecordPolicy

# Records are logged in local time (domain.local_time): a date and two clock times on that day.
MAX_HOURS = 12.0
LADDER = "service_record"

STATUS_LABELS = {"pending": "待核实", "approved": "已核实", "rejected": "已驳回"}


@dataclass(frozen=True)
class RecordWindow:
    started_at: datetime
    ended_at: datetime
    hours: float


def record_window(service_date: date, start: time, end: time, *, now: datetime) -> RecordWindow:
    """The record's start, end and hours, or InvalidInput with what to fix (in Chinese)."""
    started_at = datetime.combine(service_date, start.replace(tzinfo=None), tzinfo=LOCAL_ZONE)
    ended_at = datetime.combine(service_date, end.replace(tzinfo=None), tzinfo=LOCAL_ZONE)
    today = now.astimezone(LOCAL_ZONE).date()
    if service_date > today:
        raise InvalidInput(f"服务日期 {service_date.isoformat()} 在未来: 只能登记已完成的服务")
    if ended_at <= started_at:
        raise InvalidInput("结束时间须晚于开始时间 (跨夜的服务请分两天登记)")
    if ended_at > now:
        raise InvalidInput("服务尚未结束: 请在结束后再登记")
    span = (ended_at - started_at).total_seconds() / 3600
    if span > MAX_HOURS:
        raise InvalidInput(f"单条服务记录不能超过 {MAX_HOURS:g} 小时 (本条 {span:.2f} 小时)")
    hours = service_hours(started_at, ended_at)
    if hours <= 0:
        raise InvalidInput("服务时长不足一刻钟, 无法登记")
    return RecordWindow(started_at, ended_at, hours)


def overlap_message(kind: str, ref: int, started_at: datetime, ended_at: datetime) -> str:
    """Why a record was refused: it overlaps another record or a task's check-in/out."""
    span = f"{_clock(started_at)}-{_clock(ended_at)}"
    if kind == "record":
        return f"与您的服务记录 #{ref} ({span}) 时间重叠"
    return f"与您在任务 #{ref} 的签到签退时间 ({span}) 重叠"


def service_day(at: datetime) -> str:
    return at.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d")


def _clock(at: datetime) -> str:
    return at.astimezone(LOCAL_ZONE).strftime("%m-%d %H:%M")


def record_rule(category_bonus: float) -> PointsRule:
    """A record earns as a task with the default rule would; it has no rating to add a bonus."""
    return PointsRule(category_bonus=category_bonus, rating_bonus=0.0)


def record_points(category_bonus: float, *, hours: float) -> PointsBreakdown:
    return compute_points(record_rule(category_bonus), hours=hours, rating=None)


def service_key(record_id: int) -> str:
    """The ledger's uniqueness key for a record: credited once, ever (a task's is task:...)."""
    return f"record:{record_id}"


@dataclass(frozen=True)
class ReminderDue:
    step: ReminderStep
    recipient_kind: str        # community / subdistrict
    after: timedelta           # since the record was logged


def reminder_schedule(policy: ServiceRecordPolicy) -> list[ReminderDue]:
    """The community after N days (提醒), then its subdistrict after 2N days (催办)."""
    return [ReminderDue(ReminderStep.remind, "community", policy.remind_after),
            ReminderDue(ReminderStep.urge, "subdistrict", policy.remind_after * 2)]


def pending_reminder_text(step: ReminderStep, record_id: int, hours: float, service_day: str) -> Text:
    """To the community (提醒) or its subdistrict (催办): a logged service awaits verification."""
    label = STEP_LABELS[step]
    where = "您社区" if step is ReminderStep.remind else "您街道所辖社区"
    return Text(
        category="service_record_pending",
        title=f"【{label}】党员服务记录待核实",
        body=(f"{where}有一条党员自主登记的服务记录 (#{record_id}, {service_day}, {hours:g} 小时) "
              f"尚未核实, 请尽快核实或驳回。"),
    )
