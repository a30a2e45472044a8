"""A task created while Temporal was unreachable: the row committed, the workflow never started.
The grid worker asking again for the same need gets that task with its workflow started (found
by the chaos benchmark's reading of create_task: before, the retry was refused with 409 and the
task sat open with no workflow for ever)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter

from db.pool import Pool
from domain import task_rules
from domain.errors import Conflict
from schemas.auth import Actor, Role, ScopeKind
from schemas.dispatch import NeedCreate, NeedDecision, TaskCreate
from services import dispatch
from tests.test_dispatch_workflow import make_city


async def test_a_retried_create_starts_the_workflow_the_first_attempt_could_not(
    pool: Pool, client: Client, task_queue: str
) -> None:
    city = await make_city(pool)
    staff = Actor(role=Role.community_staff, scope_kind=ScopeKind.community, scope_id=city.community_id,
                  label="网格员")
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        need = await dispatch.place_need(conn, staff, NeedCreate(category="助老助残", grid_id=city.grid_id,
                                                                 description="陪老人就医"), now=now)
        await dispatch.decide_need(conn, staff, need.id, NeedDecision(approve=True), now=now)
    data = TaskCreate(need_id=need.id, title="陪老人就医", window_start=now + timedelta(days=1),
                      window_end=now + timedelta(days=1, hours=2))
    unreachable = await Client.connect("127.0.0.1:1", lazy=True, data_converter=pydantic_data_converter)

    with pytest.raises(RuntimeError):   # the SDK's "Failed client connect"
        await dispatch.create_task(pool, unreachable, staff, data, now=now, task_queue=task_queue)
    async with pool.acquire() as conn:
        task_id = await conn.fetchval("SELECT id FROM task WHERE need_id = $1", need.id)
        first_hash = await conn.fetchval("SELECT qr_token_hash FROM task WHERE id = $1", task_id)
    assert task_id is not None

    resumed = await dispatch.create_task(pool, client, staff, data, now=now, task_queue=task_queue)
    handle = client.get_workflow_handle(task_rules.task_workflow_id(task_id))
    try:
        assert resumed.task.id == task_id
        assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
        async with pool.acquire() as conn:
            stored = await conn.fetchval("SELECT qr_token_hash FROM task WHERE id = $1", task_id)
            tasks_of_need = await conn.fetchval("SELECT count(*) FROM task WHERE need_id = $1", need.id)
        assert stored == task_rules.hash_qr_token(resumed.qr_token) != first_hash
        assert tasks_of_need == 1
        assert resumed.resident_rating_code

        # Once the workflow runs, the need is done: asking again is refused as before.
        with pytest.raises(Conflict):
            await dispatch.create_task(pool, client, staff, data, now=now, task_queue=task_queue)
    finally:
        await handle.terminate("test over")
