"""The dispatcher workflow on the real Temporal dev server: it drains everything inserted, wakes on
`kick`, and a worker stopped mid-batch loses nothing and resends nothing. (The one resend window,
a hard crash between a receiver's answer and `mark_sent`, is pinned in test_delivery_sending.py.)"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, Worker

from activities.delivery import DeliveryActivities
from db.pool import Pool
from schemas.delivery import Channel, DispatcherInput, OwnerKind
from schemas.settings import Settings
from services.delivery import ensure_dispatcher, kick_dispatcher
from tests import receivers
from tests.conftest import unique
from tests.receivers import cleanup, receiver
from workers.main import run_worker
from workflows.delivery import DeliveryDispatcherWorkflow

__all__ = ["cleanup", "receiver"]   # fixtures used by name

CONCURRENCY = 4


async def _wait_all_sent(pool: Pool, prefix: str, expected: int, *, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while True:
        async with pool.acquire() as conn:
            sent = await conn.fetchval(
                "SELECT count(*) FROM delivery WHERE idempotency_key LIKE $1 AND status = 'sent'",
                prefix + "%",
            )
        if sent == expected:
            return
        assert time.monotonic() < deadline, f"only {sent} of {expected} sent"
        await asyncio.sleep(0.1)


async def _endpoints(pool: Pool, receiver: receivers.Receiver) -> tuple[list[int], int, int, int]:
    unit, community = receivers.owner_id(), receivers.owner_id() + 11
    token = unique("tok")
    receiver.dingtalk_secrets[token] = "dispatch-secret"
    ids = [
        await receivers.add_endpoint(pool, owner_kind=OwnerKind.unit, owner_id=unit, channel=Channel.wecom,
                           url=receiver.url(receivers.WECOM_PATH, key="k"), rate_per_minute=1000),
        await receivers.add_endpoint(pool, owner_kind=OwnerKind.community, owner_id=community,
                           channel=Channel.dingtalk, secret="dispatch-secret", rate_per_minute=1000,
                           url=receiver.url(receivers.DINGTALK_PATH, access_token=token)),
        await receivers.add_endpoint(pool, owner_kind=OwnerKind.city, channel=Channel.sms,
                           url=receiver.url(receivers.SMS_PATH), rate_per_minute=1000),
    ]
    member = await receivers.add_member(pool, receivers.random_phone())
    return ids, unit, community, member


def _keys_seen(receiver: receivers.Receiver, prefix: str) -> Counter[str]:
    """Each delivery's key as the receivers saw it (SMS by header; robots by the body's title marker)."""
    seen: Counter[str] = Counter()
    for r in receiver.received:
        if r.channel == "sms":
            key = r.headers["idempotency-key"]
        elif r.channel == "wecom":
            key = r.body["markdown"]["content"].split("\n", 1)[0].removeprefix("### ")
        else:
            key = r.body["markdown"]["title"]
        if key.startswith(prefix):
            seen[key] += 1
    return seen


def _rows(prefix: str, unit: int, community: int, member: int, n: int, start: int = 0) -> list:  # type: ignore[type-arg]
    rows = []
    for i in range(start, start + n):
        channel, kind, rid = [(Channel.wecom, OwnerKind.unit, unit),
                              (Channel.dingtalk, OwnerKind.community, community),
                              (Channel.sms, OwnerKind.member, member)][i % 3]
        base = f"{prefix}{i}"
        # The title carries the key so the robot receivers can tell deliveries apart.
        r = receivers.row(channel, kind, rid, base)
        rows.append(r.model_copy(update={"title": r.idempotency_key}))
    return rows


async def _queue_fresh(
    pool: Pool, receiver: receivers.Receiver, cleanup: list[str], label: str, n: int
) -> tuple[str, list[int], tuple[int, int, int]]:
    """A fresh prefix (cleaned up after the test) with `n` deliveries to the receiver's endpoints queued under it:
    (prefix, endpoint ids, (unit, community, member))."""
    prefix = unique(label)
    cleanup.append(prefix)
    endpoint_ids, unit, community, member = await _endpoints(pool, receiver)
    await receivers.queue(pool, _rows(prefix, unit, community, member, n))
    return prefix, endpoint_ids, (unit, community, member)

async def test_dispatcher_delivers_everything_and_wakes_on_kick(
    pool: Pool, client: Client, task_queue: str, receiver: receivers.Receiver, cleanup: list[str]
) -> None:
    """Deliveries queued before and after the dispatcher starts are each sent exactly once, the later ones on a kick (well before the idle poll) and across a continue-as-new."""
    prefix, endpoint_ids, owners = await _queue_fresh(pool, receiver, cleanup, "disp:", 9)
    workflow_id = unique("delivery-dispatcher-test-")
    # Two loop iterations per run: the kick below also exercises continue-as-new.
    settings = DispatcherInput(endpoint_ids=endpoint_ids, idle_poll=timedelta(minutes=5), max_items=5,
                               iterations_per_run=2)
    acts = DeliveryActivities(pool, concurrency=CONCURRENCY, timeout=5.0)
    async with Worker(client, task_queue=task_queue, workflows=[DeliveryDispatcherWorkflow],
                      activities=[acts.deliver_pending]):
        await kick_dispatcher(client, task_queue, workflow_id=workflow_id, dispatcher_input=settings)
        first_run = (await client.get_workflow_handle(workflow_id).describe()).run_id
        await _wait_all_sent(pool, prefix, 9)
        await receivers.queue(pool, _rows(prefix, *owners, 6, start=9))
        started = time.monotonic()
        await kick_dispatcher(client, task_queue, workflow_id=workflow_id, dispatcher_input=settings)
        await _wait_all_sent(pool, prefix, 15)
        assert time.monotonic() - started < 30   # the kick, not the 5-minute idle poll
        assert (await client.get_workflow_handle(workflow_id).describe()).run_id != first_run
        history = await client.get_workflow_handle(workflow_id, run_id=first_run).fetch_history()
        await Replayer(workflows=[DeliveryDispatcherWorkflow],
                       data_converter=pydantic_data_converter).replay_workflow(history)
        await client.get_workflow_handle(workflow_id).terminate("test over")
    seen = _keys_seen(receiver, prefix)
    assert len(seen) == 15 and set(seen.values()) == {1}
    assert receiver.problems(prefix) == []


async def test_worker_stopped_mid_batch_loses_and_repeats_nothing(
    pool: Pool, client: Client, task_queue: str, receiver: receivers.Receiver, cleanup: list[str]
) -> None:
    """A worker stopped while sending: it records the requests in flight and gives the rest back, a fresh worker sends the rest at once (not after the lease), every row ends sent once and no receiver sees a message twice."""
    prefix, endpoint_ids, owners = await _queue_fresh(pool, receiver, cleanup, "restart:", 24)
    receiver.delay = 0.15   # slow answers, so the stop lands mid-batch
    workflow_id = unique("delivery-dispatcher-test-")
    settings = DispatcherInput(endpoint_ids=endpoint_ids, idle_poll=timedelta(seconds=2), max_items=8)
    first = DeliveryActivities(pool, concurrency=CONCURRENCY, timeout=5.0)
    async with Worker(client, task_queue=task_queue, workflows=[DeliveryDispatcherWorkflow],
                      activities=[first.deliver_pending]):
        await kick_dispatcher(client, task_queue, workflow_id=workflow_id, dispatcher_input=settings)
        deadline = time.monotonic() + 20
        while len(receiver.received) < 6:
            assert time.monotonic() < deadline, "the first worker sent nothing"
            await asyncio.sleep(0.02)
    # The worker is gone (its running activity cancelled); some rows are still unsent.
    async with pool.acquire() as conn:
        unsent = await conn.fetchval(
            "SELECT count(*) FROM delivery WHERE idempotency_key LIKE $1 AND status <> 'sent'", prefix + "%")
    assert unsent > 0
    receiver.delay = 0.0
    second = DeliveryActivities(pool, concurrency=CONCURRENCY, timeout=5.0)
    async with Worker(client, task_queue=task_queue, workflows=[DeliveryDispatcherWorkflow],
                      activities=[second.deliver_pending]):
        await kick_dispatcher(client, task_queue, workflow_id=workflow_id, dispatcher_input=settings)
        await _wait_all_sent(pool, prefix, 24, within=20)   # well inside the 2-minute lease
        await client.get_workflow_handle(workflow_id).terminate("test over")
    seen = _keys_seen(receiver, prefix)
    assert len(seen) == 24
    assert set(seen.values()) == {1}, seen
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT status, attempts FROM delivery WHERE idempotency_key LIKE $1", prefix + "%")
    assert {r["status"] for r in rows} == {"sent"} and all(r["attempts"] == 1 for r in rows)
    assert receiver.problems(prefix) == []


async def test_worker_start_up_runs_the_dispatcher_so_rows_queued_without_a_kick_go_out(
    pool: Pool, client: Client, task_queue: str, receiver: receivers.Receiver, cleanup: list[str]
) -> None:
    """Rows queued while nobody kicked are sent once a worker starts (`run_worker`, as `up` and
    `worker` run it, starts the dispatcher at boot); starting it again finds the same run."""
    prefix, endpoint_ids, owners = await _queue_fresh(pool, receiver, cleanup, "boot:", 6)   # queued; no kick, no dispatcher
    workflow_id = unique("delivery-dispatcher-boot-")
    stop = asyncio.Event()
    running = asyncio.create_task(run_worker(
        Settings(task_queue=task_queue, graceful_shutdown_seconds=2, exchange_sweep=False), pool=pool,
        client=client, stop=stop,
        dispatcher_id=workflow_id, dispatcher_input=DispatcherInput(endpoint_ids=endpoint_ids)))
    try:
        await _wait_all_sent(pool, prefix, 6)
        handle = client.get_workflow_handle(workflow_id)
        described = await handle.describe()
        assert (described.workflow_type, described.task_queue) == ("DeliveryDispatcherWorkflow", task_queue)
        # A second worker coming up (or a restart) uses the dispatcher that runs.
        assert await ensure_dispatcher(client, task_queue, workflow_id=workflow_id) == described.run_id
    finally:
        stop.set()
        await asyncio.wait_for(running, 15)
        await client.get_workflow_handle(workflow_id).terminate("test over")
    seen = _keys_seen(receiver, prefix)
    assert len(seen) == 6 and set(seen.values()) == {1}
