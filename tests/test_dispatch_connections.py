"""No connection is held while waiting on Temporal: more concurrent verifications than the pool
has connections all complete, though each waits for the award activity, which needs a connection
from the same pool (as under `up`, where the API and the worker share one pool); and the client's
timing interceptor (telemetry/temporal_calls.py) counts no call made while holding a connection,
which it does count when one is; a registration, whose use case takes its caller's connection,
starts its workflow once the route's connection is back in the pool (services.workflow_calls.
connection_then_calls), after its commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.dispatch import DispatchActivities
from db.pool import Pool, open_pool
from schemas.auth import SYSTEM_ACTOR
from schemas.dispatch import RateInput, TaskStatus
from schemas.registration import RegistrationChanged
from services import dispatch
from services import registration as registrations
from services.workflow_calls import connection_then_calls, signal_if_running
from telemetry.metrics import TEMPORAL_CALL_SECONDS, TEMPORAL_CALLS_HOLDING_CONNECTION
from telemetry.temporal_calls import TemporalCallTiming
from tests import places
from tests.test_dispatch_workflow import add_member, make_city, make_task, serve_through, snapshot, start
from tests.waiting import until
from workflows.member_registration import MemberRegistrationCohortWorkflow, cohort_workflow_id
from workflows.task import TaskWorkflow

POOL_MAX = 2
VERIFIES = 12


@pytest.fixture
async def small_pool(_migrated: str) -> AsyncIterator[Pool]:
    """A pool of POOL_MAX connections to the test database."""
    p = await open_pool(_migrated, min_size=1, max_size=POOL_MAX)
    yield p
    await p.close()


async def _rated_task(env: WorkflowEnvironment, pool: Pool, task_queue: str) -> int:
    """A task served by its one member and rated: its workflow now waits for verification."""
    city = await make_city(pool)
    member = await add_member(pool, city, grid_id=city.grid_id)
    task_id, s, e = await make_task(pool, city)
    handle = await start(env, task_queue, task_id, s, e)
    await until(snapshot(handle), lambda x: x.open_offers == [member], seconds=30)
    await serve_through(handle, member)
    await until(snapshot(handle), lambda x: x.status is TaskStatus.done, seconds=30)
    await dispatch.send_rating(env.client, task_id, RateInput(score=5))
    return task_id


def _timed(client: Client) -> Client:
    """`client` with the API's timing interceptor, as `up` and `serve` connect it."""
    config = client.config()
    config["interceptors"] = [TemporalCallTiming()]
    return Client(**config)


def _holding() -> float:
    return sum(s.value for m in TEMPORAL_CALLS_HOLDING_CONNECTION.collect() for s in m.samples
               if s.name.endswith("_total"))


def _calls(call: str) -> float:
    return sum(s.value for m in TEMPORAL_CALL_SECONDS.collect() for s in m.samples
               if s.name.endswith("_count") and s.labels.get("call") == call)


def _updates() -> float:
    return _calls("update_workflow")


async def test_more_concurrent_verifies_than_connections_all_complete(
    temporal_env: WorkflowEnvironment, small_pool: Pool, task_queue: str
) -> None:
    """VERIFIES verifications at once on a pool of POOL_MAX: each credits its points and closes,
    and none of their calls to Temporal was made holding a connection."""
    client = _timed(temporal_env.client)
    async with Worker(temporal_env.client, task_queue=task_queue, workflows=[TaskWorkflow],
                      activities=DispatchActivities(small_pool).all()):
        tasks = await asyncio.gather(*(_rated_task(temporal_env, small_pool, task_queue) for _ in range(VERIFIES)))
        holding, updates = _holding(), _updates()
        verified = await asyncio.wait_for(asyncio.gather(*(
            dispatch.verify(small_pool, client, SYSTEM_ACTOR, task_id, None) for task_id in tasks
        )), timeout=60)
    assert [v.points_credited for v in verified] == [1] * VERIFIES
    assert _updates() == updates + VERIFIES   # every verify went through the timed client
    assert _holding() == holding


async def test_a_call_made_holding_a_connection_is_counted(
    temporal_env: WorkflowEnvironment, small_pool: Pool
) -> None:
    """The detector itself: a signal sent inside `pool.acquire()` is counted, one sent after is not."""
    client = _timed(temporal_env.client)
    before = _holding()
    async with small_pool.acquire():
        await signal_if_running(client, "no-such-workflow", MemberRegistrationCohortWorkflow.changed, RegistrationChanged())
    assert _holding() == before + 1
    await signal_if_running(client, "no-such-workflow", MemberRegistrationCohortWorkflow.changed, RegistrationChanged())
    assert _holding() == before + 1


async def test_a_registration_starts_its_workflow_after_releasing_the_connection(
    temporal_env: WorkflowEnvironment, small_pool: Pool, task_queue: str
) -> None:
    """As the route runs it: the use case commits on the route's connection, its cohort workflow is
    started once that connection is back in the pool (not counted as holding one), and it runs."""
    client = _timed(temporal_env.client)
    city = await make_city(small_pool)
    async with small_pool.acquire() as conn:
        member_id = await places.add_member(conn, community_id=city.community_id, grid_id=city.grid_id)
    holding, starts = _holding(), _calls("start_workflow")
    async with connection_then_calls(small_pool) as conn:
        out = await registrations.submit_member_registration(conn, SYSTEM_ACTOR, member_id=member_id,
                                                             client=client, task_queue=task_queue)
        assert _calls("start_workflow") == starts   # not while the connection is held
    assert _calls("start_workflow") == starts + 1
    assert _holding() == holding
    assert out.cohort_id is not None
    described = await client.get_workflow_handle(cohort_workflow_id(out.cohort_id)).describe()
    assert described.workflow_type == "MemberRegistrationCohortWorkflow"
    # The same use case inside a plain acquire is counted: the route's block is what makes the difference.
    async with small_pool.acquire() as conn:
        member_id = await places.add_member(conn, community_id=city.community_id, grid_id=city.grid_id)
        await registrations.submit_member_registration(conn, SYSTEM_ACTOR, member_id=member_id,
                                                       client=client, task_queue=task_queue)
    assert _holding() == holding + 1
