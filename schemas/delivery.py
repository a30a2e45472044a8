"""Wire types of notification channels: outbox rows, the dispatcher's activity, endpoints, views.

Callers that decide to notify build `DeliveryRow`s and hand them to `db.delivery.insert_deliveries`
in their own transaction; the `DeliveryDispatcherWorkflow` sends them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.api import PageRequest
from schemas.registration import ReminderStep


class Channel(StrEnum):
    inbox = "inbox"         # 站内消息 (the notification table)
    wecom = "wecom"         # 企业微信群机器人
    dingtalk = "dingtalk"   # 钉钉自定义机器人
    sms = "sms"             # 短信网关


EXTERNAL_CHANNELS = (Channel.wecom, Channel.dingtalk, Channel.sms)

# WeCom and DingTalk robots accept 20 messages a minute each; an SMS gateway takes far more (its
# contract decides: set the endpoint's rate to it).
DEFAULT_RATE_PER_MINUTE = {Channel.wecom: 20, Channel.dingtalk: 20, Channel.sms: 600}


class DeliveryStatus(StrEnum):
    pending = "pending"   # 待发送
    sent = "sent"         # 已发送
    failed = "failed"     # 发送失败, 将重试
    dead = "dead"         # 发送失败, 不再重试


class OwnerKind(StrEnum):
    """Whose endpoint it is; also a recipient kind."""

    unit = "unit"
    community = "community"
    subdistrict = "subdistrict"
    district = "district"
    city = "city"
    member = "member"


class DeliveryRow(BaseModel):
    """One message to one recipient on one channel.

    `idempotency_key` is unique across all deliveries: inserting the same key twice is a no-op,
    so a retried caller never queues a second message (build it with
    `domain.channel_routing.idempotency_key`). For `inbox` the row goes to the notification
    table (its dedupe_key is the idempotency key, its category the template).
    """

    model_config = ConfigDict(frozen=True)

    channel: Channel
    recipient_kind: OwnerKind
    recipient_id: int
    title: str
    body: str
    template: str
    idempotency_key: str = Field(min_length=1, max_length=500)
    campaign_id: int | None = None
    # Template parameters for the SMS gateway (短信模板变量); not personal data.
    params: dict[str, str] = Field(default_factory=dict)


class ChannelPolicy(BaseModel):
    """Which channels a recipient hears on at each step (the campaign's reminder policy carries one)."""

    model_config = ConfigDict(frozen=True)

    # Group robots (WeCom / DingTalk) for these recipient kinds, when they have an endpoint.
    robot_recipient_kinds: list[OwnerKind] = Field(
        default_factory=lambda: [OwnerKind.unit, OwnerKind.community, OwnerKind.subdistrict],
        max_length=len(OwnerKind),
    )
    robot_channels: list[Channel] = Field(
        default_factory=lambda: [Channel.wecom, Channel.dingtalk], max_length=len(Channel))
    sms_enabled: bool = False
    sms_steps: list[ReminderStep] = Field(
        default_factory=lambda: [ReminderStep.supervise, ReminderStep.public_notice],
        max_length=len(ReminderStep),
    )


class DeliverPendingInput(BaseModel):
    max_items: int = Field(default=200, ge=1, le=5000)
    as_of: datetime
    # Only rows of these endpoints (re-driving one robot; keeps tests apart); None = all.
    endpoint_ids: list[int] | None = None


class DeliverPendingResult(BaseModel):
    sent: int
    failed: int            # attempts that failed this run (rows now failed or dead)
    remaining: int         # rows due now (pending or failed, next_attempt_at <= as_of) after this run
    dead: int = 0          # of `failed`, rows that will not be retried
    deferred: int = 0      # rows put back because their endpoint's rate limit was reached
    next_attempt_at: datetime | None = None   # earliest retry or deferred send still waiting


class DispatcherInput(BaseModel):
    max_items: int = Field(default=200, ge=1, le=5000)
    # With nothing due, look again after this long even without a `kick`.
    idle_poll: timedelta = timedelta(minutes=5)
    # continue-as-new after this many loop iterations, so the history stays small.
    iterations_per_run: int = Field(default=100, ge=1)
    endpoint_ids: list[int] | None = None   # see DeliverPendingInput


class DispatcherKick(BaseModel):
    """Signal `kick`: deliveries were inserted, send them now."""

    reason: str = ""


class DispatcherResult(BaseModel):
    iterations: int
    sent: int


class DeliveryView(BaseModel):
    """A delivery as the API shows it (the payload's phones are masked when stored)."""

    id: int
    channel: Channel
    recipient_kind: str
    recipient_id: int
    endpoint_id: int | None
    title: str
    template: str
    idempotency_key: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime
    campaign_id: int | None
    payload: dict[str, Any] | None


class DeliveryFilter(PageRequest):
    """What the deliveries list is narrowed to (GET /deliveries), and the page."""

    status: DeliveryStatus | None = None
    channel: Channel | None = None
    campaign_id: int | None = None


class ChannelEndpointInput(BaseModel):
    owner_kind: OwnerKind
    owner_id: int | None = None     # None only for the city (the SMS gateway)
    channel: Channel
    url: str = Field(min_length=8)
    secret: str | None = None
    mentioned_mobiles: list[str] = Field(default_factory=list)
    enabled: bool = True
    # None: the channel's default (DEFAULT_RATE_PER_MINUTE).
    rate_per_minute: int | None = Field(default=None, ge=1)


class ChannelEndpointView(BaseModel):
    """An endpoint as listed: the url's key/token and the secret are never shown."""

    id: int
    owner_kind: OwnerKind
    owner_id: int | None
    channel: Channel
    url_masked: str
    has_secret: bool
    mentioned_count: int
    enabled: bool
    rate_per_minute: int
    created_at: datetime
