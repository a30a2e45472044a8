"""The exchange's expiry backstop against real Postgres and Temporal: redemptions whose timer was
lost (their workflow waits on a task queue no worker polls: a worker that is down) are lapsed by
RedemptionSweepWorkflow once their code expired, their points returned once, however many sweeps
(sequential or at once) and timers reach them; a confirmed redemption is never expired, and one
not yet due is left alone. The Schedule that runs the sweep exists once and starts it."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta

from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleOverlapPolicy,
)
from temporalio.worker import Worker

from activities.exchange import ExchangeActivities
from db.pool import Pool
from schemas.auth import Actor, Role, ScopeKind
from schemas.exchange import ItemCreate, RedeemInput
from schemas.exchange_contract import RedemptionWorkflowResult, SweepInput, SweepResult
from services import exchange
from tests.api_fixtures import ApiCity, _member, api_city_fixture  # noqa: F401
from tests.cli_runner import run_cli
from tests.conftest import unique
from tests.record_histories import save_from_test
from tests.waiting import eventually
from workflows.exchange import RedemptionSweepWorkflow, RedemptionWorkflow


async def _member_with_points(pool: Pool, city: ApiCity, points: float) -> Actor:
    async with pool.acquire() as conn:
        member_id, _ = await _member(conn, name=f"兑换党员{unique()}", unit_id=city.unit["A"],
                                     community_id=city.community["A"], grid_id=city.grids["A"][0],
                                     phone="139" + str(uuid.uuid4().int)[:8])
        await conn.execute(
            "INSERT INTO redeemable_points (member_id, service_key, points, parts, awarded_at)"
            " VALUES ($1, $2, $3, '{}', now())", member_id, f"test-credit:{uuid.uuid4()}", points)
    return Actor(role=Role.member, scope_kind=ScopeKind.member, scope_id=member_id, label="党员")


async def _lines(pool: Pool, member: Actor) -> list[float]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT points::float AS p FROM redeemable_points WHERE member_id = $1 ORDER BY id",
                                member.scope_id)
        balance = await conn.fetchval("SELECT balance::float FROM redeemable_balance WHERE member_id = $1",
                                      member.scope_id)
    lines = [r["p"] for r in rows]
    assert balance == sum(lines), "the balance row equals the sum of the ledger's lines"
    return lines


async def _state(pool: Pool, redemption_id: int) -> str:
    async with pool.acquire() as conn:
        state: str = await conn.fetchval("SELECT state FROM exchange_redemption WHERE id = $1", redemption_id)
    return state


async def _sweep(client: Client, task_queue: str, workflow_id: str | None = None) -> SweepResult:
    # grace 0: whatever expired before now is due (the schedule's default waits 10 minutes)
    return await client.execute_workflow(RedemptionSweepWorkflow.run, SweepInput(grace_seconds=0, batch=2),
                                         id=workflow_id or unique("sweep-"), task_queue=task_queue)


async def test_sweep_returns_lost_timers_points_once_and_never_touches_a_confirmed_one(
        pool: Pool, client: Client, task_queue: str, api_city: ApiCity) -> None:
    now = datetime.now(UTC)
    past = now - timedelta(days=5)
    shop = Actor(role=Role.provider, scope_kind=ScopeKind.provider, scope_id=api_city.provider["A"], label="商户")
    async with pool.acquire() as conn:
        item = await exchange.create_item(conn, shop, ItemCreate(
            name=f"大米{unique()}", points=4, stock=10, valid_from=now - timedelta(days=10),
            valid_until=now + timedelta(days=10), collect_at="前台", collect_hours=1,
            community_id=api_city.community["A"]), now=now)
    lost, kept, fresh, lost_too = [await _member_with_points(pool, api_city, 10) for _ in range(4)]
    down = unique("no-worker-")   # the redemptions' timers wait here: their worker is down

    async def redeem(member: Actor, at: datetime) -> tuple[int, str]:
        done = await exchange.redeem(pool, client, member, item.id, RedeemInput(request_id=uuid.uuid4().hex),
                                     now=at, task_queue=down)
        return done.redemption.id, done.code

    lost_id, _ = await redeem(lost, past)                  # expired 5 days ago, never collected
    lost_too_id, _ = await redeem(lost_too, past)
    kept_id, code = await redeem(kept, past)               # collected within its hour
    await exchange.confirm(pool, client, shop, code, now=past + timedelta(minutes=10))
    fresh_id, _ = await redeem(fresh, now)                 # its hour has not passed
    assert [await _lines(pool, m) for m in (lost, kept, fresh)] == [[10.0, -4.0]] * 3

    async with Worker(client, task_queue=task_queue, workflows=[RedemptionSweepWorkflow],
                      activities=ExchangeActivities(pool).all()):
        # two sweeps at once, then one more: batches of 2 over the whole database's backlog
        first_id = unique("sweep-")
        first = await asyncio.gather(_sweep(client, task_queue, first_id), _sweep(client, task_queue))
        again = await _sweep(client, task_queue)
    assert sum(r.refunded for r in first) == sum(r.expired for r in first) >= 2
    assert again.expired == 0 and again.refunded == 0, "nothing left to lapse"
    assert await _state(pool, lost_id) == await _state(pool, lost_too_id) == "expired"
    assert await _lines(pool, lost) == [10.0, -4.0, 4.0] == await _lines(pool, lost_too)
    assert await _state(pool, kept_id) == "collected" and await _lines(pool, kept) == [10.0, -4.0]
    assert await _state(pool, fresh_id) == "issued" and await _lines(pool, fresh) == [10.0, -4.0]
    async with pool.acquire() as conn:
        stock = await conn.fetchval("SELECT stock FROM exchange_item WHERE id = $1", item.id)
    assert stock == 10 - 4 + 2, "the two lapsed ones went back to stock, once each"

    # the worker comes back: the lost timers fire, find their redemptions expired, and change nothing
    async with Worker(client, task_queue=down, workflows=[RedemptionWorkflow],
                      activities=ExchangeActivities(pool).all()):
        for redemption_id in (lost_id, kept_id):
            handle = client.get_workflow_handle(exchange.workflow_id(redemption_id),
                                                result_type=RedemptionWorkflowResult)
            assert (await asyncio.wait_for(handle.result(), 20)).state == (
                "expired" if redemption_id == lost_id else "collected")
        await client.get_workflow_handle(exchange.workflow_id(fresh_id)).terminate("test over")
    assert await _lines(pool, lost) == [10.0, -4.0, 4.0]
    assert await _lines(pool, kept) == [10.0, -4.0]
    await save_from_test(client.get_workflow_handle(first_id), "swept_backlog")


async def test_the_sweep_schedule_exists_once_and_starts_a_sweep(pool: Pool, client: Client,
                                                                 task_queue: str) -> None:
    schedule_id = unique("exchange-redemption-sweep-test-")
    assert await exchange.ensure_sweep_schedule(client, task_queue=task_queue, schedule_id=schedule_id,
                                                sweep=SweepInput(grace_seconds=600)) == schedule_id
    # a second worker starting (or a restart) updates the one schedule in place
    await exchange.ensure_sweep_schedule(client, task_queue=task_queue, schedule_id=schedule_id,
                                         sweep=SweepInput(grace_seconds=600))
    handle = client.get_schedule_handle(schedule_id)
    described = await handle.describe()
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.task_queue) == ("RedemptionSweepWorkflow", task_queue)
    assert [i.every for i in described.schedule.spec.intervals] == [exchange.SWEEP_EVERY]
    assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    try:
        async with Worker(client, task_queue=task_queue, workflows=[RedemptionSweepWorkflow],
                          activities=ExchangeActivities(pool).all()):
            await handle.trigger()

            started: list[str] = []

            async def has_started() -> bool:
                actions = (await handle.describe()).info.recent_actions
                started.extend(a.action.workflow_id for a in actions
                               if isinstance(a.action, ScheduleActionExecutionStartWorkflow))
                return bool(started)

            await eventually(has_started, seconds=15, what="the trigger starts a sweep")
            sweep = client.get_workflow_handle(started[0], result_type=SweepResult)
            result = await asyncio.wait_for(sweep.result(), 20)
            assert result.looked_at >= 0
            await save_from_test(sweep, "scheduled_sweep")
    finally:
        await handle.delete()


async def test_cli_sweeps_now(pool: Pool, client: Client, task_queue: str, api_city: ApiCity, _migrated: str) -> None:
    """`shuangbaodao exchange sweep` runs one sweep at once and says what it returned."""
    now = datetime.now(UTC)
    shop = Actor(role=Role.provider, scope_kind=ScopeKind.provider, scope_id=api_city.provider["A"], label="商户")
    async with pool.acquire() as conn:
        item = await exchange.create_item(conn, shop, ItemCreate(
            name=f"毛巾{unique()}", points=3, stock=2, valid_from=now - timedelta(days=3),
            valid_until=now + timedelta(days=3), collect_at="前台", collect_hours=1,
            community_id=api_city.community["A"]), now=now)
    member = await _member_with_points(pool, api_city, 5)
    done = await exchange.redeem(pool, client, member, item.id, RedeemInput(request_id=uuid.uuid4().hex),
                                 now=now - timedelta(days=2), task_queue=unique("no-worker-"))
    kw = {"dsn": _migrated, "temporal": client.service_client.config.target_host, "task_queue": task_queue}
    async with Worker(client, task_queue=task_queue, workflows=[RedemptionSweepWorkflow],
                      activities=ExchangeActivities(pool).all()):
        code, out, err = await run_cli(["exchange", "sweep", "--grace-minutes", "0"], **kw)
        assert code == 0, err
        assert re.search(r"本次过期 [1-9]\d*, 退回积分 [1-9]\d*", out), out
        code, out, err = await run_cli(["exchange", "sweep", "--grace-minutes", "0"], **kw)
        assert code == 0, err
    assert await _state(pool, done.redemption.id) == "expired"
    assert await _lines(pool, member) == [5.0, -3.0, 3.0]
    code, _, err = await run_cli(["exchange", "sweep", "--grace-minutes", "-1"], **kw)
    assert code != 0 and "grace-minutes" in err
