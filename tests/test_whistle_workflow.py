"""The whistle workflow 吹哨报到 on the time-skipping server: answered in time and closed, a silent
unit urged once, too few answers climbing to the subdistrict, nobody answering parked; and the
summons activity retried without summoning or notifying anyone twice."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.whistle import WhistleActivities
from db import whistle as whistle_db
from db.pool import Pool
from domain import whistle as rules
from schemas.auth import Actor, Role, ScopeKind
from schemas.whistle import (
    ResourceCategory,
    ResourceItem,
    SummonStatus,
    WhistleAnswer,
    WhistleBlow,
    WhistleLevel,
    WhistleStatus,
)
from schemas.whistle_contract import (
    AnswerInput,
    ArriveInput,
    CloseInput,
    RecordAnswerInput,
    SummonLevelInput,
    UnitAnswer,
    UnitArrival,
    UnitResource,
    UrgeInput,
    WhistleState,
    WhistleWorkflowResult,
)
from services import whistle as whistle_service
from services.workflow_calls import run_update
from tests import places
from tests.conftest import unique
from tests.record_histories import save_from_test
from tests.updates import refusal
from tests.waiting import fetch, rows_eventually, settled, until
from workflows.whistle import WhistleWorkflow

Handle = WorkflowHandle[WhistleWorkflow, WhistleWorkflowResult]


@dataclass
class WhistleCity:
    """District D: subdistrict S (communities C, where the whistle blows, and C2) and subdistrict
    S2 (community C3). Units: `located` sits in C (and registered there), `paired` holds a
    co-building agreement with C, `neighbour` is registered with C2, `far` with C3."""

    district_id: int
    subdistrict_id: int
    community_id: int
    community2_id: int
    community3_id: int
    grid_id: int
    located: int
    paired: int
    neighbour: int
    far: int

    def staff(self) -> Actor:
        return Actor(role=Role.community_staff, scope_kind=ScopeKind.community, scope_id=self.community_id,
                     label="甲社区书记")


async def make_city(pool: Pool, *, with_units: bool = True) -> WhistleCity:
    async with pool.acquire() as conn, conn.transaction():
        d = await places.add_district(conn)
        s, s2 = await places.add_subdistrict(conn, d, "甲街道"), await places.add_subdistrict(conn, d, "乙街道")
        c, c2 = await places.add_community(conn, s, "甲社区"), await places.add_community(conn, s, "乙社区")
        c3 = await places.add_community(conn, s2, "丙社区")
        g = await places.add_grid(conn, c, "3号院")
        units = [0, 0, 0, 0]
        if with_units:
            for i, (located_in, label) in enumerate([(c, "水务集团"), (None, "供电公司"), (c2, "区医院"), (c3, "消防站")]):
                units[i] = await places.add_unit(conn, unique(label), party_org=f"{label}党支部",
                                                 community_id=located_in)
            located, paired, neighbour, far = units
            await conn.execute(
                """INSERT INTO unit_registration (unit_id, community_id, status)
                   VALUES ($1, $2, 'active'), ($3, $4, 'active'), ($5, $6, 'active')""",
                located, c, neighbour, c2, far, c3)
            now = datetime.now(UTC)
            await conn.execute(
                """INSERT INTO co_building_agreement (unit_id, community_id, valid_from, valid_until)
                   VALUES ($1, $2, $3, $4)""",
                paired, c, now - timedelta(days=30), now + timedelta(days=300))
    return WhistleCity(d, s, c, c2, c3, g, *units)


@pytest.fixture
async def worker(ts_env: WorkflowEnvironment, pool: Pool, task_queue: str) -> AsyncIterator[Worker]:
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[WhistleWorkflow],
                      activities=WhistleActivities(pool).all()) as w:
        yield w


async def blow(env: WorkflowEnvironment, pool: Pool, task_queue: str, city: WhistleCity, *, people: int,
               skipping: bool = False, respond_in: timedelta = timedelta(hours=2)) -> tuple[int, Handle]:
    """Blow a whistle in C through the service; time skipping only when `skipping`."""
    data = WhistleBlow(community_id=city.community_id, grid_id=city.grid_id, place="3号院地下车库",
                       title="自来水主管爆裂, 小区进水", matter="3号院主管爆裂, 地下车库进水约 30 厘米, 需抽排和转移车辆",
                       people_needed=people, respond_by=datetime.now(UTC) + respond_in,
                       resources_needed=[ResourceItem(category=ResourceCategory.pump, quantity=2)])

    async def go() -> int:
        view = await whistle_service.blow(pool, env.client, city.staff(), data, now=datetime.now(UTC),
                                          task_queue=task_queue)
        return view.id

    if skipping:
        whistle_id = await go()
    else:
        with env.with_time_skipping_disabled():
            whistle_id = await go()
    return whistle_id, env.client.get_workflow_handle_for(WhistleWorkflow.run, f"whistle-{whistle_id}")


def snapshot(handle: Handle) -> Callable[[], Awaitable[WhistleState]]:
    """The workflow's snapshot query, for `until`."""
    return lambda: handle.query(WhistleWorkflow.snapshot)



def accept(unit_id: int, people: int, *, eta_in: timedelta = timedelta(minutes=40)) -> AnswerInput:
    return AnswerInput(answer=UnitAnswer(
        unit_id=unit_id, accept=True, people=people, eta=datetime.now(UTC) + eta_in, contact_name="王队长",
        contact_phone="13812345678", resources=[UnitResource(category=ResourceCategory.pump, quantity=1)]),
        actor="unit_admin:测试")


async def notes(pool: Pool, whistle_id: int, what: str) -> list[dict[str, Any]]:
    return await fetch(pool, """SELECT recipient_kind, recipient_id, category FROM notification
                                WHERE dedupe_key LIKE $1 ORDER BY id""", f"whistle:{whistle_id}:{what}%")


async def test_answered_in_time_then_arrived_and_closed(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, worker: Worker
) -> None:
    """The community's own units are summoned once each; enough people answering makes the whistle
    responded before its deadline (the community hears it in its inbox and on its group robot, even
    with no dispatcher running to kick); arrival puts it on site; the summary closes it and thanks
    the unit."""
    city = await make_city(pool)
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO channel_endpoint (owner_kind, owner_id, channel, url)
               VALUES ('community', $1, 'dingtalk', 'http://127.0.0.1:9/robot/send?access_token=whistle')""",
            city.community_id)
    whistle_id, handle = await blow(ts_env, pool, task_queue, city, people=3)
    snap = await until(snapshot(handle), lambda s: len(s.units) == 2)
    assert set(snap.units) == {city.located, city.paired}   # not the neighbour's or the far unit
    summons = await fetch(pool, "SELECT unit_id, level, basis FROM whistle_summon WHERE whistle_id = $1 ORDER BY unit_id",
                          whistle_id)
    assert {(r["unit_id"], r["basis"]) for r in summons} == {(city.located, "registered"), (city.paired, "agreement")}
    assert {r["level"] for r in summons} == {"community"}
    assert [n["recipient_id"] for n in await notes(pool, whistle_id, "summon")] == sorted([city.located, city.paired])

    done = await run_update(handle, WhistleWorkflow.answer, accept(city.located, 3))
    assert done.status is SummonStatus.answered and done.people_committed == 3
    snap = await until(snapshot(handle), lambda s: s.status is WhistleStatus.responded)
    assert snap.urged == [] and snap.level is WhistleLevel.community
    again = await refusal(run_update(handle, WhistleWorkflow.answer, accept(city.located, 1)))
    assert again == rules.REFUSAL_ALREADY_ANSWERED
    stranger = await refusal(run_update(handle, WhistleWorkflow.answer, accept(city.far, 1)))
    assert stranger == rules.REFUSAL_NOT_SUMMONED
    early = await refusal(run_update(handle, WhistleWorkflow.arrive, ArriveInput(
        arrival=UnitArrival(unit_id=city.paired), actor="staff")))
    assert early == rules.REFUSAL_NOT_COMMITTED

    arrived = await run_update(handle, WhistleWorkflow.arrive, ArriveInput(
        arrival=UnitArrival(unit_id=city.located), actor="community_staff:甲社区书记"))
    assert arrived.people == 3 and arrived.status is WhistleStatus.on_site
    await run_update(handle, WhistleWorkflow.close, CloseInput(summary="抽排完毕, 管道已抢修", actor="staff"))
    result = await handle.result()
    assert result.status is WhistleStatus.closed and result.people_committed == 3 and result.units_answered == 1
    rows = await fetch(pool, "SELECT status, summary, closed_at FROM whistle WHERE id = $1", whistle_id)
    assert rows[0]["status"] == "closed" and rows[0]["summary"] == "抽排完毕, 管道已抢修" and rows[0]["closed_at"]
    kinds = [e["kind"] for e in await fetch(pool, "SELECT kind FROM whistle_event WHERE whistle_id = $1 ORDER BY id",
                                            whistle_id)]
    assert kinds == ["blown", "summoned", "summoned", "answered", "status", "arrived", "closed"]
    assert [n["recipient_id"] for n in await notes(pool, whistle_id, "closed")] == [city.located]
    assert [n["category"] for n in await notes(pool, whistle_id, "answer")] == ["whistle_answered"]
    robot = await fetch(pool, "SELECT idempotency_key FROM delivery WHERE idempotency_key LIKE $1",
                        f"whistle:{whistle_id}:%")
    assert [r["idempotency_key"] for r in robot] == [f"whistle:{whistle_id}:answer:unit:{city.located}:dingtalk"]
    await save_from_test(handle, "answered_arrived_closed")


async def test_silent_unit_is_urged_once(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, worker: Worker
) -> None:
    """At half the window the unit that has not answered is urged, once: not the one that answered,
    and not again when the whistle climbs and the next level's half comes."""
    city = await make_city(pool)
    whistle_id, handle = await blow(ts_env, pool, task_queue, city, people=5)
    await until(snapshot(handle), lambda s: len(s.units) == 2)
    await run_update(handle, WhistleWorkflow.answer, accept(city.located, 2))
    await ts_env.fast_forward(handle, timedelta(minutes=61))
    snap = await until(snapshot(handle), lambda s: s.urged == [city.paired])
    urged = await rows_eventually(pool, "SELECT recipient_id FROM notification WHERE dedupe_key LIKE $1",
                             f"whistle:{whistle_id}:urge:%")
    assert [n["recipient_id"] for n in urged] == [city.paired]
    assert snap.status is WhistleStatus.summoning
    # The deadline passes short-handed: the subdistrict's half comes and urges only its new unit.
    await ts_env.fast_forward(handle, timedelta(minutes=60))
    await until(snapshot(handle), lambda s: s.level is WhistleLevel.subdistrict)
    await ts_env.fast_forward(handle, timedelta(minutes=61))
    await until(snapshot(handle), lambda s: city.neighbour in s.urged)
    urged = await rows_eventually(pool, "SELECT recipient_id FROM notification WHERE dedupe_key LIKE $1 ORDER BY id",
                             f"whistle:{whistle_id}:urge:%", want=2)
    assert [n["recipient_id"] for n in urged] == [city.paired, city.neighbour]
    urged_rows = await fetch(pool, "SELECT unit_id FROM whistle_summon WHERE whistle_id = $1 AND urged_at IS NOT NULL"
                                   " ORDER BY unit_id", whistle_id)
    assert [r["unit_id"] for r in urged_rows] == sorted([city.paired, city.neighbour])
    await handle.terminate()


async def test_too_few_answers_climb_to_the_subdistrict(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, worker: Worker
) -> None:
    """Short of people at the deadline, the whistle climbs: the subdistrict's staff are told and the
    units registered with its other communities are summoned (not those of another subdistrict);
    their answer covers the need."""
    city = await make_city(pool)
    whistle_id, handle = await blow(ts_env, pool, task_queue, city, people=4)
    await until(snapshot(handle), lambda s: len(s.units) == 2)
    await run_update(handle, WhistleWorkflow.answer, accept(city.located, 2))
    decline = AnswerInput(answer=UnitAnswer(unit_id=city.paired, accept=False, decline_reason="抢修队已派往他处"),
                          actor="unit_admin:供电公司")
    declined = await run_update(handle, WhistleWorkflow.answer, decline)
    assert declined.status is SummonStatus.declined
    # Every summoned unit answered and the need is still short: it climbs without waiting the deadline.
    snap = await until(snapshot(handle), lambda s: s.level is WhistleLevel.subdistrict and city.neighbour in s.units)
    assert city.far not in snap.units and snap.status is WhistleStatus.summoning
    summon = await fetch(pool, "SELECT level, basis FROM whistle_summon WHERE whistle_id = $1 AND unit_id = $2",
                         whistle_id, city.neighbour)
    assert summon == [{"level": "subdistrict", "basis": "registered"}]
    told = await rows_eventually(pool, "SELECT recipient_kind, recipient_id, category FROM notification WHERE dedupe_key = $1",
                            f"whistle:{whistle_id}:escalated:subdistrict")
    assert told == [{"recipient_kind": "subdistrict", "recipient_id": city.subdistrict_id,
                     "category": "whistle_escalated"}]
    result = await run_update(handle, WhistleWorkflow.answer, accept(city.neighbour, 2))
    assert result.people_committed == 4
    snap = await until(snapshot(handle), lambda s: s.status is WhistleStatus.responded)
    assert snap.shortfall == 0
    row = await rows_eventually(pool, "SELECT level, status FROM whistle WHERE id = $1 AND status = 'responded'", whistle_id)
    assert row == [{"level": "subdistrict", "status": "responded"}]
    await handle.terminate()


async def test_nobody_answers_and_the_whistle_is_parked(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, worker: Worker
) -> None:
    """With no unit anywhere to summon the whistle climbs to the district and is parked with a
    reason the community is told; it can still be closed with a summary."""
    city = await make_city(pool, with_units=False)
    whistle_id, handle = await blow(ts_env, pool, task_queue, city, people=2, skipping=True)
    snap = await until(snapshot(handle), lambda s: s.status is WhistleStatus.parked)
    assert snap.level is WhistleLevel.district and snap.parked_reason and "无可召集" in snap.parked_reason
    rows = await rows_eventually(pool, "SELECT status, parked_reason, level FROM whistle WHERE id = $1 AND status = 'parked'",
                            whistle_id)
    assert rows[0]["level"] == "district" and rows[0]["parked_reason"] == snap.parked_reason
    told = await rows_eventually(pool, "SELECT recipient_kind, recipient_id FROM notification WHERE dedupe_key = $1",
                            f"whistle:{whistle_id}:whistle_parked")
    assert told == [{"recipient_kind": "community", "recipient_id": city.community_id}]
    escalations = await fetch(pool, "SELECT detail->>'level' AS level FROM whistle_event WHERE whistle_id = $1"
                                    " AND kind = 'escalated' ORDER BY id", whistle_id)
    assert [e["level"] for e in escalations] == ["subdistrict", "district"]
    await run_update(handle, WhistleWorkflow.close, CloseInput(summary="社区自行组织处置完毕", actor="staff"))
    assert (await handle.result()).status is WhistleStatus.closed
    await save_from_test(handle, "nobody_parked_closed")


async def test_silent_units_park_the_whistle_and_a_late_answer_brings_it_back(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, worker: Worker
) -> None:
    """Units summoned at every level but none answering: parked with how many were summoned; a late
    answer from a summoned unit moves it to responded, short-handed."""
    city = await make_city(pool)
    whistle_id, handle = await blow(ts_env, pool, task_queue, city, people=3, skipping=True)
    snap = await until(snapshot(handle), lambda s: s.status is WhistleStatus.parked, seconds=30)
    assert snap.parked_reason == rules.parked_reason(summoned=4, needed=3)
    assert sorted(snap.urged) == sorted([city.located, city.paired, city.neighbour, city.far])
    await run_update(handle, WhistleWorkflow.answer, accept(city.far, 1))
    snap = await until(snapshot(handle), lambda s: s.status is WhistleStatus.responded)
    assert snap.shortfall == 2
    told = await rows_eventually(pool, "SELECT recipient_kind FROM notification WHERE dedupe_key = $1",
                            f"whistle:{whistle_id}:whistle_short_handed")
    assert told == [{"recipient_kind": "community"}]
    await handle.terminate()


async def test_summons_retried_summons_and_notifies_nobody_twice(pool: Pool) -> None:
    """The summons, urge and answer activities each run twice (a retry after the commit) write one
    summons, one inbox row and one group-robot delivery per unit and step, and one answer."""
    city = await make_city(pool)
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO channel_endpoint (owner_kind, owner_id, channel, url)
               VALUES ('unit', $1, 'wecom', 'http://127.0.0.1:9/cgi-bin/webhook/send?key=whistle')""",
            city.located)
    now = datetime.now(UTC)
    view = await insert_whistle_row(pool, city, now)
    activities = WhistleActivities(pool)
    data = SummonLevelInput(whistle_id=view, level=WhistleLevel.community, level_deadline_at=now + timedelta(hours=2),
                            as_of=now)
    first = await activities.summon_level(data)
    second = await activities.summon_level(data)
    assert first.unit_ids == second.unit_ids == sorted([city.located, city.paired])
    assert first.notified == 2 and second.notified == 0
    assert first.external_queued == 1 and second.external_queued == 0
    rows = await fetch(pool, "SELECT count(*) AS n FROM whistle_summon WHERE whistle_id = $1", view)
    assert rows[0]["n"] == 2
    inbox = await fetch(pool, "SELECT count(*) AS n FROM notification WHERE dedupe_key LIKE $1", f"whistle:{view}:summon:%")
    assert inbox[0]["n"] == 2
    robots = await fetch(pool, "SELECT idempotency_key FROM delivery WHERE idempotency_key LIKE $1",
                         f"whistle:{view}:summon:%")
    assert [r["idempotency_key"] for r in robots] == [f"whistle:{view}:summon:unit:{city.located}:wecom"]
    events = await fetch(pool, "SELECT count(*) AS n FROM whistle_event WHERE whistle_id = $1 AND kind = 'summoned'", view)
    assert events[0]["n"] == 2

    # The urge and the answer retried after their commits: one urge and one answer notice each.
    urge = UrgeInput(whistle_id=view, level=WhistleLevel.community, unit_ids=[city.located, city.paired], as_of=now)
    assert (await activities.urge(urge)).urged == (await activities.urge(urge)).urged == sorted(
        [city.located, city.paired])
    answer = RecordAnswerInput(whistle_id=view, answer=accept(city.paired, 2).answer, actor="unit_admin:测试",
                               as_of=now)
    first_answer, second_answer = await activities.record_answer(answer), await activities.record_answer(answer)
    assert first_answer.status is second_answer.status is SummonStatus.answered and second_answer.people == 2
    counts = await fetch(pool, """SELECT split_part(dedupe_key, ':', 3) AS what, count(*) AS n FROM notification
                                  WHERE dedupe_key LIKE $1 GROUP BY 1 ORDER BY 1""", f"whistle:{view}:%")
    assert [(c["what"], c["n"]) for c in counts] == [("answer", 1), ("summon", 2), ("urge", 2)]
    kinds = await fetch(pool, """SELECT kind, count(*) AS n FROM whistle_event WHERE whistle_id = $1
                                 GROUP BY kind ORDER BY kind""", view)
    assert [(k["kind"], k["n"]) for k in kinds] == [("answered", 1), ("summoned", 2), ("urged", 2)]


async def insert_whistle_row(pool: Pool, city: WhistleCity, now: datetime) -> int:
    """A whistle row as the service writes it, without starting its workflow."""
    async with pool.acquire() as conn, conn.transaction():
        return await whistle_db.insert_whistle(
            conn, community_id=city.community_id, grid_id=None, place="", title="台风后清障", matter="倒伏树木阻路",
            urgency="yellow", people_needed=6, resources_needed=[], respond_by=now + timedelta(hours=2),
            created_by="test", at=now)


def test_an_answer_must_say_who_when_and_how_to_reach_them() -> None:
    """An acceptance without an arrival time or contact, a decline without a reason, an unknown
    resource category and a malformed phone are refused before they reach the workflow."""
    eta = datetime.now(UTC) + timedelta(hours=1)
    with pytest.raises(ValidationError, match="预计到达时间"):
        WhistleAnswer(unit_id=1, accept=True, people=2, contact_name="王", contact_phone="13812345678")
    with pytest.raises(ValidationError, match="联系人"):
        WhistleAnswer(unit_id=1, accept=True, people=2, eta=eta)
    with pytest.raises(ValidationError, match="理由"):
        WhistleAnswer(unit_id=1, accept=False)
    with pytest.raises(ValidationError):
        ResourceItem.model_validate({"category": "飞机", "quantity": 1})
    with pytest.raises(ValidationError):
        WhistleAnswer(unit_id=1, accept=True, people=2, eta=eta, contact_name="王", contact_phone="12345")
    ok = WhistleAnswer(unit_id=1, accept=True, people=2, eta=eta, contact_name="王", contact_phone="010-62345678")
    assert ok.people == 2


async def test_a_whistle_started_after_its_respond_by_still_gives_units_a_window(
    ts_env: WorkflowEnvironment, pool: Pool, task_queue: str, worker: Worker
) -> None:
    """A workflow that starts only after its respond-by (workers were down) summons the units and
    waits the policy's minimum window instead of urging and climbing at once."""
    city = await make_city(pool)
    now = datetime.now(UTC)
    whistle_id = await insert_whistle_row(pool, city, now - timedelta(hours=3))
    with ts_env.with_time_skipping_disabled():
        await whistle_service.start_whistle_workflow(ts_env.client, whistle_id=whistle_id, people_needed=6,
                                                     respond_by=now - timedelta(hours=1), task_queue=task_queue)
    handle: Handle = ts_env.client.get_workflow_handle_for(WhistleWorkflow.run, f"whistle-{whistle_id}")
    await until(snapshot(handle), lambda s: len(s.units) == 2)
    await settled(handle)   # it now waits on its timer: whatever it would do at once is done
    snap = await handle.query(WhistleWorkflow.snapshot)
    assert snap.level is WhistleLevel.community and snap.urged == []
    deadline = await fetch(pool, "SELECT level_deadline_at FROM whistle WHERE id = $1", whistle_id)
    assert deadline[0]["level_deadline_at"] > now
    await handle.terminate()
