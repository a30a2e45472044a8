"""UnitTransferWorkflow on the time-skipping dev server against the real Postgres: an unanswered
request reminds, urges and expires; an answered one ends at once with no further reminders."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from db.pool import Pool
from schemas.auth import SYSTEM_ACTOR
from schemas.unit_transfer import UnitTransferOut, UnitTransferStatus, UnitTransferWorkflowResult
from services import unit_transfer as transfers
from tests.record_histories import save_from_test
from tests.test_registration_seed import add_member, reminders, reminders_sent, seed_city
from tests.test_registration_workflows import run_to_completion, running_worker
from workflows.unit_transfer import unit_transfer_workflow_id


async def _world(pool: Pool) -> tuple[int, list[int]]:
    async with pool.acquire() as conn, conn.transaction():
        city = await seed_city(conn, communities=1, units=2)
        return await add_member(conn, city, unit_index=0), city.units


async def transfer_titles(pool: Pool, kind: str, recipient_id: int) -> list[str]:
    """The titles of the unit-transfer notifications a unit or member got, oldest first."""
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT title FROM notification WHERE recipient_kind = $1 AND recipient_id = $2"
                                " AND category = 'unit_transfer' ORDER BY id", kind, recipient_id)
    return [r["title"] for r in rows]


async def _request(ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, *, member_id: int,
                   to_unit_id: int) -> tuple[UnitTransferOut, WorkflowHandle[Any, Any]]:
    """The member's transfer request (time skipping off while it starts) and its workflow's handle."""
    with ts_env.with_time_skipping_disabled():
        async with pool.acquire() as conn:
            transfer = await transfers.start_unit_transfer(
                conn, SYSTEM_ACTOR, member_id=member_id, to_unit_id=to_unit_id, client=ts_env.client,
                task_queue=task_queue)
    return transfer, ts_env.client.get_workflow_handle(unit_transfer_workflow_id(transfer.id))


async def test_unanswered_request_is_reminded_urged_and_expires(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str
) -> None:
    """Nobody answers: the target unit is reminded at day 3 and urged at day 7, and at day 14 the
    request expires and both units and the member are told; the member keeps their unit."""
    member_id, (u0, u1) = await _world(pool)
    async with running_worker(ts_env, pool, task_queue):
        transfer, handle = await _request(ts_env, pool, task_queue, member_id=member_id, to_unit_id=u1)
        key = ("unit_transfer", "unit_transfer", transfer.id)
        await ts_env.fast_forward(handle, timedelta(days=2))
        async with pool.acquire() as conn:
            assert await reminders(conn, key) == []
            await ts_env.fast_forward(handle, timedelta(days=1, hours=1))

            await reminders_sent(conn, key, 1)
            result = UnitTransferWorkflowResult.model_validate(await run_to_completion(ts_env, handle))
            assert [(r["step"], r["recipient_kind"], r["recipient_id"]) for r in await reminders(conn, key)] == [
                ("remind", "unit", u1), ("urge", "unit", u1)]
            assert (result.final_status, result.reminders) == (UnitTransferStatus.expired, 2)
            row = await conn.fetchrow("SELECT status, decided_by, decided_at - requested_at AS waited"
                                      " FROM unit_transfer WHERE id = $1", transfer.id)
            assert row is not None and row["status"] == "expired" and row["decided_by"] == "system:workflow"
            assert row["waited"] >= timedelta(days=14)
            assert await conn.fetchval("SELECT unit_id FROM member WHERE id = $1", member_id) == u0
    assert (await transfer_titles(pool, "unit", u1))[-1] == "转单位申请已失效"
    assert await transfer_titles(pool, "unit", u0) == ["转单位申请已失效"]
    assert await transfer_titles(pool, "member", member_id) == ["转单位申请已失效"]
    await save_from_test(handle, "unanswered_reminded_urged_expired")


async def test_accepted_request_ends_the_workflow_without_more_reminders(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str
) -> None:
    """Accepted after the first reminder: the signal ends the workflow as accepted, no urge follows."""
    member_id, (_, u1) = await _world(pool)
    async with running_worker(ts_env, pool, task_queue):
        transfer, handle = await _request(ts_env, pool, task_queue, member_id=member_id, to_unit_id=u1)
        key = ("unit_transfer", "unit_transfer", transfer.id)
        await ts_env.fast_forward(handle, timedelta(days=3, hours=1))
        async with pool.acquire() as conn:
            await reminders_sent(conn, key, 1)
            await transfers.accept_unit_transfer(conn, SYSTEM_ACTOR, transfer.id, client=ts_env.client)
            result = UnitTransferWorkflowResult.model_validate(await run_to_completion(ts_env, handle))
            assert (result.final_status, result.reminders) == (UnitTransferStatus.accepted, 1)
            assert [r["step"] for r in await reminders(conn, key)] == ["remind"]
            assert await conn.fetchval("SELECT unit_id FROM member WHERE id = $1", member_id) == u1
    await save_from_test(handle, "accepted_after_first_reminder")
