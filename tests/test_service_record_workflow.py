"""The service-record reminder workflow on the time-skipping dev server, against the real Postgres."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from temporalio.testing import WorkflowEnvironment

from db.pool import Pool
from domain.local_time import LOCAL_ZONE
from schemas.auth import Actor, Role, ScopeKind
from schemas.service_record import (
    ServiceRecordCreate,
    ServiceRecordPolicy,
    ServiceRecordStatus,
    ServiceRecordWorkflowResult,
)
from services import service_record as svc
from tests.record_histories import save_from_test
from tests.test_registration_seed import reminders, seed_city
from tests.test_registration_workflows import running_worker
from tests.test_service_record import member_actor, registered_member
from tests.waiting import eventually


def _yesterday(start: str, end: str, community_id: int) -> ServiceRecordCreate:
    day = (datetime.now(UTC).astimezone(LOCAL_ZONE) - timedelta(days=1)).date()
    return ServiceRecordCreate.model_validate({"service_date": day, "start_time": start, "end_time": end,
                                               "category": "文明创建", "community_id": community_id})


async def test_unanswered_record_reminds_the_community_then_the_subdistrict(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str
) -> None:
    """A record nobody answers reminds its community after 3 days and urges its subdistrict after 6,
    each once, then the workflow ends with the record still pending; a record approved after the
    first reminder gets no urge and its workflow ends at once."""
    async with pool.acquire() as conn, conn.transaction():
        city = await seed_city(conn, communities=1)
        member = await registered_member(conn, city)
    community = city.communities[0]
    async with running_worker(ts_env, pool, task_queue):
        with ts_env.with_time_skipping_disabled():
            lagging = await svc.log_record(pool, ts_env.client, member_actor(member),
                                           _yesterday("08:00", "09:00", community), now=datetime.now(UTC),
                                           task_queue=task_queue, policy=ServiceRecordPolicy())
            answered = await svc.log_record(pool, ts_env.client, member_actor(member),
                                            _yesterday("10:00", "11:00", community), now=datetime.now(UTC),
                                            task_queue=task_queue)
        lag = ts_env.client.get_workflow_handle(svc.record_workflow_id(lagging.id))
        ans = ts_env.client.get_workflow_handle(svc.record_workflow_id(answered.id))
        key_lag = ("service_record", "service_record", lagging.id)
        key_ans = ("service_record", "service_record", answered.id)
        async with pool.acquire() as conn:
            await ts_env.fast_forward(lag, timedelta(days=2))
            await ts_env.fast_forward(ans, timedelta(days=2))
            await asyncio.sleep(0.3)
            assert await reminders(conn, key_lag) == []
            await ts_env.fast_forward(lag, timedelta(days=1, hours=1))
            await ts_env.fast_forward(ans, timedelta(days=1, hours=1))

            async def both_reminded() -> bool:
                return len(await reminders(conn, key_lag)) == 1 and len(await reminders(conn, key_ans)) == 1
            await eventually(both_reminded)
            assert [(r["step"], r["recipient_kind"], r["recipient_id"]) for r in await reminders(conn, key_lag)] == [
                ("remind", "community", community)]
            body = await conn.fetchval(
                "SELECT body FROM notification WHERE dedupe_key = $1",
                f"reminder:service_record:service_record:{lagging.id}:0:remind:community:{community}")
            assert f"#{lagging.id}" in body and "1 小时" in body

            staff = Actor(role=Role.community_staff, scope_kind=ScopeKind.community, scope_id=community, label="s")
            await svc.decide(pool, ts_env.client, staff, [answered.id], approve=True, now=datetime.now(UTC))
            done = ServiceRecordWorkflowResult.model_validate(await ans.result())
            assert (done.status, done.reminders_sent) == (ServiceRecordStatus.approved, 1)
            await save_from_test(ans, "approved_after_first_reminder")

            await ts_env.fast_forward(lag, timedelta(days=3))
            result = ServiceRecordWorkflowResult.model_validate(await lag.result())
            assert (result.status, result.reminders_sent) == (ServiceRecordStatus.pending, 2)
            assert [(r["step"], r["recipient_kind"], r["recipient_id"]) for r in await reminders(conn, key_lag)] == [
                ("remind", "community", community), ("urge", "subdistrict", city.subdistrict_id)]
            assert [r["step"] for r in await reminders(conn, key_ans)] == ["remind"]
            await save_from_test(lag, "unanswered_remind_then_urge")
