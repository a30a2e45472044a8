"""Transfer between employer units 转单位, as pure rules: who may start, decide, cancel and see a
request, and the Chinese inbox texts of each outcome.

A member who changes jobs moves from their current unit (the *from* side) to a new one (the *to*
side). The from side asks (the unit admin, the member themself, or an organization department);
the to side answers (its unit admin, or an organization department). Community staff see the
requests of members living in their community but neither start nor decide them: the employer
relation is the units' business, the community registration does not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.notification_texts import Text, day_label
from domain.reminder_ladder import STEP_LABELS
from domain.scope import HierarchyPath, allows
from schemas.auth import Actor, Role, ScopeKind
from schemas.registration import ReminderStep

CATEGORY = "unit_transfer"


@dataclass(frozen=True)
class TransferSides:
    """Where a request sits: the member's home path and the two units."""

    member_id: int
    district_id: int | None
    subdistrict_id: int | None
    community_id: int | None
    from_unit_id: int | None
    to_unit_id: int

    def member_path(self, unit_id: int | None) -> HierarchyPath:
        return HierarchyPath(district_id=self.district_id, subdistrict_id=self.subdistrict_id,
                             community_id=self.community_id, unit_id=unit_id, member_id=self.member_id)


def may_start(actor: Actor, sides: TransferSides) -> bool:
    """The member's current unit admin, the member themself, or an organization department above them."""
    if actor.role not in (Role.unit_admin, Role.member, Role.org_department):
        return False
    return allows(actor, sides.member_path(sides.from_unit_id))


def may_decide(actor: Actor, sides: TransferSides) -> bool:
    """The target unit's admin, or an organization department above the member."""
    if actor.role is Role.unit_admin:
        return actor.scope_kind is ScopeKind.unit and actor.scope_id == sides.to_unit_id
    if actor.role is Role.org_department:
        return allows(actor, sides.member_path(sides.from_unit_id))
    return False


def may_cancel(actor: Actor, sides: TransferSides) -> bool:
    """Whoever may start a request may withdraw it while it waits."""
    return may_start(actor, sides)


def may_see(actor: Actor, sides: TransferSides) -> bool:
    """Both units' admins, the member, and the hierarchy above where the member lives."""
    if actor.scope_kind is ScopeKind.unit:
        return actor.scope_id is not None and actor.scope_id in (sides.from_unit_id, sides.to_unit_id)
    return allows(actor, sides.member_path(sides.from_unit_id))


def _unit(name: str | None) -> str:
    return name or "(无单位)"


def request_to_target(member_name: str, from_unit: str | None, transfer_id: int,
                      expires_at: datetime) -> Text:
    """To the target unit: a member asks to join; answer before the request expires."""
    return Text(CATEGORY, "转单位申请待确认",
                f"党员 {member_name} 申请从 {_unit(from_unit)} 转入贵单位(申请编号 {transfer_id}),"
                f"请于 {day_label(expires_at)} 前确认接收或拒绝, 逾期申请自动失效。")


def reminder_to_target(step: ReminderStep, member_name: str, transfer_id: int,
                       expires_at: datetime) -> Text:
    label = STEP_LABELS[step]
    return Text(CATEGORY, f"【{label}】转单位申请待确认",
                f"党员 {member_name} 转入贵单位的申请(编号 {transfer_id})尚未处理,"
                f"将于 {day_label(expires_at)} 失效, 请尽快确认接收或拒绝。")


def accepted(member_name: str, from_unit: str | None, to_unit: str) -> Text:
    return Text(CATEGORY, "转单位已完成",
                f"党员 {member_name} 已从 {_unit(from_unit)} 转入 {to_unit}。"
                f"其在居住社区的报到不变, 今后报到提醒经 {to_unit} 送达。")


def refused(member_name: str, to_unit: str, reason: str) -> Text:
    return Text(CATEGORY, "转单位申请被拒绝",
                f"{to_unit} 拒绝接收党员 {member_name}, 原因: {reason}。如有误, 请与该单位核实后重新申请。")


def cancelled(member_name: str, to_unit: str) -> Text:
    return Text(CATEGORY, "转单位申请已撤回", f"党员 {member_name} 转入 {to_unit} 的申请已撤回, 无需处理。")


def expired(member_name: str, to_unit: str) -> Text:
    return Text(CATEGORY, "转单位申请已失效",
                f"党员 {member_name} 转入 {to_unit} 的申请逾期无人处理, 已自动失效。如仍需转单位, 请重新申请。")
