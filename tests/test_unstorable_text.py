"""Text Postgres cannot store (NUL, a lone surrogate) never reaches a workflow, and if it did, the
workflow would refuse the update at once instead of retrying its activity for ever.

- Through the API: every workflow update's free text (task answer and cancel reasons, a whistle's
  decline reason, a campaign's pause reason) is refused with 422 naming the field, and the task
  is left exactly as it was (still open, its offer still answerable); cancelling it afterwards
  answers "cancelled" only once the task row says so.
- Below the API (an update sent straight to the workflow, as a bug might): the activity's
  database error is non-retryable (workers/permanent_errors), the update is refused as
  invalid input within seconds, and the same update with storable text then goes through.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.dispatch import DispatchActivities
from api.app import create_app
from db.pool import Pool
from domain.errors import Conflict, InvalidInput
from schemas.auth import Role, ScopeKind
from schemas.task_contract import AnswerOfferUpdate, TaskWorkflowResult
from services.tokens import issue_token
from services.workflow_calls import execute_update, run_update
from tests.test_dispatch_workflow import Handle, add_member, make_city, offer_task_starting_soon, snapshot
from tests.waiting import fetch, until
from workers.permanent_errors import PermanentErrorInterceptor
from workflows.task import TaskWorkflow

UNSTORABLE = ["不\u0000便", "\ud800", "a\udfffb"]


@pytest.fixture
async def http(pool: Pool, client: Client, task_queue: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(pool=pool, temporal_client=client)
    app.state.task_queue = task_queue
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


async def _token(pool: Pool, role: Role, kind: ScopeKind, scope_id: int | None) -> dict[str, str]:
    async with pool.acquire() as conn:
        _, token = await issue_token(conn, role=role, scope_kind=kind, scope_id=scope_id, label="测试")
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def _body(**fields: object) -> str:
    # json.dumps spells a lone surrogate as its \\ud800 escape, as a hostile client would send it
    return json.dumps(fields)


def _refused(r: httpx.Response, field: str) -> None:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "invalid_input" and field in body["message"], body
    # NUL gets schemas.text's message; a lone surrogate is already refused by the JSON parser
    assert any(e["loc"][-1] == field and e["type"] in {"value_error", "string_unicode"}
               for e in body["errors"]), body
    if "\\u0000" in r.request.content.decode():
        assert "无法保存的字符" in json.dumps(body, ensure_ascii=False), body


async def test_unstorable_text_through_every_workflow_update_is_refused_and_changes_nothing(
    pool: Pool, client: Client, http: httpx.AsyncClient, task_queue: str
) -> None:
    city = await make_city(pool)
    member = await add_member(pool, city, grid_id=city.grid_id)
    staff = await _token(pool, Role.community_staff, ScopeKind.community, city.community_id)
    me = await _token(pool, Role.member, ScopeKind.member, member)
    org = await _token(pool, Role.org_department, ScopeKind.city, None)
    start = datetime.now(UTC) + timedelta(days=1)
    async with Worker(client, task_queue=task_queue, workflows=[TaskWorkflow],
                      activities=DispatchActivities(pool).all(), interceptors=[PermanentErrorInterceptor()]):
        r = await http.post("/tasks", headers=staff, content=_body(
            grid_id=city.grid_id, category="助老助残", title="陪老人就医", headcount=1,
            window_start=start.isoformat(), window_end=(start + timedelta(hours=2)).isoformat()))
        assert r.status_code == 201, r.text
        task_id = r.json()["task"]["id"]
        # Typed by hand: mypy infers get_workflow_handle_for(TaskWorkflow.run) as Never when it
        # checks the whole tree with a cold cache (this file alone checks fine).
        handle: Handle = client.get_workflow_handle(f"task-{task_id}", result_type=TaskWorkflowResult)
        await until(snapshot(handle), lambda s: s.open_offers == [member])
        before = await fetch(pool, "SELECT status FROM task WHERE id = $1", task_id)

        for text in UNSTORABLE:
            _refused(await http.post(f"/tasks/{task_id}/answer", headers=me,
                                     content=_body(member_id=member, accept=False, reason=text)), "reason")
            _refused(await http.post(f"/tasks/{task_id}/cancel", headers=staff, content=_body(reason=text)),
                     "reason")
            _refused(await http.post("/whistles/1/answer", headers=staff,
                                     content=_body(unit_id=1, accept=False, decline_reason=text)), "decline_reason")
            _refused(await http.post("/campaigns/1/pause", headers=org, content=_body(reason=text)), "reason")

        # nothing changed: the task is as it was and its offer is still open to the member
        assert await fetch(pool, "SELECT status FROM task WHERE id = $1", task_id) == before
        state = await handle.query(TaskWorkflow.snapshot)
        assert state.open_offers == [member] and state.status.value == before[0]["status"]
        offers = await fetch(pool, "SELECT status FROM offer WHERE task_id = $1", task_id)
        assert offers == [{"status": "offered"}]

        # a storable reason goes through, and "cancelled" is answered only once it is recorded
        r = await http.post(f"/tasks/{task_id}/cancel", headers=staff, content=_body(reason="活动改期"))
        assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
        assert await fetch(pool, "SELECT status FROM task WHERE id = $1", task_id) == [{"status": "cancelled"}]
        assert await fetch(pool, "SELECT status FROM offer WHERE task_id = $1", task_id) == [{"status": "withdrawn"}]


async def test_an_activity_refused_by_the_database_ends_the_update_not_the_workflow(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str
) -> None:
    """A decline reason with NUL sent straight to the workflow: the activity's database write fails
    with a data error, which is not retried; the caller gets InvalidInput within seconds (before,
    the update hung while the activity was retried every 30 s for ever), the offer is untouched and
    the same member's answer with a storable reason is then recorded."""
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[TaskWorkflow],
                      activities=DispatchActivities(pool).all(), interceptors=[PermanentErrorInterceptor()]):
        offered = await offer_task_starting_soon(ts_env, pool, task_queue)
        with ts_env.with_time_skipping_disabled(), pytest.raises(InvalidInput) as refused:
            await asyncio.wait_for(execute_update(
                ts_env.client, f"task-{offered.task_id}", TaskWorkflow.answer_offer,
                AnswerOfferUpdate(member_id=offered.member, accept=False, reason="不\u0000便"),
                not_running=Conflict("任务流程未在运行")), timeout=30)
        assert "无法保存" in refused.value.message
        state = await offered.handle.query(TaskWorkflow.snapshot)
        assert state.open_offers == [offered.member]
        assert await fetch(pool, "SELECT status FROM offer WHERE task_id = $1", offered.task_id) == [
            {"status": "offered"}]
        with ts_env.with_time_skipping_disabled():
            answered = await run_update(offered.handle, TaskWorkflow.answer_offer,
                                        AnswerOfferUpdate(member_id=offered.member, accept=False, reason="不便"))
        assert answered.status.value == "declined"


async def test_a_close_the_database_refuses_leaves_the_whistle_open(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str
) -> None:
    """A whistle's close summary with NUL sent straight to the workflow: refused as invalid input
    within seconds, the whistle is not left 'closing' for ever (a later close with a storable
    summary closes it)."""
    from activities.whistle import WhistleActivities
    from schemas.whistle import WhistleStatus
    from schemas.whistle_contract import CloseInput
    from tests.test_whistle_workflow import blow
    from tests.test_whistle_workflow import make_city as make_whistle_city
    from workflows.whistle import WhistleWorkflow

    async with Worker(ts_env.client, task_queue=task_queue, workflows=[WhistleWorkflow],
                      activities=WhistleActivities(pool).all(), interceptors=[PermanentErrorInterceptor()]):
        city = await make_whistle_city(pool, with_units=False)
        whistle_id, handle = await blow(ts_env, pool, task_queue, city, people=2, skipping=True)
        await until(lambda: handle.query(WhistleWorkflow.snapshot), lambda s: s.status is WhistleStatus.parked)
        with ts_env.with_time_skipping_disabled(), pytest.raises(InvalidInput):
            await asyncio.wait_for(execute_update(
                ts_env.client, f"whistle-{whistle_id}", WhistleWorkflow.close,
                CloseInput(summary="处置\u0000完毕", actor="staff"), not_running=Conflict("x")), timeout=30)
        assert (await handle.query(WhistleWorkflow.snapshot)).status is WhistleStatus.parked
        assert await fetch(pool, "SELECT status FROM whistle WHERE id = $1", whistle_id) == [{"status": "parked"}]
        with ts_env.with_time_skipping_disabled():
            await run_update(handle, WhistleWorkflow.close, CloseInput(summary="处置完毕", actor="staff"))
        assert (await handle.result()).status is WhistleStatus.closed
