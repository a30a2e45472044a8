"""A campaign's unit quota 单位报到率 as pure rules: who is behind, by how much, and the texts.

The quota is "at least X % of a unit's members registered". A unit's members are counted where
they live (the campaign's communities), as the evaluation counts them; a member counts as
registered with an open registration (submitted, confirmed, active, paused), as the member
reminders do: a submitted registration waits on the community, not on the unit.

Comparisons are exact (Fraction of the decimal rate): 19 of 20 is 95 %, 94 of 99 is not.
The units are reminded at the registration deadline's ladder steps at or after the deadline
(a unit cannot be "behind" before the deadline), every step again while still behind.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from domain.errors import InvalidInput
from domain.notification_texts import Text, day_label
from domain.reminder_ladder import STEP_LABELS
from schemas.campaign import DeadlineKind, LadderStep, Quotas, Recipient, ReminderPolicy
from schemas.evaluation import EvaluationRule
from schemas.registration import ReminderStep

UNIT_QUOTA = "unit_quota"
# The reminder's cycle: the registration deadline is period 0 of its kind.
CYCLE = 0
# Names listed in one community's or subdistrict's summary; the rest are counted.
NAMES_IN_SUMMARY = 10


def ladder_name(campaign_id: int) -> str:
    """The `reminder.ladder` of a campaign's unit-quota reminders."""
    return f"campaign:{campaign_id}:{UNIT_QUOTA}"


def dedupe_base(campaign_id: int, step: ReminderStep, recipient_kind: str, recipient_id: int) -> str:
    """The inbox dedupe key (and delivery idempotency base) of one unit-quota reminder."""
    return f"{ladder_name(campaign_id)}:{CYCLE}:{step.value}:{recipient_kind}:{recipient_id}"


def _fraction(rate: float) -> Fraction:
    # Through the decimal string: 0.95 means 95/100, not the binary float nearest to it.
    return Fraction(Decimal(str(rate)))


def is_behind(*, members: int, registered: int, rate: float) -> bool:
    return members > 0 and Fraction(registered) < _fraction(rate) * members


def shortfall(*, members: int, registered: int, rate: float) -> int:
    """How many more members must register for the unit to reach the rate (0 when it does)."""
    needed = math.ceil(_fraction(rate) * members)
    return max(0, needed - registered)


def percent_label(rate: float) -> str:
    """0.95 → 95%, 0.875 → 87.5%."""
    value = Decimal(str(rate)) * 100
    return f"{value.normalize():f}%"


def applies_at(kind: DeadlineKind, step: LadderStep) -> bool:
    """Units are reminded at the registration deadline's steps at or after the deadline."""
    return kind is DeadlineKind.registration and step.offset.total_seconds() >= 0


def validate(*, quotas: Quotas, registration_deadline: datetime | None, policy: ReminderPolicy,
             evaluation_rule: Mapping[str, Any]) -> None:
    """Refuse a unit quota the ladder would never act on, or that contradicts the evaluation rule."""
    rate = quotas.min_unit_registration_rate
    if rate is None:
        return
    if registration_deadline is not None and not any(
            applies_at(DeadlineKind.registration, s) for s in policy.steps):
        raise InvalidInput("设置了单位报到率指标, 督促阶梯须在报到截止时或之后至少有一步")
    explicit = evaluation_rule.get("unit_min_registration_rate")
    if explicit is not None and _fraction(float(explicit)) != _fraction(rate):
        raise InvalidInput(
            f"考核规则的单位报到率 ({percent_label(float(explicit))}) 与活动指标 ({percent_label(rate)}) 不一致")


def evaluation_rule(rule: Mapping[str, Any] | None, quotas: Mapping[str, Any] | None) -> EvaluationRule:
    """The campaign's evaluation rule, with its unit quota as the unit registration threshold."""
    base = EvaluationRule.model_validate(rule or {})
    rate = Quotas.model_validate(quotas or {}).min_unit_registration_rate
    if rate is None:
        return base
    return base.model_copy(update={"unit_min_registration_rate": rate})


# --- texts ----------------------------------------------------------------------------------------


def reason(*, members: int, registered: int, rate: float, short: int) -> str:
    """The reminder row's reason: the figures the decision was made on."""
    return f"单位党员报到 {registered}/{members} 人, 低于 {percent_label(rate)}, 还差 {short} 人"


def unit_text(step: ReminderStep, campaign_name: str, deadline: datetime, *, rate: float, members: int,
              registered: int, short: int) -> Text:
    """To a unit's party organization: its rate, the quota, how many more must register, the deadline."""
    label = STEP_LABELS[step]
    actual = percent_label(float(round(Decimal(registered) / Decimal(members), 3))) if members else "0%"
    return Text(
        "campaign_unit_quota",
        f"【{label}】「{campaign_name}」本单位党员报到率未达 {percent_label(rate)}",
        f"「{campaign_name}」要求各单位在职党员到居住社区报到率不低于 {percent_label(rate)}, "
        f"报到截止时间为 {day_label(deadline)}。本单位居住在活动范围内的 {members} 名在职党员中已报到 "
        f"{registered} 名 (报到率 {actual}), 还需 {short} 名党员报到方可达标, 请单位党组织督促落实。",
    )


_WHO: dict[Recipient, str] = {Recipient.community: "本社区", Recipient.subdistrict: "本街道"}


def group_text(recipient: Recipient, step: ReminderStep, campaign_name: str, deadline: datetime, *,
               rate: float, unit_names: Sequence[str]) -> Text:
    """To a community / subdistrict: which units located there are below the unit quota."""
    label = STEP_LABELS[step]
    shown = "、".join(unit_names[:NAMES_IN_SUMMARY])
    more = f"等 {len(unit_names)} 个单位" if len(unit_names) > NAMES_IN_SUMMARY else ""
    return Text(
        "campaign_unit_quota",
        f"【{label}】「{campaign_name}」单位党员报到率未达标",
        f"{_WHO[recipient]}有 {len(unit_names)} 个报到单位截至 {day_label(deadline)} 在职党员报到率低于 "
        f"{percent_label(rate)}: {shown}{more}。请督促相关单位党组织组织党员尽快到居住社区报到。",
    )
