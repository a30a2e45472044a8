"""Needs 需求: tier deadlines and the likely-duplicate rule.

A need is a likely duplicate when the same resident (by phone) placed a need of the same category
in the same grid within the window; it is flagged for the community, not refused, because a
resident may well need the same help twice.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from schemas.dispatch import Urgency

DUPLICATE_WINDOW = timedelta(days=7)

URGENCY_LABELS: dict[Urgency, str] = {Urgency.red: "红色(紧急)", Urgency.yellow: "黄色(较急)",
                                      Urgency.blue: "蓝色(一般)"}


def tier_deadline(urgency: Urgency, *, placed_at: datetime, red_hours: int, yellow_hours: int,
                  blue_hours: int) -> datetime:
    hours = {Urgency.red: red_hours, Urgency.yellow: yellow_hours, Urgency.blue: blue_hours}[urgency]
    return placed_at + timedelta(hours=hours)


def duplicate_window_start(placed_at: datetime) -> datetime:
    """Needs placed after this instant count for the duplicate check."""
    return placed_at - DUPLICATE_WINDOW


def is_likely_duplicate(
    *, phone: str | None, other_phone: str | None, placed_at: datetime, other_placed_at: datetime,
    same_category: bool, same_grid: bool,
) -> bool:
    """Same resident, category and grid within the window. Without a phone nothing is a duplicate."""
    if phone is None or other_phone is None or phone != other_phone:
        return False
    return same_category and same_grid and abs(placed_at - other_placed_at) <= DUPLICATE_WINDOW


# ---------------------------------------------------------------- what a resident is told

# The micro-wish category 微心愿 (the catalogue's own name): only such a need names a donor, who may
# stay anonymous.
MICRO_WISH_CATEGORY = "物资微心愿"
REFUSAL_DONOR_NOT_MICRO_WISH = "只有微心愿可以填写认捐人"
REFUSAL_BAD_FOLLOW_TOKEN = "查询链接无效, 请使用提交需求后页面给出的链接"
REFUSAL_COMMUNITY_MISSING = "该社区不存在或未开放晒单"

# A need's state as the resident who placed it reads it: a label and what happens next.
RESIDENT_STATUS_TEXT: dict[str, tuple[str, str]] = {
    "submitted": ("待社区核查", "社区工作人员将核查您的需求, 核查通过后安排党员服务。"),
    "verified": ("已核查, 待派单", "社区已核查通过, 正在安排党员服务。"),
    "rejected": ("未通过核查", "社区未受理该需求, 原因见社区答复; 如有疑问请联系网格员。"),
    "converted": ("已派单, 服务中", "已安排党员服务, 请留意上门时间。"),
    "closed": ("已办结", "服务已完成并经社区核查。感谢您的信任!"),
}

_PHONE_RE = re.compile(r"1\d{10}|0\d{2,3}-?\d{7,8}")
REFUSAL_BAD_PHONE = "联系电话格式不正确: 请填写 11 位手机号或带区号的固定电话, 也可以不填"


def resident_phone_ok(phone: str | None) -> bool:
    """A resident's contact phone is optional; given, it is a mobile or a landline with area code."""
    return phone is None or phone == "" or _PHONE_RE.fullmatch(phone) is not None
