"""A campaign's lifecycle and timeline as pure rules, and the Chinese texts of its reminders.

Lifecycle: draft → launched → running → closed → evaluated; pause/resume while launched or
running; extend while not yet closed; cancel anything not yet closed. Refusals are Conflicts with
a Chinese message a person can act on. The timeline (deadlines and ladder steps) is computed here
so the workflow only sleeps and calls activities.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.errors import Conflict, InvalidInput
from domain.notification_texts import COUNT, Text, day_label
from domain.quota import periods
from domain.reminder_ladder import STEP_LABELS
from schemas.campaign import (
    CampaignCreate,
    CampaignStatus,
    DeadlineKind,
    LadderStep,
    Quotas,
    Recipient,
    ReminderPolicy,
)
from schemas.registration import ReminderStep

S = CampaignStatus

STATUS_LABELS: dict[CampaignStatus, str] = {
    S.draft: "草稿", S.launched: "已发布", S.running: "进行中", S.paused: "已暂停",
    S.closed: "已结束", S.evaluated: "已考核", S.cancelled: "已撤销",
}

# action -> statuses it may start from
_ALLOWED: dict[str, frozenset[CampaignStatus]] = {
    "launch": frozenset({S.draft}),
    "start": frozenset({S.launched}),
    "pause": frozenset({S.launched, S.running}),
    "resume": frozenset({S.paused}),
    "extend": frozenset({S.launched, S.running, S.paused}),
    "cancel": frozenset({S.draft, S.launched, S.running, S.paused}),
    "close": frozenset({S.running, S.paused}),
    "evaluate": frozenset({S.closed}),
    "mobilise": frozenset({S.launched, S.running}),
}
_ACTION_LABELS = {
    "launch": "发布", "start": "开始", "pause": "暂停", "resume": "恢复", "extend": "延期",
    "cancel": "撤销", "close": "结束", "evaluate": "考核", "mobilise": "平急转换",
}


def allowed_from(action: str) -> list[CampaignStatus]:
    return sorted(_ALLOWED[action])


def check(action: str, status: CampaignStatus) -> None:
    """Raise Conflict when `action` is not allowed in `status`."""
    if status not in _ALLOWED[action]:
        raise Conflict(f"活动当前状态为「{STATUS_LABELS[status]}」, 不能{_ACTION_LABELS[action]}")


def resumed_status(*, now: datetime, window_start: datetime) -> CampaignStatus:
    """A resumed campaign is running once its window has started, otherwise launched."""
    return S.running if now >= window_start else S.launched


# How far ahead a campaign's window may reach: a person typing 9999-12-31 meant something else
# (and every deadline and period up to it would be planned).
MAX_HORIZON = timedelta(days=2 * 366)


def check_horizon(when: datetime, *, now: datetime, what: str) -> None:
    """Refuses a time further ahead than MAX_HORIZON from now."""
    latest = now + MAX_HORIZON
    if when > latest:
        raise InvalidInput(f"{what}最晚可设在两年之内 ({latest.date().isoformat()} 之前): 请核对后重新填写")


def validate_create(data: CampaignCreate, *, now: datetime) -> None:
    if data.window_end <= data.window_start:
        raise InvalidInput("活动结束时间须晚于开始时间")
    check_horizon(data.window_end, now=now, what="活动结束时间")
    if data.registration_deadline is not None and not (
        data.window_start <= data.registration_deadline <= data.window_end
    ):
        raise InvalidInput("报到截止时间须在活动时间范围内")
    if data.registration_deadline is None and not data.quotas.has_service_quota:
        raise InvalidInput("请设置报到截止时间或服务指标 (否则没有可督促的期限)")


def validate_extend(
    *, window_end: datetime, registration_deadline: datetime | None,
    new_window_end: datetime | None, new_registration_deadline: datetime | None, now: datetime,
) -> tuple[datetime, datetime | None]:
    """The window end and registration deadline after an extension; refuses shortening."""
    end = new_window_end or window_end
    deadline = new_registration_deadline or registration_deadline
    if new_window_end is None and new_registration_deadline is None:
        raise InvalidInput("请指定新的结束时间或报到截止时间")
    if end < window_end:
        raise InvalidInput("延期不能提前结束时间")
    if new_registration_deadline is not None and registration_deadline is not None \
            and new_registration_deadline < registration_deadline:
        raise InvalidInput("延期不能提前报到截止时间")
    if end <= now:
        raise InvalidInput("新的结束时间须晚于当前时间")
    check_horizon(end, now=now, what="新的结束时间")
    if deadline is not None and deadline > end:
        raise InvalidInput("报到截止时间须早于活动结束时间")
    return end, deadline


# --- timeline -------------------------------------------------------------------------------------


def ladder_name(campaign_id: int, kind: DeadlineKind) -> str:
    """The `reminder.ladder` of a campaign's reminders of one deadline kind."""
    return f"campaign:{campaign_id}:{kind.value}"


@dataclass(frozen=True)
class Deadline:
    kind: DeadlineKind
    period: int
    period_start: datetime
    period_end: datetime   # the deadline itself

    @property
    def at(self) -> datetime:
        return self.period_end


def deadlines(*, window_start: datetime, window_end: datetime,
              registration_deadline: datetime | None, quotas: Quotas) -> list[Deadline]:
    """Every deadline of a campaign in time order: the registration deadline, then (if service
    quotas are set) the end of each quota period."""
    found: list[Deadline] = []
    if registration_deadline is not None:
        found.append(Deadline(DeadlineKind.registration, 0, window_start, registration_deadline))
    if quotas.has_service_quota:
        found.extend(Deadline(DeadlineKind.quota, p.index, p.start, p.end)
                     for p in periods(window_start, window_end, quotas.period))
    found.sort(key=lambda d: (d.at, d.kind.value))
    return found


@dataclass(frozen=True)
class DueLadderStep:
    step: LadderStep
    due_at: datetime


def ladder_schedule(deadline: Deadline, policy: ReminderPolicy) -> list[DueLadderStep]:
    return [DueLadderStep(s, deadline.at + s.offset) for s in policy.steps]


# --- texts ----------------------------------------------------------------------------------------
# Text, COUNT and day_label are shared with the registration reminders (domain/notification_texts.py).


def member_text(kind: DeadlineKind, step: ReminderStep, campaign_name: str, deadline: datetime) -> Text:
    label = STEP_LABELS[step]
    if kind is DeadlineKind.registration:
        return Text("campaign_registration", f"【{label}】「{campaign_name}」请到居住社区报到",
                    f"「{campaign_name}」报到截止时间为 {day_label(deadline)}, 您尚未向居住社区报到, "
                    "请尽快通过系统或到社区党群服务中心完成报到。")
    return Text("campaign_quota", f"【{label}】「{campaign_name}」服务指标未完成",
                f"「{campaign_name}」本考核期截至 {day_label(deadline)}, 您的社区服务次数或时长尚未达到要求, "
                "请尽快认领社区任务完成服务。")


_GROUP_WHO: dict[Recipient, str] = {
    Recipient.unit: "本单位", Recipient.community: "本社区", Recipient.subdistrict: "本街道",
}


def group_text(recipient: Recipient, kind: DeadlineKind, step: ReminderStep, campaign_name: str,
               deadline: datetime) -> Text:
    """To a unit / community / subdistrict: how many of its members were reminded (keeps {count})."""
    label = STEP_LABELS[step]
    who = _GROUP_WHO[recipient]
    if kind is DeadlineKind.registration:
        return Text("campaign_registration", f"【{label}】「{campaign_name}」党员报到情况",
                    f"{who}有 {COUNT} 名在职党员截至 {day_label(deadline)} 尚未到居住社区报到, 请督促其尽快报到。")
    return Text("campaign_quota", f"【{label}】「{campaign_name}」服务指标完成情况",
                f"{who}有 {COUNT} 名在职党员本考核期 (截至 {day_label(deadline)}) 服务指标未完成, 请督促其按期完成。")
