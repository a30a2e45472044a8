"""Waiting for what workflows and activities do a moment later: one home for the test suite.

Every wait polls a condition and, when it is not met in time, fails with what it last saw;
none returns a partial result. None of these proves that something did NOT happen: for that,
wait for the event that settles it (see the tests that use `settled`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle

from db.pool import Pool

T = TypeVar("T")

POLL_SECONDS = 0.1


async def eventually(check: Callable[[], Awaitable[bool]], *, seconds: float = 15.0, what: str = "") -> None:
    """Return once `check()` holds; fail after `seconds`."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not reached in {seconds} s: {what or check}")
        await asyncio.sleep(POLL_SECONDS)


async def until(read: Callable[[], Awaitable[T]], check: Callable[[T], bool], *, seconds: float = 15.0) -> T:
    """The first value of `read()` for which `check` holds (e.g. a workflow's snapshot query)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await read()
        if check(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not reached in {seconds} s; last seen: {value}")
        await asyncio.sleep(POLL_SECONDS)


async def fetch(pool: Pool, sql: str, *args: object) -> list[dict[str, Any]]:
    """The rows of one query, as dicts."""
    async with pool.acquire() as conn:
        return [dict(r) for r in await conn.fetch(sql, *args)]


async def rows_eventually(pool: Pool, sql: str, *args: object, want: int = 1,
                          seconds: float = 10.0) -> list[dict[str, Any]]:
    """The rows of `sql` once there are at least `want` of them (activities land a moment after
    the workflow's state changes); fail with the rows seen if they do not come in time."""
    rows: list[dict[str, Any]] = []

    async def enough() -> bool:
        nonlocal rows
        rows = await fetch(pool, sql, *args)
        return len(rows) >= want

    try:
        await eventually(enough, seconds=seconds)
    except AssertionError:
        raise AssertionError(f"wanted {want} rows of {sql!r} {args}, saw {len(rows)}: {rows}") from None
    return rows


async def settled(handle: WorkflowHandle[Any, Any], *, seconds: float = 15.0) -> None:
    """Return once the workflow has done everything it can do now: it has ended, or it waits on
    a timer or a signal with no activity and no workflow task pending. What it has not done by
    then it will not do before its next timer fires or a message arrives: the way to show that
    something did NOT happen, without a fixed sleep."""
    async def idle() -> bool:
        described = await handle.describe()
        if described.status is not WorkflowExecutionStatus.RUNNING:
            return True
        raw = described.raw_description
        if raw.pending_activities or raw.HasField("pending_workflow_task"):
            return False
        last = None
        async for event in handle.fetch_history_events():
            if event.event_type not in _CLOCK:
                last = event
        return last is not None and last.event_type in _WAITING

    await eventually(idle, seconds=seconds, what="the workflow to settle")


# The time-skipping server's own bookkeeping of the virtual clock, not the workflow's doing.
_CLOCK = {EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIME_SKIPPING_TRANSITIONED}
_WAITING = {EventType.EVENT_TYPE_TIMER_STARTED, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED}
