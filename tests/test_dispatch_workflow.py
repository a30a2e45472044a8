"""The task workflow on the time-skipping server: waves, the ladder, no-shows, overdue reminders,
ratings, follow-up, and the last slot raced by two members."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.dispatch import DispatchActivities
from db import task as task_db
from db.pool import Pool
from domain import task_rules
from domain.dispatch_policy import DEFAULT_POLICY, dispatch_policy
from schemas.dispatch import TaskMode, TaskStatus
from schemas.matching import EscalationLevel
from schemas.task_contract import (
    AnswerOfferUpdate,
    CancelInput,
    ClaimUpdate,
    DispatchPolicy,
    RateUpdate,
    RequeueInput,
    ScanUpdate,
    TaskState,
    TaskWorkflowInput,
    TaskWorkflowResult,
    VerifyInput,
)
from services.workflow_calls import run_update
from tests import places
from tests.updates import refusal
from tests.waiting import fetch, rows_eventually, until
from workflows.task import TaskWorkflow

TOKEN = "qr-secret-token"
ALL_SLOTS = list(range(21))


@dataclass
class City:
    district_id: int
    subdistrict_id: int
    community_id: int
    other_community_id: int
    grid_id: int
    neighbour_grid_id: int
    far_grid_id: int
    members: list[int] = field(default_factory=list)


async def make_city(pool: Pool) -> City:
    """A district with one subdistrict, two communities, and grids g (task), n (next to g), f (far)."""
    async with pool.acquire() as conn:
        d = await places.add_district(conn)
        s = await places.add_subdistrict(conn, d)
        c, c2 = await places.add_community(conn, s, "甲社区"), await places.add_community(conn, s, "乙社区")
        g, n, f = (await places.add_grid(conn, c, "g"), await places.add_grid(conn, c, "n"),
                   await places.add_grid(conn, c2, "f"))
        await places.adjoin(conn, g, n)
    return City(d, s, c, c2, g, n, f)


async def add_member(pool: Pool, city: City, *, grid_id: int, community_id: int | None = None) -> int:
    """An active member placed in `grid_id`, free all week."""
    community = community_id or city.community_id
    async with pool.acquire() as conn:
        member_id = await places.add_member(conn, community_id=community, grid_id=grid_id, free_slots=ALL_SLOTS)
        await places.register_member(conn, member_id, community_id=community, grid_id=grid_id,
                                     confirmed_at=datetime.now(UTC))
    city.members.append(member_id)
    return member_id


async def make_task(pool: Pool, city: City, *, headcount: int = 1, mode: TaskMode = TaskMode.dispatch,
                    start_in: timedelta = timedelta(days=1)) -> tuple[int, datetime, datetime]:
    start = datetime.now(UTC) + start_in
    end = start + timedelta(hours=2)
    async with pool.acquire() as conn:
        task_id = await task_db.insert_task(
            conn, need_id=None, community_id=city.community_id, grid_id=city.grid_id, title="陪老人就医",
            category="助老助残", mode=mode.value, headcount=headcount, required_skills=[],
            window_start=start, window_end=end, place="3号楼", points_per_hour=10, category_bonus=2,
            rating_bonus=2, points_cap=100, redeemable=True,
            qr_token_hash=task_rules.hash_qr_token(TOKEN), created_by="test", at=datetime.now(UTC),
        )
    return task_id, start, end


@pytest.fixture
async def worker(ts_env: WorkflowEnvironment, pool: Pool, task_queue: str) -> AsyncIterator[Worker]:
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[TaskWorkflow],
                      activities=DispatchActivities(pool).all()) as w:
        yield w


Handle = WorkflowHandle[TaskWorkflow, TaskWorkflowResult]


async def start(env: WorkflowEnvironment, task_queue: str, task_id: int, start_at: datetime, end_at: datetime,
                *, skipping: bool = False, policy: DispatchPolicy | None = None,
                mode: TaskMode = TaskMode.dispatch, headcount: int = 1) -> Handle:
    data = TaskWorkflowInput(task_id=task_id, mode=mode, headcount=headcount, window_start=start_at,
                             window_end=end_at, policy=policy or DEFAULT_POLICY)
    if skipping:
        return await env.client.start_workflow(TaskWorkflow.run, data, id=f"task-{task_id}",
                                               task_queue=task_queue)
    with env.with_time_skipping_disabled():
        return await env.client.start_workflow(TaskWorkflow.run, data, id=f"task-{task_id}",
                                               task_queue=task_queue)


def snapshot(handle: Handle) -> Callable[[], Awaitable[TaskState]]:
    """The workflow's snapshot query, for `until`."""
    return lambda: handle.query(TaskWorkflow.snapshot)



async def assert_moves_allowed(pool: Pool, task_id: int) -> list[str]:
    """Every status change the workflow recorded is one the state machine allows; the path taken."""
    rows = await fetch(pool, """SELECT from_status, to_status FROM task_event
                                WHERE task_id = $1 AND kind IN ('status', 'escalated') ORDER BY id""", task_id)
    for row in rows:
        assert task_rules.can_move(TaskStatus(row["from_status"]), TaskStatus(row["to_status"])), row
    return [row["to_status"] for row in rows]


async def serve_through(handle: Handle, member_id: int) -> None:
    """Accept, check in and check out as `member_id`."""
    await run_update(handle, TaskWorkflow.answer_offer, AnswerOfferUpdate(member_id=member_id, accept=True))
    await run_update(handle, TaskWorkflow.check_in, ScanUpdate(member_id=member_id, token=TOKEN))
    await run_update(handle, TaskWorkflow.check_out, ScanUpdate(member_id=member_id, token=TOKEN,
                                                                  report="陪同就医并送回家"))


class TwoMembersTask(NamedTuple):
    city: City
    first: int
    second: int
    task_id: int
    handle: Handle


async def two_members_task(env: WorkflowEnvironment, pool: Pool, task_queue: str, *,
                           headcount: int = 1) -> TwoMembersTask:
    """A new city with two members in its grid and a started dispatch task for `headcount` there."""
    city = await make_city(pool)
    first = await add_member(pool, city, grid_id=city.grid_id)
    second = await add_member(pool, city, grid_id=city.grid_id)
    task_id, s, e = await make_task(pool, city, headcount=headcount)
    handle = await start(env, task_queue, task_id, s, e, headcount=headcount)
    return TwoMembersTask(city, first, second, task_id, handle)


class OfferedTask(NamedTuple):
    city: City
    member: int
    task_id: int
    handle: Handle


async def offer_task_starting_soon(ts_env: WorkflowEnvironment, pool: Pool, task_queue: str) -> OfferedTask:
    """A city with one member and a task starting in five minutes, its workflow offering it to them."""
    city = await make_city(pool)
    member = await add_member(pool, city, grid_id=city.grid_id)
    task_id, s, e = await make_task(pool, city, start_in=timedelta(minutes=5))
    handle = await start(ts_env, task_queue, task_id, s, e)
    await until(snapshot(handle), lambda x: x.open_offers == [member])
    return OfferedTask(city, member, task_id, handle)


async def served_task(env: WorkflowEnvironment, pool: Pool, task_queue: str) -> OfferedTask:
    """A task starting soon that its one member has accepted, checked in to and out of: it is done."""
    offered = await offer_task_starting_soon(env, pool, task_queue)
    await serve_through(offered.handle, offered.member)
    await until(snapshot(offered.handle), lambda x: x.status is TaskStatus.done)
    return offered


async def test_unanswered_wave_times_out_and_next_wave_goes_out(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, worker: Worker
) -> None:
    """An offer nobody answers expires after the offer timeout and the next-best member is offered."""
    city, first, second, task_id, handle = await two_members_task(ts_env, pool, task_queue)
    snap = await until(snapshot(handle), lambda x: x.wave == 1 and bool(x.open_offers))
    assert snap.open_offers == [first]
    await ts_env.fast_forward(handle, timedelta(minutes=31))
    snap = await until(snapshot(handle), lambda x: x.wave == 2 and bool(x.open_offers))
    assert snap.open_offers == [second]
    message = await refusal(run_update(handle, TaskWorkflow.answer_offer,
                                       AnswerOfferUpdate(member_id=first, accept=True)))
    assert message == task_rules.REFUSAL_OFFER_EXPIRED
    offers = await fetch(pool, "SELECT member_id, wave, status, score_parts FROM offer WHERE task_id = $1 ORDER BY wave",
                         task_id)
    assert [(o["member_id"], o["wave"], o["status"]) for o in offers] == [(first, 1, "expired"),
                                                                        (second, 2, "offered")]
    assert offers[0]["score_parts"]["proximity"] > 0   # why chosen is stored with the offer
    await handle.terminate()


async def test_ladder_climbs_to_the_top_then_parks_and_requeue_redispatches(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, worker: Worker
) -> None:
    """With nobody anywhere the task climbs every level, each level's staff are told, it is parked
    with a reason; after requeue it is offered to a member who registered meanwhile."""
    city = await make_city(pool)
    task_id, s, e = await make_task(pool, city)
    handle = await start(ts_env, task_queue, task_id, s, e, skipping=True)
    snap = await until(snapshot(handle), lambda x: x.status is TaskStatus.parked)
    assert snap.level.value == "district" and snap.parked_reason
    rows = await rows_eventually(pool, "SELECT status, parked_reason FROM task WHERE id = $1 AND status = 'parked'",
                            task_id)
    assert rows[0]["status"] == "parked" and "无人接单" in rows[0]["parked_reason"]
    events = await fetch(pool, "SELECT kind, detail FROM task_event WHERE task_id = $1 AND kind = 'escalated' ORDER BY id",
                         task_id)
    assert [ev["detail"]["level"] for ev in events] == ["adjacent", "community", "subdistrict", "district"]
    notes = await rows_eventually(pool, "SELECT recipient_kind, recipient_id, category FROM notification WHERE dedupe_key LIKE $1 ORDER BY id",
                             f"task:{task_id}:%", want=5)
    assert ("subdistrict", city.subdistrict_id, "dispatch_escalated") in [tuple(n.values()) for n in notes]
    assert ("district", city.district_id, "dispatch_escalated") in [tuple(n.values()) for n in notes]
    assert ("district", city.district_id, "dispatch_parked") in [tuple(n.values()) for n in notes]

    far = await add_member(pool, city, grid_id=city.far_grid_id, community_id=city.other_community_id)
    await run_update(handle, TaskWorkflow.requeue, RequeueInput(actor="test"))
    # The far member is only reachable at the subdistrict level: the ladder is climbed again.
    snap = await until(snapshot(handle), lambda x: x.open_offers == [far])
    assert snap.level.value == "subdistrict"
    await handle.terminate()


async def test_no_show_frees_the_slot_and_redispatches(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, worker: Worker
) -> None:
    """A member who accepted but never checked in is marked no-show and the task is offered again."""
    city, first, second, task_id, handle = await two_members_task(ts_env, pool, task_queue)
    await until(snapshot(handle), lambda x: x.open_offers == [first])
    await run_update(handle, TaskWorkflow.answer_offer, AnswerOfferUpdate(member_id=first, accept=True))
    await until(snapshot(handle), lambda x: x.status is TaskStatus.staffed)
    await ts_env.fast_forward(handle, timedelta(days=1, minutes=31))
    snap = await until(snapshot(handle), lambda x: x.open_offers == [second])
    assert snap.filled == 0
    rows = await fetch(pool, "SELECT member_id, status FROM assignment WHERE task_id = $1", task_id)
    assert rows == [{"member_id": first, "status": "no_show"}]
    assert (await assert_moves_allowed(pool, task_id))[-2:] == ["staffed", "offering"]
    await handle.terminate()


async def test_overdue_reminds_member_then_community(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, worker: Worker
) -> None:
    """Past the window's end the member on site is reminded; two hours later the community is told."""
    _, member, task_id, handle = await offer_task_starting_soon(ts_env, pool, task_queue)
    await run_update(handle, TaskWorkflow.answer_offer, AnswerOfferUpdate(member_id=member, accept=True))
    wrong = await refusal(run_update(handle, TaskWorkflow.check_in, ScanUpdate(member_id=member, token="bad")))
    assert wrong == task_rules.REFUSAL_BAD_TOKEN
    await run_update(handle, TaskWorkflow.check_in, ScanUpdate(member_id=member, token=TOKEN))
    await ts_env.fast_forward(handle, timedelta(hours=2, minutes=10))
    key = f"task:{task_id}:overdue:0:%"
    notes = await rows_eventually(pool, "SELECT recipient_kind FROM notification WHERE dedupe_key LIKE $1", key)
    assert [n["recipient_kind"] for n in notes] == ["member"]
    await ts_env.fast_forward(handle, timedelta(hours=2))
    notes = await rows_eventually(pool, "SELECT recipient_kind FROM notification WHERE dedupe_key LIKE $1 ORDER BY id",
                             key, want=2)
    assert [n["recipient_kind"] for n in notes] == ["member", "community"]
    await run_update(handle, TaskWorkflow.check_out, ScanUpdate(member_id=member, token=TOKEN))
    await until(snapshot(handle), lambda x: x.status is TaskStatus.done)
    await handle.terminate()


async def test_rating_defaults_after_the_window_and_points_are_credited_on_verify(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, worker: Worker
) -> None:
    """Without a rating in 72 h a default 5 is recorded (defaulted); verification credits points once."""
    _, member, task_id, handle = await served_task(ts_env, pool, task_queue)
    await ts_env.fast_forward(handle, timedelta(hours=73))
    rating = await rows_eventually(pool, "SELECT score, defaulted FROM resident_rating WHERE task_id = $1", task_id)
    assert rating == [{"score": 5, "defaulted": True}]
    late = await refusal(run_update(handle, TaskWorkflow.rate, RateUpdate(score=1)))
    assert late == task_rules.REFUSAL_ALREADY_RATED
    verified = await run_update(handle, TaskWorkflow.verify, VerifyInput(actor="community_staff:甲"))
    assert verified.points_credited == 1
    result = await handle.result()
    assert result.status is TaskStatus.closed and result.rating == 5
    ledger = await fetch(pool, "SELECT member_id, parts FROM evaluation_points WHERE task_id = $1", task_id)
    assert len(ledger) == 1 and ledger[0]["member_id"] == member
    assert ledger[0]["parts"]["rating_bonus"] == 4.0 and ledger[0]["parts"]["category_bonus"] == 2.0
    redeemable = await fetch(pool, "SELECT count(*) AS n FROM redeemable_points WHERE task_id = $1", task_id)
    assert redeemable[0]["n"] == 1
    path = await assert_moves_allowed(pool, task_id)
    assert path == ["offering", "staffed", "in_progress", "done", "verified", "closed"]


async def test_low_rating_reopens_for_follow_up(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, worker: Worker
) -> None:
    """A rating at or below the threshold puts the task into follow-up and tells the community."""
    city, member, task_id, handle = await served_task(ts_env, pool, task_queue)
    rated = await run_update(handle, TaskWorkflow.rate, RateUpdate(score=2, comment="态度一般"))
    assert rated.follow_up
    await until(snapshot(handle), lambda x: x.status is TaskStatus.follow_up)
    notes = await rows_eventually(pool, "SELECT recipient_kind, recipient_id FROM notification WHERE dedupe_key = $1",
                             f"task:{task_id}:follow_up:community:0")
    assert notes == [{"recipient_kind": "community", "recipient_id": city.community_id}]
    await run_update(handle, TaskWorkflow.verify, VerifyInput(actor="community_staff:甲", note="已回访"))
    assert (await handle.result()).status is TaskStatus.closed
    assert "follow_up" in await assert_moves_allowed(pool, task_id)


async def test_two_members_racing_for_the_last_slot_exactly_one_wins(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, worker: Worker
) -> None:
    """Two accepts for the last slot at once: one is assigned, the other is told the task is full."""
    city = await make_city(pool)
    a = await add_member(pool, city, grid_id=city.grid_id)
    b = await add_member(pool, city, grid_id=city.grid_id)
    task_id, s, e = await make_task(pool, city)
    handle = await start(ts_env, task_queue, task_id, s, e, policy=dispatch_policy(offers_per_slot=2))
    await until(snapshot(handle), lambda x: sorted(x.open_offers) == sorted([a, b]))
    results = await asyncio.gather(
        run_update(handle, TaskWorkflow.answer_offer, AnswerOfferUpdate(member_id=a, accept=True)),
        run_update(handle, TaskWorkflow.answer_offer, AnswerOfferUpdate(member_id=b, accept=True)),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    losses = [r for r in results if isinstance(r, WorkflowUpdateFailedError)]
    assert len(wins) == 1 and len(losses) == 1
    cause = losses[0].cause
    assert isinstance(cause, ApplicationError) and cause.message == task_rules.REFUSAL_TASK_FULL
    rows = await fetch(pool, "SELECT member_id FROM assignment WHERE task_id = $1", task_id)
    assert len(rows) == 1
    await handle.terminate()


async def test_each_level_has_its_own_deadline(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, worker: Worker
) -> None:
    """When the grid level's deadline passes before its offer times out, the task climbs to the
    adjacent grids at once and the member next door is offered it."""
    city = await make_city(pool)
    near = await add_member(pool, city, grid_id=city.grid_id)
    next_door = await add_member(pool, city, grid_id=city.neighbour_grid_id)
    task_id, s, e = await make_task(pool, city)
    policy = dispatch_policy(offer_timeout=timedelta(hours=1),
                            level_deadlines={EscalationLevel.grid: timedelta(minutes=10)})
    handle = await start(ts_env, task_queue, task_id, s, e, policy=policy)
    snap = await until(snapshot(handle), lambda x: x.open_offers == [near])
    assert snap.level is EscalationLevel.grid
    await ts_env.fast_forward(handle, timedelta(minutes=11))
    snap = await until(snapshot(handle), lambda x: x.open_offers == [next_door])
    assert snap.level is EscalationLevel.adjacent
    offers = await fetch(pool, "SELECT member_id, level, status FROM offer WHERE task_id = $1 ORDER BY id", task_id)
    assert offers == [{"member_id": near, "level": "grid", "status": "expired"},
                      {"member_id": next_door, "level": "adjacent", "status": "offered"}]
    await handle.terminate()


async def test_claim_mode_first_come_capped_at_headcount(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, worker: Worker
) -> None:
    """In claim mode eligible members claim until the headcount is reached; later claims and
    members registered elsewhere are refused with the reason."""
    city = await make_city(pool)
    first = await add_member(pool, city, grid_id=city.grid_id)
    second = await add_member(pool, city, grid_id=city.neighbour_grid_id)
    late = await add_member(pool, city, grid_id=city.grid_id)
    elsewhere = await add_member(pool, city, grid_id=city.far_grid_id, community_id=city.other_community_id)
    task_id, s, e = await make_task(pool, city, headcount=2, mode=TaskMode.claim)
    handle = await start(ts_env, task_queue, task_id, s, e, mode=TaskMode.claim, headcount=2)
    await until(snapshot(handle), lambda x: x.status is TaskStatus.open)
    outsider = await refusal(run_update(handle, TaskWorkflow.claim, ClaimUpdate(member_id=elsewhere)))
    assert "未在本社区报到" in outsider
    await run_update(handle, TaskWorkflow.claim, ClaimUpdate(member_id=first))
    await run_update(handle, TaskWorkflow.claim, ClaimUpdate(member_id=second))
    full = await refusal(run_update(handle, TaskWorkflow.claim, ClaimUpdate(member_id=late)))
    assert full == task_rules.REFUSAL_TASK_FULL
    await until(snapshot(handle), lambda x: x.status is TaskStatus.staffed)
    rows = await fetch(pool, "SELECT member_id, source FROM assignment WHERE task_id = $1 ORDER BY member_id", task_id)
    assert rows == [{"member_id": first, "source": "claim"}, {"member_id": second, "source": "claim"}]
    await handle.terminate()


async def test_a_refused_claim_on_the_last_slot_leaves_the_task_open(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, worker: Worker
) -> None:
    """A claim holds the last slot while its check runs; when the check refuses it (a member not
    registered here), the task is still open for claims, not staffed with nobody (it used to go
    staffed → done at once, then wait for a rating of a service nobody gave)."""
    city = await make_city(pool)
    member = await add_member(pool, city, grid_id=city.grid_id)
    elsewhere = await add_member(pool, city, grid_id=city.far_grid_id, community_id=city.other_community_id)
    task_id, s, e = await make_task(pool, city, headcount=1, mode=TaskMode.post)
    handle = await start(ts_env, task_queue, task_id, s, e, mode=TaskMode.post, headcount=1)
    await until(snapshot(handle), lambda x: x.status is TaskStatus.open)
    assert "未在本社区报到" in await refusal(run_update(handle, TaskWorkflow.claim, ClaimUpdate(member_id=elsewhere)))
    await run_update(handle, TaskWorkflow.claim, ClaimUpdate(member_id=member))
    await until(snapshot(handle), lambda x: x.status is TaskStatus.staffed and x.filled == 1)
    rows = await fetch(pool, "SELECT member_id, status FROM assignment WHERE task_id = $1", task_id)
    assert rows == [{"member_id": member, "status": "accepted"}]
    await handle.terminate()


async def test_worker_restarted_after_the_award_credits_once(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str
) -> None:
    """The worker is stopped right after points are awarded and a fresh one (no cache, so the
    workflow is replayed) finishes the task: still exactly one ledger row per service."""
    city = await make_city(pool)
    member = await add_member(pool, city, grid_id=city.grid_id)
    task_id, s, e = await make_task(pool, city, start_in=timedelta(minutes=5))
    acts = DispatchActivities(pool).all()
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[TaskWorkflow], activities=acts):
        handle = await start(ts_env, task_queue, task_id, s, e)
        await until(snapshot(handle), lambda x: x.open_offers == [member])
        await serve_through(handle, member)
        await until(snapshot(handle), lambda x: x.status is TaskStatus.done)
        await run_update(handle, TaskWorkflow.rate, RateUpdate(score=4))
        verified = await run_update(handle, TaskWorkflow.verify, VerifyInput(actor="community_staff:甲"))
        assert verified.points_credited == 1
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[TaskWorkflow], activities=acts,
                      max_cached_workflows=0):
        result = await handle.result()
    assert result.status is TaskStatus.closed and result.points_credited == 1
    rows = await fetch(pool, "SELECT member_id FROM evaluation_points WHERE task_id = $1", task_id)
    assert rows == [{"member_id": member}]


async def test_cancel_before_service_withdraws_offers_and_releases_members(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, worker: Worker
) -> None:
    """Cancelling a task before anyone checked in withdraws open offers, releases and tells the
    member who accepted, and ends the workflow as cancelled; after a check-in it is refused."""
    city, a, b, task_id, handle = await two_members_task(ts_env, pool, task_queue, headcount=2)
    await until(snapshot(handle), lambda x: sorted(x.open_offers) == sorted([a, b]))
    await run_update(handle, TaskWorkflow.answer_offer, AnswerOfferUpdate(member_id=a, accept=True))
    await run_update(handle, TaskWorkflow.cancel, CancelInput(actor="community_staff:甲", reason="居民已自行解决"))
    result = await handle.result()
    assert result.status is TaskStatus.cancelled
    offers = await fetch(pool, "SELECT member_id, status FROM offer WHERE task_id = $1 ORDER BY member_id", task_id)
    assert offers == [{"member_id": a, "status": "accepted"}, {"member_id": b, "status": "withdrawn"}]
    rows = await fetch(pool, "SELECT status FROM assignment WHERE task_id = $1", task_id)
    assert rows == [{"status": "withdrawn"}]
    notes = await fetch(pool, "SELECT recipient_id FROM notification WHERE dedupe_key LIKE $1",
                        f"task:{task_id}:cancelled:%")
    assert notes == [{"recipient_id": a}]
    assert (await assert_moves_allowed(pool, task_id))[-1] == "cancelled"

    started_id, s2, e2 = await make_task(pool, city, start_in=timedelta(minutes=5))
    started = await start(ts_env, task_queue, started_id, s2, e2)
    await until(snapshot(started), lambda x: bool(x.open_offers))
    member = (await started.query(TaskWorkflow.snapshot)).open_offers[0]
    await run_update(started, TaskWorkflow.answer_offer, AnswerOfferUpdate(member_id=member, accept=True))
    await run_update(started, TaskWorkflow.check_in, ScanUpdate(member_id=member, token=TOKEN))
    refused = await refusal(run_update(started, TaskWorkflow.cancel, CancelInput(actor="x", reason="不需要了")))
    assert refused == task_rules.REFUSAL_CANNOT_CANCEL
    await started.terminate()
