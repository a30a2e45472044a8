"""Which status changes a registration may make, and how long a registration stays valid."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from domain.errors import Conflict
from schemas.registration import MemberRegistrationStatus as S
from schemas.registration import UnitRegistrationStatus as U

A = TypeVar("A", bound=StrEnum)
T = TypeVar("T", bound=StrEnum)


class MemberAction(StrEnum):
    confirm = "confirm"
    place = "place"
    reject = "reject"
    transfer = "transfer"
    pause = "pause"
    resume = "resume"
    withdraw = "withdraw"
    renew = "renew"
    lapse = "lapse"


class UnitAction(StrEnum):
    confirm = "confirm"
    reject = "reject"
    renew = "renew"
    withdraw = "withdraw"
    lapse = "lapse"


MEMBER_ACTION_LABELS: dict[MemberAction, str] = {
    MemberAction.confirm: "确认",
    MemberAction.place: "编入网格",
    MemberAction.reject: "退回",
    MemberAction.transfer: "转移",
    MemberAction.pause: "暂停",
    MemberAction.resume: "恢复",
    MemberAction.withdraw: "退出",
    MemberAction.renew: "重新报到",
    MemberAction.lapse: "过期",
}

UNIT_ACTION_LABELS: dict[UnitAction, str] = {
    UnitAction.confirm: "确认",
    UnitAction.reject: "退回",
    UnitAction.renew: "续签",
    UnitAction.withdraw: "退出",
    UnitAction.lapse: "过期",
}

MEMBER_STATUS_LABELS: dict[S, str] = {
    S.submitted: "待确认",
    S.confirmed: "已确认待编入网格",
    S.active: "已报到",
    S.paused: "已暂停",
    S.rejected: "已退回",
    S.withdrawn: "已退出",
    S.transferred: "已转出",
    S.lapsed: "已过期",
}

UNIT_STATUS_LABELS: dict[U, str] = {
    U.submitted: "待确认",
    U.active: "已报到",
    U.rejected: "已退回",
    U.lapsed: "已过期",
    U.withdrawn: "已退出",
}

# (action, from status) -> to status. Confirm's target depends on whether a grid is known, so
# it lists `active` and the caller downgrades to `confirmed` when no grid can be placed.
MEMBER_TRANSITIONS: dict[MemberAction, dict[S, S]] = {
    MemberAction.confirm: {S.submitted: S.active},
    MemberAction.place: {S.confirmed: S.active, S.active: S.active},
    MemberAction.reject: {S.submitted: S.rejected, S.confirmed: S.rejected},
    MemberAction.transfer: {S.submitted: S.transferred, S.confirmed: S.transferred,
                            S.active: S.transferred, S.paused: S.transferred},
    MemberAction.pause: {S.active: S.paused},
    MemberAction.resume: {S.paused: S.active},
    MemberAction.withdraw: {S.submitted: S.withdrawn, S.confirmed: S.withdrawn,
                            S.active: S.withdrawn, S.paused: S.withdrawn},
    MemberAction.renew: {S.active: S.active, S.lapsed: S.active},
    MemberAction.lapse: {S.active: S.lapsed},
}

UNIT_TRANSITIONS: dict[UnitAction, dict[U, U]] = {
    UnitAction.confirm: {U.submitted: U.active},
    UnitAction.reject: {U.submitted: U.rejected},
    UnitAction.renew: {U.active: U.active, U.lapsed: U.active},
    UnitAction.withdraw: {U.submitted: U.withdrawn, U.active: U.withdrawn},
    UnitAction.lapse: {U.active: U.lapsed},
}

OPEN_MEMBER_STATUSES: frozenset[S] = frozenset({S.submitted, S.confirmed, S.active, S.paused})


def _transition(transitions: Mapping[A, Mapping[T, T]], status_labels: Mapping[T, str],
                action_labels: Mapping[A, str], action: A, current: T, *, record: str) -> T:
    """The status `action` leads to from `current`, or a Conflict naming `record`'s current status."""
    target = transitions[action].get(current)
    if target is None:
        raise Conflict(f"{record} 当前状态为「{status_labels[current]}」({current.value}), 不能{action_labels[action]}")
    return target


def member_transition(action: MemberAction, current: S, *, registration_id: int) -> S:
    """The status `action` leads to from `current`, or a Conflict naming the current status."""
    return _transition(MEMBER_TRANSITIONS, MEMBER_STATUS_LABELS, MEMBER_ACTION_LABELS, action, current,
                       record=f"报到记录 {registration_id}")


def unit_transition(action: UnitAction, current: U, *, registration_id: int) -> U:
    """The status `action` leads to from `current`, or a Conflict naming the current status."""
    return _transition(UNIT_TRANSITIONS, UNIT_STATUS_LABELS, UNIT_ACTION_LABELS, action, current,
                       record=f"单位报到记录 {registration_id}")


def add_months(at: datetime, months: int) -> datetime:
    """`at` moved by whole calendar months, clamped to the month's last day (31 Aug + 6 = 28 Feb)."""
    month_index = at.month - 1 + months
    year = at.year + month_index // 12
    month = month_index % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def renewed_until(current_valid_until: datetime | None, now: datetime, months: int) -> datetime:
    """A renewal extends from the later of the old expiry and now, so early renewal loses nothing."""
    base = now if current_valid_until is None or current_valid_until < now else current_valid_until
    return add_months(base, months)


def renewal_due(status: S, valid_until: datetime | None, now: datetime, *, lead: timedelta) -> bool:
    """May the member re-register 重新报到 now: lapsed, or active and within `lead` of expiry
    (when the renewal reminders start)."""
    if status is S.lapsed:
        return True
    return status is S.active and valid_until is not None and valid_until - lead <= now


def registration_rate(registered: int, members: int) -> float:
    """报到率: registered members over all members, to four places (0 for an empty group)."""
    return round(registered / members, 4) if members else 0.0
