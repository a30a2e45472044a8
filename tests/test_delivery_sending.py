"""Sending through the outbox: idempotent queueing, retries with backoff, dead letters, rate limits.

Every send goes over real HTTP to the local receivers of tests/receivers.py; the
business clock (`as_of`) is moved by hand, so backoff is checked without waiting for it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from temporalio.client import Client

from activities.delivery import DeliveryActivities
from api.app import create_app
from db import channel_endpoint as endpoint_db
from db import delivery as delivery_db
from db.pool import Conn, Pool
from schemas.auth import Role, ScopeKind
from schemas.delivery import Channel, ChannelEndpointInput, DeliveryRow, OwnerKind
from services.tokens import issue_token
from telemetry.metrics import NOTIFICATION_FAILURES
from tests import receivers
from tests.conftest import LOG_CAPTURE, unique
from tests.receivers import cleanup, receiver

__all__ = ["cleanup", "receiver"]   # fixtures used by name

def fast(pool: Pool, **overrides: Any) -> DeliveryActivities:
    """Activities with a 1-second HTTP timeout (the receiver's slow answer takes 3) and a 1-second backoff base."""
    settings: dict[str, Any] = {"timeout": 1.0, "retry_base": timedelta(seconds=1), **overrides}
    return DeliveryActivities(pool, **settings)


async def queue_one_wecom_row(pool: Pool, receiver: receivers.Receiver, cleanup: list[str], prefix: str) -> tuple[str, int]:
    """One WeCom row queued for a fresh unit's robot on the receiver; (its idempotency base, the endpoint)."""
    base = unique(prefix)
    cleanup.append(base)
    unit = receivers.owner_id()
    endpoint = await receivers.add_endpoint(pool, owner_kind=OwnerKind.unit, owner_id=unit, channel=Channel.wecom,
                                  url=receiver.url(receivers.WECOM_PATH, key="k"))
    await receivers.queue(pool, [receivers.row(Channel.wecom, OwnerKind.unit, unit, base)])
    return base, endpoint


def _failures(channel: str) -> float:
    value: float = NOTIFICATION_FAILURES.labels(channel=channel)._value.get()
    return value


async def test_sms_retried_after_a_timeout_carries_the_same_idempotency_key(
    pool: Pool, receiver: receivers.Receiver, cleanup: list[str]
) -> None:
    """The gateway got the first request but answered too late: the retry carries the same Idempotency-Key, and our row ends sent once."""
    base = unique("smsto:")
    cleanup.append(base)
    endpoint = await receivers.add_endpoint(pool, owner_kind=OwnerKind.city, channel=Channel.sms,
                                  url=receiver.url(receivers.SMS_PATH))
    phone = receivers.random_phone()
    member = await receivers.add_member(pool, phone)
    await receivers.queue(pool, [receivers.row(Channel.sms, OwnerKind.member, member, base)])
    acts = fast(pool)
    key = f"{base}:sms"
    receiver.fail("sms", "timeout")
    t0 = datetime.now(UTC)
    await receivers.run_deliver(acts, [endpoint], as_of=t0)   # the city gateway is shared: check own rows only
    stored = await receivers.status_of(pool, key)
    assert stored.status == "failed" and "超时" in str(stored.last_error)
    await receivers.run_deliver(acts, [endpoint], as_of=t0 + timedelta(seconds=2))
    await receivers.run_deliver(acts, [endpoint], as_of=t0 + timedelta(hours=1))   # nothing left to send
    seen = [r for r in receiver.of("sms") if r.headers["idempotency-key"] == key]
    assert [r.answered for r in seen] == ["timeout", "ok"]
    assert seen[0].body == seen[1].body
    stored = await receivers.status_of(pool, key)
    assert stored.status == "sent" and stored.attempts == 2 and stored.last_error is None
    assert receiver.problems(base) == []
    assert seen[0].body["phone"] == phone and phone not in str(stored.payload)
    assert phone[3:] not in LOG_CAPTURE.read_text(encoding="utf-8")   # not even unmasked in part


async def test_5xx_is_retried_with_backoff_then_sent(pool: Pool, receiver: receivers.Receiver, cleanup: list[str]) -> None:
    """Two 500s: the row waits 1 s then 2 s (doubling) before each retry, and is sent on the third try."""
    base, endpoint = await queue_one_wecom_row(pool, receiver, cleanup, "5xx:")
    key = f"{base}:wecom"
    acts = fast(pool)
    receiver.fail("wecom", "500", "500")
    t0 = datetime.now(UTC)
    await receivers.run_deliver(acts, [endpoint], as_of=t0)
    assert (await receivers.status_of(pool, key)).next_attempt_at == t0 + timedelta(seconds=1)
    not_yet = await receivers.run_deliver(acts, [endpoint], as_of=t0 + timedelta(milliseconds=500))
    assert not_yet.sent == not_yet.failed == 0 and len(receiver.of("wecom")) == 1
    t1 = t0 + timedelta(seconds=1)
    await receivers.run_deliver(acts, [endpoint], as_of=t1)
    assert (await receivers.status_of(pool, key)).next_attempt_at == t1 + timedelta(seconds=2)
    done = await receivers.run_deliver(acts, [endpoint], as_of=t1 + timedelta(seconds=2))
    assert done.sent == 1 and done.remaining == 0
    assert [r.answered for r in receiver.of("wecom")] == ["500", "500", "ok"]
    stored = await receivers.status_of(pool, key)
    assert stored.status == "sent" and stored.attempts == 3


async def test_rate_limited_errcode_is_retried_not_dead(pool: Pool, receiver: receivers.Receiver, cleanup: list[str]) -> None:
    """WeCom's errcode 45009 (over 20 a minute) is temporary: the row is failed and retried, not dead."""
    base, endpoint = await queue_one_wecom_row(pool, receiver, cleanup, "busy:")
    receiver.fail("wecom", "busy")
    result = await receivers.run_deliver(fast(pool), [endpoint])
    assert result.failed == 1 and result.dead == 0
    assert (await receivers.status_of(pool, f"{base}:wecom")).status == "failed"


async def test_permanent_failures_are_dead_visible_in_the_api_and_counted(
    pool: Pool, client: Client, receiver: receivers.Receiver, cleanup: list[str]
) -> None:
    """An errcode that will not get better is dead at once, 500s are dead after max attempts; both show in GET /deliveries?status=dead and in notification_failures."""
    base = unique("dead:")
    cleanup.append(base)
    unit_a, unit_b = receivers.owner_id(), receivers.owner_id() + 7
    endpoints = [
        await receivers.add_endpoint(pool, owner_kind=OwnerKind.unit, owner_id=unit_a, channel=Channel.wecom,
                           url=receiver.url(receivers.WECOM_PATH, key="bad")),
        await receivers.add_endpoint(pool, owner_kind=OwnerKind.unit, owner_id=unit_b, channel=Channel.wecom,
                           url=receiver.url(receivers.WECOM_PATH, key="flaky")),
    ]
    await receivers.queue(pool, [receivers.row(Channel.wecom, OwnerKind.unit, unit_a, f"{base}:a"),
                       receivers.row(Channel.wecom, OwnerKind.unit, unit_b, f"{base}:b")])
    before = _failures("wecom")
    acts = fast(pool, max_attempts=2)
    receiver.fail("wecom", "errcode", robot="bad")
    receiver.fail("wecom", "500", "500", robot="flaky")
    t0 = datetime.now(UTC)
    await receivers.run_deliver(acts, endpoints, as_of=t0)
    await receivers.run_deliver(acts, endpoints, as_of=t0 + timedelta(seconds=5))
    a, b = await receivers.status_of(pool, f"{base}:a:wecom"), await receivers.status_of(pool, f"{base}:b:wecom")
    assert (a.status, a.attempts) == ("dead", 1) and "93000" in str(a.last_error)
    assert (b.status, b.attempts) == ("dead", 2) and b.last_error == "HTTP 500"
    assert _failures("wecom") == before + 3
    assert (await receivers.run_deliver(acts, endpoints, as_of=t0 + timedelta(hours=2))).sent == 0

    member = await receivers.add_member(pool, None)
    async with pool.acquire() as conn:
        _, city_token = await issue_token(conn, role=Role.org_department, scope_kind=ScopeKind.city,
                                          scope_id=None, label=unique("ops"))
        _, member_token = await issue_token(conn, role=Role.member, scope_kind=ScopeKind.member,
                                            scope_id=member, label=unique("member"))
    app = create_app(pool=pool, temporal_client=client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        page = await http.get("/deliveries", params={"status": "dead", "channel": "wecom", "limit": 500},
                              headers={"Authorization": f"Bearer {city_token}"})
        assert page.status_code == 200
        listed = {d["idempotency_key"]: d for d in page.json()["items"]}
        assert listed[f"{base}:a:wecom"]["last_error"].startswith("errcode 93000")
        assert listed[f"{base}:b:wecom"]["attempts"] == 2
        refused = await http.get("/deliveries", headers={"Authorization": f"Bearer {member_token}"})
        assert refused.status_code == 403


async def test_member_without_phone_and_disabled_endpoint_are_dead_with_reasons(
    pool: Pool, receiver: receivers.Receiver, cleanup: list[str]
) -> None:
    """Nothing to send to is a permanent failure with a Chinese reason, and no request goes out."""
    base = unique("nowhere:")
    cleanup.append(base)
    unit = receivers.owner_id()
    sms = await receivers.add_endpoint(pool, owner_kind=OwnerKind.city, channel=Channel.sms, url=receiver.url(receivers.SMS_PATH))
    robot = await receivers.add_endpoint(pool, owner_kind=OwnerKind.unit, owner_id=unit, channel=Channel.wecom,
                               url=receiver.url(receivers.WECOM_PATH, key="k"))
    member = await receivers.add_member(pool, None)
    await receivers.queue(pool, [receivers.row(Channel.sms, OwnerKind.member, member, f"{base}:m"),
                       receivers.row(Channel.wecom, OwnerKind.unit, unit, f"{base}:u")])
    async with pool.acquire() as conn:
        await endpoint_db.set_enabled(conn, endpoint_id=robot, enabled=False)
    try:
        await receivers.run_deliver(fast(pool), [sms, robot])
    finally:
        async with pool.acquire() as conn:
            await endpoint_db.set_enabled(conn, endpoint_id=robot, enabled=True)
    m, u = await receivers.status_of(pool, f"{base}:m:sms"), await receivers.status_of(pool, f"{base}:u:wecom")
    assert (m.status, m.last_error) == ("dead", "党员未登记手机号")
    assert (u.status, u.last_error) == ("dead", "渠道端点不存在或已停用")
    assert [r for r in receiver.of("sms") if r.headers["idempotency-key"].startswith(base)] == []
    assert receiver.of("wecom") == []


async def test_endpoint_rate_limit_defers_the_rest(pool: Pool, receiver: receivers.Receiver, cleanup: list[str]) -> None:
    """A robot limited to 3 a minute gets 3 of 5 messages now; the other 2 are given back for a minute later, not failed, also when another worker tries them within the minute."""
    base = unique("rate:")
    cleanup.append(base)
    unit = receivers.owner_id()
    endpoint = await receivers.add_endpoint(pool, owner_kind=OwnerKind.unit, owner_id=unit, channel=Channel.wecom,
                                  url=receiver.url(receivers.WECOM_PATH, key="k"), rate_per_minute=3)
    await receivers.queue(pool, [receivers.row(Channel.wecom, OwnerKind.unit, unit, f"{base}:{i}") for i in range(5)])
    acts = fast(pool, max_rate_wait=0.05)
    t0 = datetime.now(UTC)
    result = await receivers.run_deliver(acts, [endpoint], as_of=t0)
    assert (result.sent, result.deferred, result.failed) == (3, 2, 0)
    assert len(receiver.of("wecom")) == 3
    assert result.next_attempt_at is not None
    assert timedelta(seconds=55) < result.next_attempt_at - t0 <= timedelta(seconds=61)
    # Another worker process (fresh activities), same minute, the deferred rows forced due now: the
    # limit comes from the database's record of sends, so it still holds.
    async with pool.acquire() as conn:
        await conn.execute("UPDATE delivery SET next_attempt_at = $2 WHERE idempotency_key LIKE $1 "
                           "AND status = 'pending'", base + "%", t0)
    again = await receivers.run_deliver(fast(pool, max_rate_wait=0.05), [endpoint], as_of=t0)
    assert (again.sent, again.deferred) == (0, 2) and len(receiver.of("wecom")) == 3
    async with pool.acquire() as conn:
        statuses = await conn.fetch("SELECT status, attempts FROM delivery WHERE idempotency_key LIKE $1",
                                    base + "%")
    assert sorted((r["status"], r["attempts"]) for r in statuses) == [
        ("pending", 0), ("pending", 0), ("sent", 1), ("sent", 1), ("sent", 1)]


async def test_inserting_twice_queues_once_and_skips_recipients_without_endpoint(conn: Conn) -> None:
    """insert_deliveries is idempotent on the key, queues external rows only where an endpoint exists, and writes inbox rows to the inbox."""
    unit, other = receivers.owner_id(), receivers.owner_id() + 3
    await endpoint_db.upsert_endpoint(conn, ChannelEndpointInput(
        owner_kind=OwnerKind.unit, owner_id=unit, channel=Channel.wecom, url="http://127.0.0.1:9/x?key=k"))
    base = unique("ins:")
    rows = [receivers.row(Channel.wecom, OwnerKind.unit, unit, f"{base}:1"),
            receivers.row(Channel.dingtalk, OwnerKind.unit, unit, f"{base}:1"),   # no DingTalk robot
            receivers.row(Channel.wecom, OwnerKind.unit, other, f"{base}:2"),     # no robot at all
            receivers.row(Channel.inbox, OwnerKind.unit, unit, f"{base}:1")]
    assert await delivery_db.insert_deliveries(conn, rows) == 2
    assert await delivery_db.insert_deliveries(conn, rows) == 0
    inbox = await conn.fetchrow("SELECT category, title FROM notification WHERE dedupe_key = $1", f"{base}:1")
    assert inbox is not None and inbox["category"] == "registration_confirmation"
    assert await conn.fetchval("SELECT count(*) FROM delivery WHERE idempotency_key LIKE $1", base + "%") == 1


async def test_large_batches_go_through_copy_and_stay_idempotent(conn: Conn) -> None:
    """Above the COPY threshold the same rules hold: every new key queued once, a repeat queues nothing."""
    await endpoint_db.upsert_endpoint(conn, ChannelEndpointInput(
        owner_kind=OwnerKind.city, channel=Channel.sms, url="http://127.0.0.1:9/sms"))
    base = unique("copy:")
    rows = [DeliveryRow(channel=Channel.sms, recipient_kind=OwnerKind.member, recipient_id=i,
                        title="督办", body="请尽快报到", template="campaign_urge",
                        idempotency_key=f"{base}:{i}:sms", params={"n": str(i)})
            for i in range(1, delivery_db.COPY_THRESHOLD + 501)]
    assert await delivery_db.insert_deliveries(conn, rows) == delivery_db.COPY_THRESHOLD + 500
    more = [*rows[:10], rows[0].model_copy(update={"idempotency_key": f"{base}:new:sms"})]
    assert await delivery_db.insert_deliveries(conn, rows + more[10:]) == 1
    params = await conn.fetchval("SELECT params FROM delivery WHERE idempotency_key = $1", f"{base}:7:sms")
    assert params == {"n": "7"}


async def test_deliveries_for_recorded_reminders_are_set_based_and_idempotent(conn: Conn) -> None:
    """One statement queues a delivery per reminder of a step (keyed like the reminder's inbox row plus the channel); repeating it queues none."""
    community = receivers.owner_id()
    await endpoint_db.upsert_endpoint(conn, ChannelEndpointInput(
        owner_kind=OwnerKind.community, owner_id=community, channel=Channel.dingtalk,
        url="http://127.0.0.1:9/robot/send?access_token=t"))
    subject = int(receivers.owner_id())
    for recipient in (community, community + 1):   # the second has no robot
        await conn.execute(
            """
            INSERT INTO reminder (ladder, subject_kind, subject_id, cycle, step, recipient_kind,
                                  recipient_id, reason)
            VALUES ('campaign', 'campaign', $1, 0, 'urge', 'community', $2, '催办')
            """, subject, recipient)

    async def queue_step() -> int:
        return await delivery_db.insert_deliveries_for_reminders(
            conn, ladder="campaign", subject_kind="campaign", subject_id=subject, cycle=0, step="urge",
            recipient_kind="community", channel=Channel.dingtalk, title="【催办】", body="请督促",
            template="campaign_urge", campaign_id=5,
        )

    assert await queue_step() == 1
    assert await queue_step() == 0
    key = f"reminder:campaign:campaign:{subject}:0:urge:community:{community}:dingtalk"
    found = await delivery_db.select_delivery(conn, idempotency_key=key)
    assert found is not None and found.campaign_id == 5 and found.status == "pending"


async def test_rows_claimed_by_a_crashed_worker_are_sent_after_the_lease(
    pool: Pool, receiver: receivers.Receiver, cleanup: list[str]
) -> None:
    """A claim whose worker died (no mark_sent) blocks the row until its lease ends, then the row is sent: the documented at-least-once window."""
    base, endpoint = await queue_one_wecom_row(pool, receiver, cleanup, "lease:")
    t0 = datetime.now(UTC)
    async with pool.acquire() as conn:   # the crashed worker's claim
        [claimed] = await delivery_db.select_pending(conn, limit=10, now=t0, endpoint_ids=[endpoint],
                                                     lease_until=t0 + timedelta(minutes=2))
    assert claimed.idempotency_key == f"{base}:wecom"
    acts = fast(pool)
    during = await receivers.run_deliver(acts, [endpoint], as_of=t0 + timedelta(minutes=1))
    assert during.sent == 0 and receiver.of("wecom") == []
    after = await receivers.run_deliver(acts, [endpoint], as_of=t0 + timedelta(minutes=2))
    assert after.sent == 1 and len(receiver.of("wecom")) == 1
    assert (await receivers.status_of(pool, f"{base}:wecom")).attempts == 1
