"""The task workflow's closed gaps on the time-skipping server: a rejected verification 核查未通过
goes to follow-up and pays nothing until a later verification passes, and a task only partly
staffed at the top of the ladder goes ahead flagged understaffed 人手不足."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.dispatch import DispatchActivities
from db import task as task_db
from db.pool import Pool
from domain import task_rules
from schemas.dispatch import TaskMode, TaskStatus
from schemas.task_contract import AnswerOfferUpdate, ClaimUpdate, RejectVerifyInput, VerifyInput
from services.workflow_calls import run_update
from tests.record_histories import save_from_test
from tests.test_dispatch_workflow import (
    add_member,
    assert_moves_allowed,
    make_city,
    make_task,
    served_task,
    snapshot,
    start,
    two_members_task,
)
from tests.updates import refusal
from tests.waiting import fetch, rows_eventually, until
from workflows.task import TaskWorkflow

STAFF = "community_staff:甲社区"


@pytest.fixture
async def worker(ts_env: WorkflowEnvironment, pool: Pool, task_queue: str) -> AsyncIterator[Worker]:
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[TaskWorkflow],
                      activities=DispatchActivities(pool).all()) as w:
        yield w


async def test_rejected_verification_follows_up_then_a_pass_credits_points_once(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, worker: Worker
) -> None:
    """A rejected verification (with its reason) credits nothing, moves the task to follow-up, is
    written to the history and the audit log and told to the member; the pass after the
    rectification credits the service exactly once and closes the task."""
    _, member, task_id, handle = await served_task(ts_env, pool, task_queue)
    early = await refusal(run_update(handle, TaskWorkflow.reject_verification,
                                     RejectVerifyInput(actor=STAFF, reason="x")))
    assert early == task_rules.REFUSAL_NOT_RATED
    await ts_env.fast_forward(handle, timedelta(hours=73))   # the resident never rates: default 5
    await rows_eventually(pool, "SELECT 1 FROM resident_rating WHERE task_id = $1", task_id)

    rejected = await run_update(handle, TaskWorkflow.reject_verification,
                                RejectVerifyInput(actor=STAFF, reason="签到照片与现场不符"))
    assert rejected.status is TaskStatus.follow_up and rejected.rejections == 1
    again = await run_update(handle, TaskWorkflow.reject_verification,
                             RejectVerifyInput(actor=STAFF, reason="整改记录不完整"))
    assert again.rejections == 2
    assert (await handle.query(TaskWorkflow.snapshot)).status is TaskStatus.follow_up
    assert await fetch(pool, "SELECT 1 FROM evaluation_points WHERE task_id = $1", task_id) == []
    events = await fetch(pool, """SELECT actor, detail FROM task_event WHERE task_id = $1
                                  AND kind = 'verification_rejected' ORDER BY id""", task_id)
    assert [(e["actor"], e["detail"]["reason"]) for e in events] == [(STAFF, "签到照片与现场不符"),
                                                                     (STAFF, "整改记录不完整")]
    audit = await fetch(pool, """SELECT actor, after FROM audit_log WHERE subject_kind = 'task' AND subject_id = $1
                                 AND action = 'task_verification_rejected' ORDER BY id""", task_id)
    assert [a["after"]["reason"] for a in audit] == ["签到照片与现场不符", "整改记录不完整"]
    notes = await fetch(pool, "SELECT recipient_kind, recipient_id, body FROM notification WHERE dedupe_key LIKE $1 "
                              "ORDER BY id", f"task:{task_id}:verify_rejected:%")
    assert [(n["recipient_kind"], n["recipient_id"]) for n in notes] == [("member", member)] * 2
    assert "签到照片与现场不符" in notes[0]["body"]

    verified = await run_update(handle, TaskWorkflow.verify, VerifyInput(actor=STAFF, note="整改后复核通过"))
    assert verified.points_credited == 1
    result = await handle.result()
    assert result.status is TaskStatus.closed and result.points_credited == 1
    await save_from_test(handle, "verify_rejected_then_passed")
    assert len(await fetch(pool, "SELECT 1 FROM evaluation_points WHERE task_id = $1", task_id)) == 1
    with pytest.raises(RPCError):   # closed: the workflow has ended, nothing can reject it now
        await run_update(handle, TaskWorkflow.reject_verification, RejectVerifyInput(actor=STAFF, reason="y"))
    path = await assert_moves_allowed(pool, task_id)
    assert path[-4:] == ["done", "follow_up", "verified", "closed"]


async def test_partly_staffed_at_the_top_goes_ahead_flagged_understaffed(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, worker: Worker
) -> None:
    """Headcount 3, one member accepts and one lets the offer time out, nobody else anywhere: the
    task climbs to the top and goes ahead staffed with one, flagged 2 short, the community told,
    and the ledger's understaffed filter finds it."""
    city, keen, silent, task_id, handle = await two_members_task(ts_env, pool, task_queue, headcount=3)
    await until(snapshot(handle), lambda x: sorted(x.open_offers) == sorted([keen, silent]))
    await run_update(handle, TaskWorkflow.answer_offer, AnswerOfferUpdate(member_id=keen, accept=True))
    await ts_env.fast_forward(handle, timedelta(minutes=31))
    snap = await until(snapshot(handle), lambda x: x.status is TaskStatus.staffed)
    assert snap.shortfall == 2 and snap.filled == 1 and snap.level.value == "district"

    rows = await rows_eventually(pool, "SELECT understaffed_shortfall FROM task WHERE id = $1 AND understaffed_shortfall > 0",
                            task_id)
    assert rows == [{"understaffed_shortfall": 2}]
    notes = await rows_eventually(pool, "SELECT recipient_kind, recipient_id, body FROM notification WHERE dedupe_key = $1",
                             f"task:{task_id}:understaffed:1")
    assert [(n["recipient_kind"], n["recipient_id"]) for n in notes] == [("community", city.community_id)]
    assert "差 2 人" in notes[0]["body"]
    events = await fetch(pool, "SELECT detail FROM task_event WHERE task_id = $1 AND kind = 'understaffed'", task_id)
    assert [(ev["detail"]["shortfall"], ev["detail"]["filled"]) for ev in events] == [(2, 1)]
    async with pool.acquire() as conn:
        flagged = await task_db.select_ledger(
            conn, as_of=datetime.now(UTC), community_ids=[city.community_id], subdistrict_id=None,
            district_id=None, member_id=None, grid_id=None, community_id=None, status=None, overdue=None,
            parked=None, limit=10, understaffed=True)
        full = await task_db.select_ledger(
            conn, as_of=datetime.now(UTC), community_ids=[city.community_id], subdistrict_id=None,
            district_id=None, member_id=None, grid_id=None, community_id=None, status=None, overdue=None,
            parked=None, limit=10, understaffed=False)
    assert [(r.task_id, r.understaffed_shortfall, r.holders) for r in flagged] == [(task_id, 2, [keen])]
    assert task_id not in [r.task_id for r in full]
    assert "parked" not in await assert_moves_allowed(pool, task_id)
    await save_from_test(handle, "understaffed_at_the_top")
    await handle.terminate()


async def test_claim_task_partly_claimed_by_its_start_goes_ahead_flagged(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, worker: Worker
) -> None:
    """A claim-mode task with one of its two places claimed when the window opens goes ahead with
    that member, flagged one short, instead of being parked or going ahead silently."""
    city = await make_city(pool)
    member = await add_member(pool, city, grid_id=city.grid_id)
    task_id, s, e = await make_task(pool, city, headcount=2, mode=TaskMode.claim, start_in=timedelta(hours=1))
    handle = await start(ts_env, task_queue, task_id, s, e, mode=TaskMode.claim, headcount=2)
    await until(snapshot(handle), lambda x: x.status is TaskStatus.open)
    await run_update(handle, TaskWorkflow.claim, ClaimUpdate(member_id=member))
    await ts_env.fast_forward(handle, timedelta(hours=1, minutes=1))
    snap = await until(snapshot(handle), lambda x: x.status is TaskStatus.staffed)
    assert snap.shortfall == 1 and snap.filled == 1
    rows = await rows_eventually(pool, "SELECT understaffed_shortfall FROM task WHERE id = $1 AND understaffed_shortfall > 0",
                            task_id)
    assert rows == [{"understaffed_shortfall": 1}]
    await handle.terminate()
