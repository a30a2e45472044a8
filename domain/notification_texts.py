"""Chinese inbox texts for registration reminders, as pure templates.

Templates whose numbers differ per recipient (how many are pending in a community) keep a
`{count}` placeholder that the set-based SQL fills per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from domain.reminder_ladder import STEP_LABELS
from schemas.registration import ReminderStep

COUNT = "{count}"
# Dates are shown in Beijing time, as people read them.
_CST = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Text:
    category: str
    title: str
    body: str


def day_label(at: datetime) -> str:
    return at.astimezone(_CST).strftime("%Y年%m月%d日")


def confirmation_pending_for_community(step: ReminderStep, cohort_id: int) -> Text:
    """To a community's staff: members of a cohort await confirmation (body keeps {count})."""
    label = STEP_LABELS[step]
    return Text(
        category="registration_confirmation",
        title=f"【{label}】党员报到待确认",
        body=(f"您社区尚有 {COUNT} 名在职党员的报到申请(批次 {cohort_id})未确认,"
              f"请尽快审核确认并编入网格支部。"),
    )


def renewal_due_for_member(step: ReminderStep, deadline: datetime) -> Text:
    label = STEP_LABELS[step]
    return Text(
        category="registration_renewal",
        title=f"【{label}】请按期重新报到",
        body=f"您在居住社区的报到将于 {day_label(deadline)} 到期,请在到期前完成重新报到,逾期将视为报到失效。",
    )


def renewal_due_for_unit(step: ReminderStep, deadline: datetime) -> Text:
    """To an employer unit: how many of its members must re-register (body keeps {count})."""
    label = STEP_LABELS[step]
    return Text(
        category="registration_renewal",
        title=f"【{label}】本单位党员重新报到",
        body=f"本单位有 {COUNT} 名在职党员的社区报到将于 {day_label(deadline)} 到期尚未重新报到,请督促其按期完成。",
    )


def unit_confirmation_pending(step: ReminderStep, unit_name: str) -> Text:
    label = STEP_LABELS[step]
    return Text(
        category="unit_registration_confirmation",
        title=f"【{label}】单位报到待确认",
        body=f"报到单位「{unit_name}」已向您社区报到,尚未确认,请尽快审核并签订共建协议。",
    )


def agreement_renewal_due(step: ReminderStep, deadline: datetime, community_name: str) -> Text:
    label = STEP_LABELS[step]
    return Text(
        category="agreement_renewal",
        title=f"【{label}】共建协议即将到期",
        body=f"贵单位与「{community_name}」的共建协议将于 {day_label(deadline)} 到期,请及时续签。",
    )
