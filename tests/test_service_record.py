"""Service records 服务记录: what a member may log, and approval crediting points exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta

import pytest

from db.pool import Conn, Pool
from domain import service_record as rules
from domain.errors import Forbidden, InvalidInput, NotFound
from schemas.auth import SYSTEM_ACTOR, Actor, Role, ScopeKind
from schemas.service_record import ServiceRecordCreate, ServiceRecordStatus
from services import service_record as svc
from tests.test_registration_seed import City, add_member, seed_city

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)      # 20:00 in China
DAY = date(2026, 11, 18)


async def registered_member(conn: Conn, city: City, *, community_index: int = 0, status: str = "active") -> int:
    member_id = await add_member(conn, city, community_index=community_index)
    await conn.execute(
        "INSERT INTO member_registration (member_id, community_id, grid_id, status) VALUES ($1, $2, $3, $4)",
        member_id, city.communities[community_index], city.grids[city.communities[community_index]], status)
    return member_id


def member_actor(member_id: int) -> Actor:
    return Actor(role=Role.member, scope_kind=ScopeKind.member, scope_id=member_id, label=f"m{member_id}")


def staff_actor(community_id: int) -> Actor:
    return Actor(role=Role.community_staff, scope_kind=ScopeKind.community, scope_id=community_id, label="staff")


def entry(city: City, *, day: date = DAY, start: str = "09:00", end: str = "11:30", category: str = "环境整治",
          community_index: int = 0, **extra: object) -> ServiceRecordCreate:
    return ServiceRecordCreate.model_validate({
        "service_date": day, "start_time": start, "end_time": end, "category": category,
        "community_id": city.communities[community_index], **extra})


def test_window_hours_and_refusals_in_chinese() -> None:
    """Hours come from the clock times (to the quarter hour); future dates, > 12 h, an end before
    the start and a service not yet over are refused with a Chinese message."""
    w = rules.record_window(DAY, time(9, 0), time(11, 40), now=NOW)
    assert w.hours == 2.5 and w.started_at == datetime(2026, 11, 18, 1, 0, tzinfo=UTC)
    for day, start, end, words in ((date(2026, 11, 21), time(9), time(10), "未来"),
                                   (DAY, time(6), time(18, 30), "12 小时"),
                                   (DAY, time(10), time(9), "晚于开始"),
                                   (date(2026, 11, 20), time(19), time(21), "尚未结束")):
        with pytest.raises(InvalidInput, match=words):
            rules.record_window(day, start, end, now=NOW)


def test_record_points_follow_the_task_rule_without_rating_bonus() -> None:
    """2.5 h in a category with bonus 2 earns 10×2.5 + 2 = 27, capped at 100, no rating bonus."""
    p = rules.record_points(2.0, hours=2.5)
    assert (p.base, p.category_bonus, p.rating_bonus, p.total) == (25.0, 2.0, 0.0, 27.0)
    assert rules.record_points(0.0, hours=12).total == 100.0
    assert rules.service_key(7) == "record:7"


async def test_log_validations(conn: Conn) -> None:
    """Logging is refused for a community without a confirmed registration, an overlap with another
    record or with a task's check-in/out, a grid of another community and an unknown category."""
    city = await seed_city(conn, communities=2)
    member = await registered_member(conn, city)
    pending_member = await registered_member(conn, city, status="submitted")
    me = member_actor(member)
    first = await svc.log_record_in(conn, me, entry(city), now=NOW)
    assert first.status is ServiceRecordStatus.pending and first.hours == 2.5

    with pytest.raises(InvalidInput, match="未在该社区报到"):
        await svc.log_record_in(conn, me, entry(city, community_index=1), now=NOW)
    with pytest.raises(InvalidInput, match="未在该社区报到"):
        await svc.log_record_in(conn, member_actor(pending_member), entry(city), now=NOW)
    with pytest.raises(InvalidInput, match=f"服务记录 #{first.id}"):
        await svc.log_record_in(conn, me, entry(city, start="11:00", end="12:00"), now=NOW)
    with pytest.raises(InvalidInput, match="网格"):
        await svc.log_record_in(conn, me, entry(city, start="13:00", end="14:00",
                                                grid_id=city.grids[city.communities[1]]), now=NOW)
    with pytest.raises(InvalidInput, match="类别"):
        await svc.log_record_in(conn, me, entry(city, start="13:00", end="14:00", category="不存在的类别"), now=NOW)
    with pytest.raises(Forbidden):
        await svc.log_record_in(conn, me, entry(city, start="13:00", end="14:00", member_id=pending_member), now=NOW)

    task_id = await conn.fetchval(
        """INSERT INTO task (community_id, grid_id, title, category, mode, headcount, window_start, window_end,
                             qr_token_hash, created_by)
           VALUES ($1, $2, '清扫', '环境整治', 'claim', 1, $3, $4, 'x', 'test') RETURNING id""",
        city.communities[0], city.grids[city.communities[0]], datetime(2026, 11, 18, 5, tzinfo=UTC),
        datetime(2026, 11, 18, 8, tzinfo=UTC))
    await conn.execute(
        """INSERT INTO assignment (task_id, member_id, source, status, accepted_at, checked_in_at, checked_out_at, hours)
           VALUES ($1, $2, 'claim', 'checked_out', $3, $4, $5, 2)""",
        task_id, member, datetime(2026, 11, 17, tzinfo=UTC), datetime(2026, 11, 18, 6, tzinfo=UTC),
        datetime(2026, 11, 18, 8, tzinfo=UTC))
    with pytest.raises(InvalidInput, match=f"任务 #{task_id}"):   # 15:00-16:00 China = 07:00-08:00 UTC
        await svc.log_record_in(conn, me, entry(city, start="15:00", end="16:00"), now=NOW)
    # A record ending when the next begins is adjacent, not overlapping.
    await svc.log_record_in(conn, me, entry(city, start="11:30", end="12:00"), now=NOW)


async def test_approval_credits_once_and_a_retry_adds_nothing(conn: Conn) -> None:
    """Approving a record writes one evaluation credit under record:{id}; approving it again (a
    retried request), alone or with others in bulk, credits nothing more and changes nothing."""
    city = await seed_city(conn, communities=1)
    member = await registered_member(conn, city)
    first = await svc.log_record_in(conn, member_actor(member), entry(city, category="助老助残"), now=NOW)
    second = await svc.log_record_in(conn, member_actor(member), entry(city, start="14:00", end="15:00"), now=NOW)
    staff = staff_actor(city.communities[0])
    approved = await svc.approve_records(conn, staff, [first.id], now=NOW)
    assert approved[0].status is ServiceRecordStatus.approved and approved[0].points == 27.0
    again = await svc.approve_records(conn, staff, [first.id, second.id], now=NOW + timedelta(hours=1))
    assert [v.status for v in again] == [ServiceRecordStatus.approved] * 2
    assert again[0].decided_at == approved[0].decided_at
    rows = await conn.fetch(
        "SELECT service_key, points::float AS points, task_id, awarded_at FROM evaluation_points WHERE member_id = $1 ORDER BY id",
        member)
    assert [(r["service_key"], r["points"], r["task_id"]) for r in rows] == [
        (f"record:{first.id}", 27.0, None), (f"record:{second.id}", 10.0, None)]
    assert rows[0]["awarded_at"] == NOW
    # Redemption is off (no redeemable campaign over the community): nothing on that ledger.
    assert await conn.fetchval("SELECT count(*) FROM redeemable_points WHERE member_id = $1", member) == 0


async def test_redeemable_campaign_also_credits_the_redeemable_ledger(conn: Conn) -> None:
    """A record inside a running redeemable campaign over its community is credited to both ledgers."""
    city = await seed_city(conn, communities=1)
    member = await registered_member(conn, city)
    campaign_id = await conn.fetchval(
        """INSERT INTO campaign (name, kind, launched_by_kind, window_start, window_end, redeemable, status,
                                 created_by)
           VALUES ('道德银行', '在职党员进社区', 'city', $1, $2, true, 'running', 'test') RETURNING id""",
        datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    await conn.execute("INSERT INTO campaign_community (campaign_id, community_id) VALUES ($1, $2)",
                       campaign_id, city.communities[0])
    record = await svc.log_record_in(conn, member_actor(member), entry(city), now=NOW)
    await svc.approve_records(conn, SYSTEM_ACTOR, [record.id], now=NOW)
    assert await conn.fetchval(
        "SELECT points::float FROM redeemable_points WHERE service_key = $1", f"record:{record.id}") == 25.0


async def test_reject_needs_scope_and_an_approved_record_cannot_be_rejected(conn: Conn) -> None:
    """Staff of another community may not decide; a rejected record keeps its reason and is never
    credited; an approved one cannot be rejected, nor a rejected one approved; members cannot decide."""
    city = await seed_city(conn, communities=2)
    member = await registered_member(conn, city)
    a = await svc.log_record_in(conn, member_actor(member), entry(city), now=NOW)
    b = await svc.log_record_in(conn, member_actor(member), entry(city, start="14:00", end="15:00"), now=NOW)
    with pytest.raises(NotFound):   # another community's record reads as absent
        await svc.approve_records(conn, staff_actor(city.communities[1]), [a.id], now=NOW)
    with pytest.raises(Forbidden):
        await svc.approve_records(conn, member_actor(member), [a.id], now=NOW)
    with pytest.raises(NotFound):
        await svc.reject_records(conn, staff_actor(city.communities[1]), [a.id], reason="不是本社区", now=NOW)
    with pytest.raises(Forbidden):
        await svc.reject_records(conn, member_actor(member), [a.id], reason="自己驳回", now=NOW)
    staff = staff_actor(city.communities[0])
    [rejected] = await svc.reject_records(conn, staff, [b.id], reason="当天未见到该党员", now=NOW)
    assert rejected.status is ServiceRecordStatus.rejected and rejected.reject_reason == "当天未见到该党员"
    with pytest.raises(InvalidInput, match="已驳回"):
        await svc.approve_records(conn, staff, [b.id], now=NOW)
    await svc.approve_records(conn, staff, [a.id], now=NOW)
    with pytest.raises(InvalidInput, match="已核实"):
        await svc.reject_records(conn, staff, [a.id], reason="x", now=NOW)
    assert await conn.fetchval(
        "SELECT count(*) FROM evaluation_points WHERE service_record_id = ANY($1)", [a.id, b.id]) == 1
    # The rejected record's span is free again.
    await svc.log_record_in(conn, member_actor(member), entry(city, start="14:00", end="15:00"), now=NOW)


async def test_two_simultaneous_approvals_credit_once(pool: Pool) -> None:
    """Two approvals of the same records racing on separate connections write one credit each record."""
    async with pool.acquire() as conn, conn.transaction():
        city = await seed_city(conn, communities=1)
        member = await registered_member(conn, city)
        ids = [(await svc.log_record_in(conn, member_actor(member), entry(city, start=s, end=e), now=NOW)).id
               for s, e in (("08:00", "09:00"), ("09:00", "10:00"), ("10:00", "12:00"))]

    async def approve() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await svc.approve_records(conn, staff_actor(city.communities[0]), ids, now=NOW)

    await asyncio.gather(approve(), approve(), approve())
    async with pool.acquire() as conn:
        keys = await conn.fetch("SELECT service_key FROM evaluation_points WHERE member_id = $1", member)
    assert sorted(r["service_key"] for r in keys) == sorted(f"record:{i}" for i in ids)


async def test_the_ledger_refuses_a_second_credit_under_the_same_key(conn: Conn) -> None:
    """Even bypassing the status check, crediting the same record twice writes one row (the database
    key), so an approval retried after a lost commit reply cannot pay twice."""
    from db import service_record as record_db

    city = await seed_city(conn, communities=1)
    member = await registered_member(conn, city)
    record = await svc.log_record_in(conn, member_actor(member), entry(city), now=NOW)
    args = {"record_ids": [record.id], "member_ids": [member], "service_keys": [rules.service_key(record.id)],
            "points": [25.0], "parts": [{"hours": 2.5}], "redeemable": [True], "decided_by": "t", "at": NOW}
    assert await record_db.approve_and_credit(conn, **args) == (1, 1)   # type: ignore[arg-type]
    assert await record_db.approve_and_credit(conn, **args) == (0, 0)   # type: ignore[arg-type]
    credits = await record_db.select_record_credits(conn, record_id=record.id)
    assert sorted(c.ledger for c in credits) == ["evaluation", "redeemable"]


async def test_member_lists_own_history_and_staff_their_pending(conn: Conn) -> None:
    """A member's list holds only their own records; community staff see their pending ones, not
    another community's."""
    city = await seed_city(conn, communities=2)
    m1 = await registered_member(conn, city)
    m2 = await registered_member(conn, city, community_index=1)
    r1 = await svc.log_record_in(conn, member_actor(m1), entry(city), now=NOW)
    r2 = await svc.log_record_in(conn, member_actor(m2), entry(city, community_index=1), now=NOW)
    assert [v.id for v in await svc.list_records(conn, member_actor(m1))] == [r1.id]
    pending = await svc.list_records(conn, staff_actor(city.communities[0]), status=ServiceRecordStatus.pending)
    assert r1.id in {v.id for v in pending} and r2.id not in {v.id for v in pending}


async def test_approved_records_count_as_served_and_towards_the_quota_in_campaign_progress(conn: Conn) -> None:
    """Before approval the member is not served and behind a 1-service / 2-hour quota; after
    approving a 2.5 h record they are served and no longer behind; a rejected record never counts."""
    from db.campaign_progress import select_progress

    city = await seed_city(conn, communities=1)
    member = await registered_member(conn, city)
    campaign_id = await conn.fetchval(
        """INSERT INTO campaign (name, kind, launched_by_kind, window_start, window_end, status, created_by)
           VALUES ('在职党员进社区', '在职党员进社区', 'city', $1, $2, 'running', 'test') RETURNING id""",
        datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    await conn.execute("INSERT INTO campaign_community (campaign_id, community_id) VALUES ($1, $2)",
                       campaign_id, city.communities[0])

    async def progress() -> tuple[int, int]:
        _, [row] = await select_progress(conn, campaign_id=campaign_id, level="community",
                                      period_start=datetime(2026, 10, 1, tzinfo=UTC), as_of=NOW,
                                      min_services=1, min_hours=2.0)
        return row.served, row.behind_quota

    kept = await svc.log_record_in(conn, member_actor(member), entry(category="环境整治", city=city), now=NOW)
    dropped = await svc.log_record_in(conn, member_actor(member), entry(city, start="14:00", end="18:00"), now=NOW)
    await svc.reject_records(conn, SYSTEM_ACTOR, [dropped.id], reason="不实", now=NOW)
    assert await progress() == (0, 1)
    await svc.approve_records(conn, SYSTEM_ACTOR, [kept.id], now=NOW)
    assert await progress() == (1, 0)
