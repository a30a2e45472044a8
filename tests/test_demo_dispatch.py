"""The demo's task stream: needs flow through dispatch to closed tasks, a decline is re-offered,
a task nobody can staff is parked, a member who never comes is a no-show."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from activities.dispatch import DispatchActivities
from db.pool import Pool
from demo.dispatch import STREAM_ACTOR, StreamPlan, TaskStream, choose_window
from domain.dispatch_policy import dispatch_policy
from domain.local_time import slot_of
from schemas.dispatch import LedgerFilter, OfferStatus, TaskStatus
from schemas.matching import EscalationLevel
from services import dispatch
from tests import places
from workflows.task import TaskWorkflow

SECONDS = timedelta(seconds=4)
FAST = StreamPlan(
    new_need_every=0.8, total_needs=6, tick=0.3, think=(0.3, 0.9), reject_every=5,
    policy=dispatch_policy(
        offer_timeout=SECONDS, level_deadlines=dict.fromkeys(EscalationLevel, SECONDS), no_show_grace=SECONDS,
        overdue_community_after=SECONDS, rating_window=SECONDS,
    ),
)


async def _district(pool: Pool) -> int:
    """A district of two communities with three grids and eight active members, each free all
    week except one slot far from now (so no one can take a week-long task)."""
    busy = (slot_of(datetime.now(UTC)) + 10) % 21
    slots = [s for s in range(21) if s != busy]
    async with pool.acquire() as conn:
        d = await places.add_district(conn, "演示区")
        s = await places.add_subdistrict(conn, d)
        communities = [await places.add_community(conn, s, name) for name in ("甲社区", "乙社区")]
        grids = [await places.add_grid(conn, c, n)
                 for c, n in ((communities[0], "一网格"), (communities[0], "二网格"), (communities[1], "三网格"))]
        await places.adjoin(conn, grids[0], grids[1])
        for i in range(8):
            grid = grids[i % 3]
            community = communities[0] if grid != grids[2] else communities[1]
            member_id = await places.add_member(conn, community_id=community, grid_id=grid, free_slots=slots)
            await places.register_member(conn, member_id, community_id=community, grid_id=grid,
                                         confirmed_at=datetime.now(UTC))
    district_id: int = d
    return district_id


async def test_stream_moves_tasks_through_every_state(pool: Pool, client: Client, task_queue: str) -> None:
    """Within seconds the stream closes tasks, keeps one offering for a while, parks the one nobody
    can staff, re-offers a declined task to someone else and re-dispatches after a no-show, and
    stops cleanly when cancelled."""
    district_id = await _district(pool)
    async with Worker(client, task_queue=task_queue, workflows=[TaskWorkflow],
                      activities=DispatchActivities(pool).all()):
        stream = TaskStream(pool, client, task_queue=task_queue, plan=FAST, district_id=district_id)
        running = asyncio.create_task(stream.run())
        seen: set[TaskStatus] = set()
        no_show_seen = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 45
        try:
            while loop.time() < deadline:
                assert not running.done(), running.exception()
                async with pool.acquire() as conn:
                    rows = [r for r in await dispatch.ledger(conn, STREAM_ACTOR, LedgerFilter(limit=1000),
                                                             now=datetime.now(UTC))
                            if r.task_id in stream.state.tokens]
                    seen |= {r.status for r in rows}
                    if stream.state.no_show_task is not None:
                        history = await dispatch.task_history(conn, STREAM_ACTOR, stream.state.no_show_task)
                        no_show_seen = any(e.kind == "no_show" for e in history)
                if {TaskStatus.closed, TaskStatus.offering, TaskStatus.parked} <= seen and no_show_seen:
                    break
                await asyncio.sleep(0.3)
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
        assert {TaskStatus.closed, TaskStatus.offering, TaskStatus.parked} <= seen, seen
        assert no_show_seen, "the member who never came was not marked no-show"
        assert stream.state.needs == FAST.total_needs
        assert len(stream.state.tokens) == FAST.total_needs - 1   # one need was rejected
        async with pool.acquire() as conn:
            parked = await dispatch.get_task(conn, STREAM_ACTOR, stream.state.parked_task or 0)
            assert parked.status is TaskStatus.parked and parked.parked_reason
            assert stream.state.declined_task is not None
            offers = await dispatch.list_offers(conn, STREAM_ACTOR, stream.state.declined_task)
        statuses = [o.status for o in sorted(offers, key=lambda o: o.id)]
        assert statuses[0] is OfferStatus.declined and OfferStatus.accepted in statuses[1:], statuses


def test_window_lands_in_a_slot_where_someone_is_free() -> None:
    """The chosen service window lies in one free-time slot that one of the members has free."""
    now = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)   # a Monday morning in Beijing (slot 0)
    start, end = choose_window(now, [[5], []])          # one member free on Tuesday evening only
    assert slot_of(start) == 5 and slot_of(end - timedelta(seconds=1)) == 5
    assert start > now


async def test_stopping_mid_update_ends_the_stream_as_cancelled(pool: Pool, client: Client, task_queue: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Cancelling the stream while a member's answer waits on the workflow (no worker to take it)
    ends it as a cancelled task, not with the client's update-timeout error, so the stack's stop
    goes on to the API and the worker."""
    answering = asyncio.Event()
    real_answer = dispatch.answer_offer

    async def answer_offer(*args: Any, **kwargs: Any) -> Any:
        answering.set()   # the member's answer is on its way to the workflow
        return await real_answer(*args, **kwargs)

    monkeypatch.setattr(dispatch, "answer_offer", answer_offer)
    district_id = await _district(pool)
    plan = StreamPlan(new_need_every=60, total_needs=1, tick=0.2, think=(1.0, 1.0), policy=dispatch_policy(
        offer_timeout=timedelta(minutes=5)))
    stream = TaskStream(pool, client, task_queue=task_queue, plan=plan, district_id=district_id)
    running = asyncio.create_task(stream.run())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    async with Worker(client, task_queue=task_queue, workflows=[TaskWorkflow],
                      activities=DispatchActivities(pool).all()):
        while True:
            assert loop.time() < deadline, "no offer went out"
            assert not running.done(), running.exception()
            task_id = next(iter(stream.state.tokens), None)
            if task_id is not None:
                async with pool.acquire() as conn:
                    if await dispatch.list_offers(conn, STREAM_ACTOR, task_id):
                        break
            await asyncio.sleep(0.1)
    # The worker is gone: the member's answer (after a second's thought) now waits on the server.
    await asyncio.wait_for(answering.wait(), timeout=20)
    assert not running.done()
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    assert running.cancelled()
