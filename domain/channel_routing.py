"""Which channels a recipient hears on at a reminder step, and the idempotency key of each send.

Pure: the policy says which channels to try; whether a unit or community has a group robot is a
fact in the database, so `db.delivery.insert_deliveries` skips external rows of recipients with
no enabled endpoint (choosing WeCom here costs nothing when the unit has none).
"""

from __future__ import annotations

from schemas.delivery import Channel, ChannelPolicy, OwnerKind
from schemas.registration import ReminderStep

DEFAULT_POLICY = ChannelPolicy()


def channels_for(
    recipient_kind: OwnerKind | str, step: ReminderStep | str, policy: ChannelPolicy = DEFAULT_POLICY
) -> list[Channel]:
    """The channels to use for one recipient at one step, inbox first.

    - inbox: always (the record a person can look up afterwards);
    - the policy's group robots (WeCom / DingTalk) for units, communities, subdistricts ...;
    - SMS for members at the policy's SMS steps (督办 / 通报 by default) when SMS is enabled.
    """
    kind = OwnerKind(recipient_kind)
    chosen = [Channel.inbox]
    if kind in policy.robot_recipient_kinds:
        chosen += [c for c in policy.robot_channels if c in (Channel.wecom, Channel.dingtalk)]
    if kind is OwnerKind.member and policy.sms_enabled and ReminderStep(step) in policy.sms_steps:
        chosen.append(Channel.sms)
    return list(dict.fromkeys(chosen))


def idempotency_key(base: str, channel: Channel) -> str:
    """The delivery key for one channel of one decision.

    `base` names the decision and its recipient, e.g. a reminder's inbox dedupe key
    (`reminder:<ladder>:<subject_kind>:<subject_id>:<cycle>:<step>:<recipient_kind>:<id>`). The
    inbox keeps the base itself, so an inbox row written by db/reminder.py and one given through
    `insert_deliveries` are the same row; external channels append `:<channel>`.
    """
    if channel is Channel.inbox:
        return base
    return f"{base}:{channel.value}"
