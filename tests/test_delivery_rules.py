"""Pure rules of notification channels: rate limits, backoff, routing, keys, signing, masking."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta
from urllib.parse import unquote_plus

from hypothesis import given
from hypothesis import strategies as st

from channels import dingtalk, sms_gateway, wecom
from db.channel_endpoint import mask_url
from domain.channel_routing import channels_for, idempotency_key
from domain.channel_templates import SMS_MAX_CHARS, sms_text
from domain.rate_limit import TokenBucket, retry_delay
from schemas.delivery import Channel, ChannelPolicy, OwnerKind
from schemas.registration import ReminderStep


def test_token_bucket_allows_n_per_minute_on_a_frozen_clock() -> None:
    """With the clock frozen, exactly N takes succeed; the next waits until the first token's minute is over."""
    bucket = TokenBucket(20)
    assert sum(bucket.try_take(100.0) for _ in range(25)) == 20
    assert bucket.wait_time(100.0) == 60.0
    assert not bucket.try_take(159.9)
    assert bucket.try_take(160.0)


@given(st.lists(st.floats(min_value=0, max_value=600, allow_nan=False), min_size=1, max_size=300),
       st.integers(min_value=1, max_value=30))
def test_token_bucket_never_exceeds_n_in_any_minute(offsets: list[float], rate: int) -> None:
    """Whatever the arrival times, the sends allowed in any 60-second window never exceed the rate."""
    bucket = TokenBucket(rate)
    allowed = [t for t in sorted(offsets) if bucket.try_take(t)]
    for i, start in enumerate(allowed):
        in_window = [t for t in allowed[i:] if t < start + 60.0]
        assert len(in_window) <= rate


def test_token_bucket_sustained_rate_over_ten_minutes() -> None:
    """Asking every second for ten fake minutes gets N a minute through, not 2N in the first minute."""
    bucket = TokenBucket(6)
    sent = [t for t in range(600) if bucket.try_take(float(t))]
    assert len([t for t in sent if t < 60]) == 6
    assert len(sent) == 60


def test_token_bucket_seeded_with_earlier_sends() -> None:
    """Sends another worker made in the last minute use up tokens until their minute is over."""
    bucket = TokenBucket(3, taken=[95.0, 90.0])
    assert bucket.try_take(100.0) and not bucket.try_take(100.0)
    assert bucket.wait_time(100.0) == 50.0
    assert bucket.try_take(150.0)


def test_retry_delay_doubles_and_caps() -> None:
    """Backoff: 30 s, 1 min, 2 min ... never more than 30 minutes."""
    assert [retry_delay(n) for n in (1, 2, 3)] == [timedelta(seconds=30), timedelta(minutes=1),
                                                    timedelta(minutes=2)]
    assert retry_delay(50) == timedelta(minutes=30)


def test_channels_for_default_policy() -> None:
    """Inbox always; group robots for units and communities; SMS only when enabled and only at 督办/通报."""
    assert channels_for("community", "remind") == [Channel.inbox, Channel.wecom, Channel.dingtalk]
    assert channels_for(OwnerKind.member, ReminderStep.supervise) == [Channel.inbox]
    sms_on = ChannelPolicy(sms_enabled=True)
    assert channels_for("member", "remind", sms_on) == [Channel.inbox]
    assert channels_for("member", "supervise", sms_on) == [Channel.inbox, Channel.sms]
    assert channels_for("member", "public_notice", sms_on) == [Channel.inbox, Channel.sms]
    assert channels_for("unit", "supervise", ChannelPolicy(robot_channels=[Channel.dingtalk])) == [
        Channel.inbox, Channel.dingtalk]


def test_idempotency_key_keeps_the_inbox_key_and_suffixes_external_channels() -> None:
    """The inbox key is the reminder's dedupe key itself; external channels append the channel."""
    base = "reminder:campaign:campaign:7:0:urge:member:42"
    assert idempotency_key(base, Channel.inbox) == base
    assert idempotency_key(base, Channel.sms) == base + ":sms"


def test_dingtalk_sign_matches_the_documented_algorithm() -> None:
    """sign = urlencode(base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}"))), appended with the timestamp."""
    secret, ts = "SEC000example", 1700000000000
    expected = base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert unquote_plus(dingtalk.sign(secret, ts)) == expected
    url = dingtalk.signed_url("https://oapi.dingtalk.com/robot/send?access_token=abc", secret, ts)
    assert url.startswith("https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1700000000000&sign=")
    assert dingtalk.signed_url("http://x/robot/send?access_token=abc", None, ts) == "http://x/robot/send?access_token=abc"


def test_audit_copies_mask_every_phone() -> None:
    """What is stored for audit never holds a full mobile number, on any channel."""
    phone = "13912345678"
    for stored in (
        wecom.audit(wecom.render(title="t", body="b", mentioned_mobiles=[phone])),
        dingtalk.audit(dingtalk.render(title="t", body="b", at_mobiles=[phone])),
        sms_gateway.audit(sms_gateway.render(phone=phone, template="x", params={}, text="t")),
    ):
        assert phone not in str(stored) and "139****5678" in str(stored)


def test_wecom_markdown_is_clipped_to_the_documented_size() -> None:
    """A very long body still fits WeCom's 4096-byte markdown limit."""
    request = wecom.render(title="标题", body="长" * 5000)
    assert len(request["markdown"]["content"].encode()) <= 4096


def test_sms_text_carries_the_signature_and_is_cut() -> None:
    """An SMS starts with 【双报到】 and never runs past the long-SMS limit."""
    assert sms_text("督办", "请报到").startswith("【双报到】督办")
    assert len(sms_text("督办", "字" * 1000)) == SMS_MAX_CHARS


def test_endpoint_urls_are_listed_without_their_credentials() -> None:
    """A robot's key / access_token never shows in full."""
    masked = mask_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa")
    assert masked == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a***"
