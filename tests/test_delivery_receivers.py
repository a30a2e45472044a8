"""Each channel's format, sent through the real `deliver_pending` activity, is accepted by its
local receiver (tests/receivers.py); a wrong DingTalk secret is refused and recorded."""

from __future__ import annotations

from activities.delivery import DeliveryActivities
from db.pool import Pool
from schemas.delivery import Channel, OwnerKind
from tests import receivers
from tests.conftest import unique
from tests.receivers import cleanup, receiver

__all__ = ["cleanup", "receiver"]   # fixtures used by name


# ---- the formats -----------------------------------------------------------------------------


async def test_each_channel_format_is_accepted_by_its_receiver(
    pool: Pool, receiver: receivers.Receiver, cleanup: list[str]
) -> None:
    """One message per channel (WeCom markdown, WeCom text with @, signed DingTalk, SMS) passes its receiver's checks and is recorded sent."""
    base = unique("fmt:")
    cleanup.append(base)
    unit, community, unit2 = receivers.owner_id(), receivers.owner_id() + 1, receivers.owner_id() + 2
    token, secret = unique("tok"), unique("SEC")
    receiver.dingtalk_secrets[token] = secret
    mobile = receivers.random_phone()
    endpoints = [
        await receivers.add_endpoint(pool, owner_kind=OwnerKind.unit, owner_id=unit, channel=Channel.wecom,
                           url=receiver.url(receivers.WECOM_PATH, key=unique("k"))),
        await receivers.add_endpoint(pool, owner_kind=OwnerKind.unit, owner_id=unit2, channel=Channel.wecom,
                           url=receiver.url(receivers.WECOM_PATH, key=unique("k")), mentioned_mobiles=[mobile]),
        await receivers.add_endpoint(pool, owner_kind=OwnerKind.community, owner_id=community,
                           channel=Channel.dingtalk, url=receiver.url(receivers.DINGTALK_PATH, access_token=token),
                           secret=secret, mentioned_mobiles=[mobile]),
        await receivers.add_endpoint(pool, owner_kind=OwnerKind.city, channel=Channel.sms,
                           url=receiver.url(receivers.SMS_PATH)),
    ]
    member = await receivers.add_member(pool, receivers.random_phone())
    new = await receivers.queue(pool, [
        receivers.row(Channel.wecom, OwnerKind.unit, unit, f"{base}:u"),
        receivers.row(Channel.wecom, OwnerKind.unit, unit2, f"{base}:u2"),
        receivers.row(Channel.dingtalk, OwnerKind.community, community, f"{base}:c"),
        receivers.row(Channel.sms, OwnerKind.member, member, f"{base}:m", params={"count": "3"}),
    ])
    assert new == 4
    # The city's SMS gateway is shared: rows other tests left behind may ride along, so this test
    # asserts on its own rows only.
    result = await receivers.run_deliver(DeliveryActivities(pool), endpoints)
    assert result.sent >= 4
    assert receiver.problems(base) == []
    wecom_bodies = [r.body for r in receiver.of("wecom")]
    assert {b["msgtype"] for b in wecom_bodies} == {"markdown", "text"}
    markdown = next(b for b in wecom_bodies if b["msgtype"] == "markdown")
    assert "党员报到待确认" in markdown["markdown"]["content"]
    text = next(b for b in wecom_bodies if b["msgtype"] == "text")
    assert text["text"]["mentioned_mobile_list"] == [mobile]
    [ding] = receiver.of("dingtalk")
    assert ding.query["sign"] and ding.body["at"]["atMobiles"] == [mobile]
    sms = [r for r in receiver.of("sms") if r.headers["idempotency-key"] == f"{base}:m:sms"]
    assert len(sms) == 1 and sms[0].body["params"] == {"count": "3"}
    for suffix in ("u:wecom", "u2:wecom", "c:dingtalk", "m:sms"):
        stored = await receivers.status_of(pool, f"{base}:{suffix}")
        assert stored.status == "sent" and stored.attempts == 1
    # The audit copy keeps the request but never a full phone number.
    stored_sms = await receivers.status_of(pool, f"{base}:m:sms")
    assert stored_sms.payload is not None and stored_sms.payload["phone"].count("*") == 4
    assert mobile not in str((await receivers.status_of(pool, f"{base}:c:dingtalk")).payload)
    assert mobile not in str((await receivers.status_of(pool, f"{base}:u2:wecom")).payload)


async def test_a_wrong_dingtalk_secret_is_refused_and_recorded(
    pool: Pool, receiver: receivers.Receiver, cleanup: list[str]
) -> None:
    """The DingTalk receiver really verifies the signature: a robot configured with the wrong secret fails permanently (dead)."""
    base = unique("badsign:")
    cleanup.append(base)
    community, token = receivers.owner_id(), unique("tok")
    receiver.dingtalk_secrets[token] = "the-right-secret"
    endpoint = await receivers.add_endpoint(pool, owner_kind=OwnerKind.community, owner_id=community,
                                  channel=Channel.dingtalk, secret="a-wrong-secret",
                                  url=receiver.url(receivers.DINGTALK_PATH, access_token=token))
    await receivers.queue(pool, [receivers.row(Channel.dingtalk, OwnerKind.community, community, base)])
    result = await receivers.run_deliver(DeliveryActivities(pool), [endpoint])
    assert result.dead == 1
    assert receiver.problems() == ["dingtalk: bad sign"]
    stored = await receivers.status_of(pool, f"{base}:dingtalk")
    assert stored.status == "dead" and "HTTP 400" in str(stored.last_error)
