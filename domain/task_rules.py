"""The task's life as a state machine, with a Chinese refusal for every move it does not allow.

open/offering → staffed → in_progress → done → (follow_up →) verified → closed; parked when
nobody could be found at the top of the ladder; cancelled by the community. A no-show sends a
staffed or in-progress task back to offering. Also: the free-time slots a task's window needs.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from enum import StrEnum

from domain.errors import Conflict
from schemas.dispatch import TaskStatus

S = TaskStatus

STATUS_LABELS: dict[TaskStatus, str] = {
    S.open: "待认领",
    S.offering: "派单中",
    S.staffed: "已满员",
    S.in_progress: "服务中",
    S.done: "已完成待评价",
    S.follow_up: "待跟进",
    S.verified: "已核查",
    S.closed: "已销号",
    S.parked: "挂账",
    S.cancelled: "已取消",
}

_ALLOWED: dict[TaskStatus, frozenset[TaskStatus]] = {
    S.open: frozenset({S.offering, S.staffed, S.parked, S.cancelled, S.in_progress}),
    S.offering: frozenset({S.offering, S.staffed, S.parked, S.cancelled, S.in_progress}),
    S.staffed: frozenset({S.in_progress, S.offering, S.open, S.done, S.cancelled}),
    S.in_progress: frozenset({S.done, S.offering, S.open}),
    S.done: frozenset({S.follow_up, S.verified}),
    S.follow_up: frozenset({S.verified}),
    S.verified: frozenset({S.closed}),
    S.parked: frozenset({S.offering, S.open, S.cancelled}),
    S.closed: frozenset(),
    S.cancelled: frozenset(),
}


def task_workflow_id(task_id: int) -> str:
    """The id of the one TaskWorkflow of a task (written on its row when the task is created)."""
    return f"task-{task_id}"


def can_move(current: TaskStatus, target: TaskStatus) -> bool:
    return current == target or target in _ALLOWED[current]


def check_move(current: TaskStatus, target: TaskStatus) -> None:
    """Raise a Conflict with a message naming both states when the move is not allowed."""
    if not can_move(current, target):
        raise Conflict(
            f"任务当前状态为「{STATUS_LABELS[current]}」, 不能变为「{STATUS_LABELS[target]}」",
            code="task_bad_transition",
        )


# Refusals people see when answering an offer or claiming; stable texts, also used by tests.
REFUSAL_NO_OFFER = "您没有该任务的待答复邀请"
REFUSAL_OFFER_EXPIRED = "该邀请已过期, 任务已转派他人"
REFUSAL_TASK_FULL = "任务人数已满, 感谢您的响应"
REFUSAL_NOT_CLAIMABLE = "该任务不接受认领"
REFUSAL_ALREADY_ASSIGNED = "您已在该任务中"
REFUSAL_NOT_ASSIGNED = "您不在该任务的服务名单中"
REFUSAL_NOT_CHECKED_IN = "请先扫码签到"
REFUSAL_ALREADY_CHECKED_IN = "您已签到"
REFUSAL_BAD_TOKEN = "二维码无效, 请扫描本任务现场的二维码"
REFUSAL_NOT_DONE = "任务尚未完成, 暂不能评价"
REFUSAL_ALREADY_RATED = "该任务已评价"
REFUSAL_NOT_RATED = "居民尚未评价, 暂不能核查"
REFUSAL_ALREADY_VERIFIED = "该任务已核查"
REFUSAL_NOT_PARKED = "任务未挂账, 无需重新派单"
REFUSAL_CANNOT_CANCEL = "服务已开始或任务已结束, 不能取消"
REFUSAL_CANCELLED = "任务已取消"
REFUSAL_VERIFY_IN_PROGRESS = "该任务正在核查中, 请稍后刷新"
REFUSAL_REJECT_NEEDS_REASON = "核查不通过须填写理由"


class TaskRefusal(StrEnum):
    """Why a task's workflow (or one of its activities) refuses a request: the stable code the
    caller gets (the API's 409 `code`); `message` is what the person reads."""

    no_offer = "no_offer"
    offer_expired = "offer_expired"
    task_full = "task_full"
    not_claimable = "not_claimable"
    already_assigned = "already_assigned"
    not_assigned = "not_assigned"
    not_checked_in = "not_checked_in"
    already_checked_in = "already_checked_in"
    bad_token = "bad_token"
    cannot_rate = "cannot_rate"
    already_rated = "already_rated"
    not_rated = "not_rated"
    already_verified = "already_verified"
    not_parked = "not_parked"
    cannot_cancel = "cannot_cancel"
    task_cancelled = "task_cancelled"
    verify_in_progress = "verify_in_progress"
    reason_required = "reason_required"

    @property
    def message(self) -> str:
        return _TASK_REFUSAL_MESSAGES[self]


_TASK_REFUSAL_MESSAGES: dict[TaskRefusal, str] = {
    TaskRefusal.no_offer: REFUSAL_NO_OFFER,
    TaskRefusal.offer_expired: REFUSAL_OFFER_EXPIRED,
    TaskRefusal.task_full: REFUSAL_TASK_FULL,
    TaskRefusal.not_claimable: REFUSAL_NOT_CLAIMABLE,
    TaskRefusal.already_assigned: REFUSAL_ALREADY_ASSIGNED,
    TaskRefusal.not_assigned: REFUSAL_NOT_ASSIGNED,
    TaskRefusal.not_checked_in: REFUSAL_NOT_CHECKED_IN,
    TaskRefusal.already_checked_in: REFUSAL_ALREADY_CHECKED_IN,
    TaskRefusal.bad_token: REFUSAL_BAD_TOKEN,
    TaskRefusal.cannot_rate: REFUSAL_NOT_DONE,
    TaskRefusal.already_rated: REFUSAL_ALREADY_RATED,
    TaskRefusal.not_rated: REFUSAL_NOT_RATED,
    TaskRefusal.already_verified: REFUSAL_ALREADY_VERIFIED,
    TaskRefusal.not_parked: REFUSAL_NOT_PARKED,
    TaskRefusal.cannot_cancel: REFUSAL_CANNOT_CANCEL,
    TaskRefusal.task_cancelled: REFUSAL_CANCELLED,
    TaskRefusal.verify_in_progress: REFUSAL_VERIFY_IN_PROGRESS,
    TaskRefusal.reason_required: REFUSAL_REJECT_NEEDS_REASON,
}

# The residents' doors (no account): refusals a resident sees when a code does not work.
REFUSAL_BAD_RATING_CODE = "评价码无效或已作废 (社区重新签发后旧码停用), 请核对链接或二维码, 或联系社区工作人员"
REFUSAL_RATING_CODE_EXPIRED = "评价码已过期, 如需评价请联系社区工作人员"
REFUSAL_RATING_CODE_USED = "该评价码已使用, 每项服务只能评价一次"
REFUSAL_BAD_NEED_CODE = "点单码无效或已停用, 请扫描小区公示的最新二维码, 或联系网格员"
# A task in one of these states has been served: its resident may rate it.
RATEABLE_STATUSES = frozenset({"done", "follow_up", "verified", "closed"})


def understaffed_text(title: str, *, headcount: int, filled: int) -> str:
    """What the community is told when a task goes ahead short-handed 人手不足."""
    return (f"任务「{title}」逐级上报后仍差 {headcount - filled} 人 (需 {headcount} 人, 已有 {filled} 人), "
            "将由现有人员先行服务, 请协调补充人手。")


def verify_rejected_text(title: str, reason: str) -> str:
    """What the members who served are told when the community's verification 核查 does not pass."""
    return f"您参加的任务「{title}」社区核查未通过: {reason}。暂不计积分, 请配合整改, 复核通过后计分。"

# Fairness counts a member's services over this window, so the same few are not always chosen.
FAIRNESS_WINDOW = timedelta(days=90)


def hash_qr_token(token: str) -> str:
    """Only this hash of a task's QR token is stored; the token itself is shown once."""
    return hashlib.sha256(token.encode()).hexdigest()
