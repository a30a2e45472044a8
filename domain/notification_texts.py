"""Chinese inbox texts, as pure templates: registration reminders and dispatch 派单 notices (times
read on the Beijing clock).

Templates whose numbers differ per recipient (how many are pending in a community) keep a
`{count}` placeholder that the set-based SQL fills per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.local_time import LOCAL_ZONE
from domain.reminder_ladder import STEP_LABELS
from schemas.registration import ReminderStep

COUNT = "{count}"


@dataclass(frozen=True)
class Text:
    category: str
    title: str
    body: str


def day_label(at: datetime) -> str:
    return at.astimezone(LOCAL_ZONE).strftime("%Y年%m月%d日")


def _nudge(step: ReminderStep, category: str, title: str, body: str) -> Text:
    """A reminder ladder's text: the title led by the step's label (【提醒】, 【催办】, ...)."""
    return Text(category=category, title=f"【{STEP_LABELS[step]}】{title}", body=body)


def confirmation_pending_for_community(step: ReminderStep, cohort_id: int) -> Text:
    """To a community's staff: members of a cohort await confirmation (body keeps {count})."""
    return _nudge(step, "registration_confirmation", "党员报到待确认",
                  f"您社区尚有 {COUNT} 名在职党员的报到申请(批次 {cohort_id})未确认,"
                  f"请尽快审核确认并编入网格支部。")


def renewal_due_for_member(step: ReminderStep, deadline: datetime) -> Text:
    return _nudge(step, "registration_renewal", "请按期重新报到",
                  f"您在居住社区的报到将于 {day_label(deadline)} 到期,请在到期前完成重新报到,逾期将视为报到失效。")


def registration_confirmed(*, placed: bool) -> Text:
    """To a member: the community confirmed their registration (placed in a grid branch or not yet)."""
    body = ("社区已确认您的报到并编入网格支部, 可在「我的 - 报到证」查看报到证。" if placed
            else "社区已确认您的报到, 编入网格支部后即可查看报到证。")
    return Text(category="registration_decision", title="报到已确认", body=body)


def registration_returned(reason: str) -> Text:
    """To a member: the community sent their registration back, and why."""
    return Text(category="registration_decision", title="报到被退回",
                body=f"社区退回了您的报到, 原因: {reason}。请在「我的 - 我要报到」修改后重新提交。")


def renewal_due_for_unit(step: ReminderStep, deadline: datetime) -> Text:
    """To an employer unit: how many of its members must re-register (body keeps {count})."""
    return _nudge(step, "registration_renewal", "本单位党员重新报到",
                  f"本单位有 {COUNT} 名在职党员的社区报到将于 {day_label(deadline)} 到期尚未重新报到,请督促其按期完成。")


def unit_confirmation_pending(step: ReminderStep, unit_name: str) -> Text:
    return _nudge(step, "unit_registration_confirmation", "单位报到待确认",
                  f"报到单位「{unit_name}」已向您社区报到,尚未确认,请尽快审核并签订共建协议。")


def agreement_renewal_due(step: ReminderStep, deadline: datetime, community_name: str) -> Text:
    return _nudge(step, "agreement_renewal", "共建协议即将到期",
                  f"贵单位与「{community_name}」的共建协议将于 {day_label(deadline)} 到期,请及时续签。")


# ------------------------------------------------------------------ 吹哨报到 (whistle)


def _when(at: datetime) -> str:
    return at.astimezone(LOCAL_ZONE).strftime("%m月%d日 %H:%M")


def whistle_summoned(title: str, community_name: str, *, people_needed: int, respond_by: datetime,
                     level_label: str) -> Text:
    """To a summoned unit: the community blew the whistle; answer 报到响应 by the deadline."""
    via = "" if level_label == "社区" else f"(已上报至{level_label}统筹召集)"
    return Text(
        category="whistle_summoned",
        title=f"【吹哨报到】{community_name}: {title}",
        body=(f"「{community_name}」吹哨{via}: {title}, 需 {people_needed} 人。"
              f"请于 {_when(respond_by)} 前报到响应 (派出人数、物资、预计到达时间), 或说明无法响应的理由。"),
    )


def whistle_urged(title: str, community_name: str, *, respond_by: datetime) -> Text:
    return Text(
        category="whistle_urged",
        title="【催办】吹哨报到尚未响应",
        body=f"「{community_name}」的吹哨事项「{title}」贵单位尚未报到响应, 请于 {_when(respond_by)} 前响应。",
    )


def whistle_escalated(title: str, community_name: str, *, level_label: str, committed: int, needed: int) -> Text:
    """To the staff of the level the whistle climbed to."""
    return Text(
        category="whistle_escalated",
        title=f"【分级响应】吹哨事项已上报至{level_label}",
        body=(f"「{community_name}」的吹哨事项「{title}」在下级响应不足 (已响应 {committed} 人, 需 {needed} 人), "
              f"已上报至{level_label}, 辖区报到单位已被召集, 请统筹协调。"),
    )


def whistle_answered(title: str, unit_name: str, *, accept: bool, people: int,
                     eta: datetime | None) -> Text:
    """To the whistle's community: one unit answered."""
    if accept:
        arrival = f", 预计 {_when(eta)} 到达" if eta is not None else ""
        body = f"报到单位「{unit_name}」已响应吹哨事项「{title}」: 派出 {people} 人{arrival}。"
    else:
        body = f"报到单位「{unit_name}」婉拒了吹哨事项「{title}」。"
    return Text(category="whistle_answered", title="【报到响应】" + ("单位已响应" if accept else "单位婉拒"), body=body)


def whistle_short_handed(title: str, *, committed: int, needed: int) -> Text:
    return Text(
        category="whistle_short_handed",
        title="【人手不足】吹哨事项响应不足",
        body=f"吹哨事项「{title}」逐级召集后已响应 {committed} 人, 仍差 {needed - committed} 人, 请组织现有力量先行处置。",
    )


def whistle_parked(title: str, reason: str) -> Text:
    return Text(
        category="whistle_parked",
        title="【挂账】吹哨事项无单位响应",
        body=f"吹哨事项「{title}」已挂账: {reason}。请研究处置, 办结时填写小结。",
    )


def whistle_closed(title: str, community_name: str) -> Text:
    """To each unit that answered: the matter is closed, thanks."""
    return Text(
        category="whistle_closed",
        title="【办结】吹哨事项已办结",
        body=f"「{community_name}」的吹哨事项「{title}」已办结, 感谢贵单位的报到响应。",
    )


# --- dispatch 派单 ------------------------------------------------------------------------------

def _clock(at: datetime) -> str:
    return at.astimezone(LOCAL_ZONE).strftime("%m-%d %H:%M")


def offer_invitation(task_title: str, place: str | None, expires_at: datetime) -> Text:
    """To a member: an offer of a task, to answer before it expires (Beijing time)."""
    return Text(
        category="dispatch_offer",
        title="【派单】有新的服务任务邀请",
        body=f"「{task_title}」({place or '地点见详情'}) 邀请您参加,请在 {_clock(expires_at)} 前接单或婉拒。",
    )


def task_level_notice(topic: str, task_title: str, level_label: str) -> Text:
    """To the staff of a level: the task climbed to it, was parked, or needs follow-up."""
    title, body = {
        "escalated": (f"【分级响应】任务已上报至{level_label}",
                      f"任务「{task_title}」在下级无人接单, 已上报至{level_label}, 请协调党员响应。"),
        "parked": ("【挂账】任务无人接单",
                   f"任务「{task_title}」逐级上报后仍无人接单, 已挂账, 请研究处置后重新派单。"),
        "follow_up": ("【待跟进】居民评价较低",
                      f"任务「{task_title}」的居民评价低于满意线, 已转为待跟进, 请回访处置后再核查。"),
    }[topic]
    return Text(category=f"dispatch_{topic}", title=title, body=body)


def task_overdue_for_member(task_title: str) -> Text:
    return Text(category="dispatch_overdue", title="【提醒】服务已超时, 请签退",
                body=f"任务「{task_title}」已过结束时间, 请完成服务后扫码签退并填写服务记录。")


def task_overdue_for_community(task_title: str, still_on_site: int) -> Text:
    return Text(category="dispatch_overdue", title="【催办】任务超时未完成",
                body=f"任务「{task_title}」已超时, 仍有 {still_on_site} 名党员未签退, 请跟进。")


def task_cancelled(task_title: str, reason: str) -> Text:
    return Text(category="dispatch_cancelled", title="【通知】任务已取消",
                body=f"您承接的任务「{task_title}」已取消: {reason}。感谢您的响应。")
