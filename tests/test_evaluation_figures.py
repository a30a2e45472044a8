"""Evaluation figures: the set-based SQL against the independent Python reference computed from
the raw ledger rows of a randomized small city, and the grading boundaries."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from db import evaluation as evaluation_db
from db.pool import Conn
from domain import evaluation as ev
from schemas.auth import SYSTEM_ACTOR
from schemas.evaluation import EvaluationRule, EvaluationScope, Grade, PeriodKind
from services import service_record as record_service
from tests import places
from tests.conftest import unique

PERIOD = ev.period_of(PeriodKind.quarter, "2026-Q3")
CLOSED = ("rejected", "withdrawn", "lapsed", "transferred")
OPEN = ("submitted", "confirmed", "active", "paused")
TASK_STATUSES = ("open", "staffed", "done", "verified", "closed", "parked")


@dataclass
class SmallCity:
    district_id: int
    community_ids: list[int]
    unit_ids: list[int]
    member_ids: list[int]

    @property
    def scope(self) -> EvaluationScope:
        return EvaluationScope(district_ids=[self.district_id])


def _when(rng: random.Random, *, inside: float = 0.8) -> datetime:
    """A time inside the period most of the time, else in the month before or after."""
    span = PERIOD.end - PERIOD.start
    if rng.random() < inside:
        return PERIOD.start + span * rng.random()
    if rng.random() < 0.5:
        return PERIOD.start - timedelta(days=rng.randint(1, 30))
    return PERIOD.end + timedelta(minutes=rng.randint(0, 60 * 24 * 30))


async def build_city(conn: Conn, rng: random.Random, *, members: int = 30) -> SmallCity:
    """A district with two streets, five communities, grids (some without a branch), six units,
    members with registration histories, needs, tasks, assignments, ratings and ledger rows."""
    d = await places.add_district(conn, "评议区")
    communities: list[int] = []
    grids: dict[int, list[int]] = {}
    for s_i in range(2):
        s = await places.add_subdistrict(conn, d, f"街道{s_i}")
        for c_i in range(2 + s_i):
            c = await places.add_community(conn, s, f"社区{c_i}")
            communities.append(c)
            grids[c] = []
            for g_i in range(rng.randint(1, 4)):
                branch = None if rng.random() < 0.3 else f"第{g_i}网格党支部"
                grids[c].append(await places.add_grid(conn, c, f"网格{g_i}", branch_name=branch))
    units = [await places.add_unit(conn, unique("单位"), party_org="党支部", community_id=rng.choice(communities))
             for _ in range(6)]
    member_ids: list[int] = []
    for i in range(members):
        c = rng.choice(communities)
        g = rng.choice(grids[c])
        m = await places.add_member(
            conn, community_id=c, grid_id=g, name=f"党员{i}-", phone=f"139{rng.randint(10_000_000, 99_999_999)}",
            unit_id=rng.choice(units) if rng.random() < 0.95 else None)
        member_ids.append(m)
        # A registration history: closed rows and at most one open row, in random order, so the
        # latest (highest id) is sometimes closed, sometimes open, sometimes absent.
        history = [rng.choice(CLOSED) for _ in range(rng.randint(0, 2))]
        if rng.random() < 0.8:
            history.append(rng.choice(OPEN))
        rng.shuffle(history)
        for status in history:
            await places.register_member(conn, m, community_id=c, grid_id=g if rng.random() < 0.9 else None,
                                         status=status)
    # Needs, tasks (some from needs), assignments, ratings, ledger rows.
    task_ids: list[int] = []
    for c in communities:
        for _ in range(rng.randint(0, 6)):
            created = _when(rng)
            need = await conn.fetchval(
                """INSERT INTO need (category, community_id, grid_id, urgency, deadline_at, description,
                                     status, created_by, created_at)
                   VALUES ('助老助残', $1, $2, 'blue', $3, '代购', $4, 'test', $3) RETURNING id""",
                c, rng.choice(grids[c]), created,
                rng.choice(("submitted", "verified", "converted", "closed", "rejected")))
            if rng.random() < 0.1:
                await conn.execute("UPDATE need SET duplicate_of = $1 WHERE id = $1", need)
            for _ in range(rng.randint(0, 2)):
                task_ids.append(await _task(conn, rng, c, grids[c][0], need, created))
        for _ in range(rng.randint(0, 4)):
            task_ids.append(await _task(conn, rng, c, grids[c][0], None, _when(rng)))
    ledger_n = 0
    for t in task_ids:
        created = await conn.fetchval("SELECT window_start FROM task WHERE id = $1", t)
        for m in rng.sample(member_ids, min(len(member_ids), rng.randint(0, 6))):
            await conn.execute(
                """INSERT INTO assignment (task_id, member_id, source, accepted_at)
                   VALUES ($1, $2, 'claim', $3)""",
                t, m, created + timedelta(minutes=rng.randint(1, 60 * 72)))
            if rng.random() < 0.8:
                hours = rng.randint(0, 16) / 4
                ledger_n += 1
                await conn.execute(
                    """INSERT INTO evaluation_points (member_id, task_id, service_key, points, parts, awarded_at)
                       VALUES ($1, $2, $3, $4, $5, $6)""",
                    m, t, f"test:{unique()}", Decimal(rng.randint(0, 4000)) / 100,
                    {"hours": hours, "total": 0}, _when(rng, inside=0.85))
        if rng.random() < 0.6:
            await conn.execute(
                "INSERT INTO resident_rating (task_id, score, rated_at) VALUES ($1, $2, $3)",
                t, rng.randint(1, 5), _when(rng))
    await _service_records(conn, rng, member_ids)
    return SmallCity(d, communities, units, member_ids)


async def _service_records(conn: Conn, rng: random.Random, member_ids: list[int]) -> None:
    """Self-logged service records 服务记录 of some members, approved (through the real use case,
    which credits the ledger), rejected or left pending, decided inside or outside the period."""
    for m in rng.sample(member_ids, min(len(member_ids), 12)):
        for _ in range(rng.randint(1, 2)):
            start, minutes = _when(rng), rng.randint(1, 48) * 15
            record_id = await conn.fetchval(
                """INSERT INTO service_record (member_id, community_id, category, started_at, ended_at, hours,
                                               created_by, created_at)
                   SELECT $1, home_community_id, $2, $3, $4, $5, 'test', $3 FROM member WHERE id = $1
                   RETURNING id""",
                m, rng.choice(("助老助残", "环境整治")), start, start + timedelta(minutes=minutes), minutes / 60)
            fate, decided = rng.random(), _when(rng, inside=0.85)
            if fate < 0.6:
                await record_service.approve_records(conn, SYSTEM_ACTOR, [record_id], now=decided)
            elif fate < 0.8:
                await record_service.reject_records(conn, SYSTEM_ACTOR, [record_id], reason="核实不符", now=decided)


async def _task(conn: Conn, rng: random.Random, c: int, g: int, need: int | None, at: datetime) -> int:
    task_id: int = await conn.fetchval(
        """INSERT INTO task (need_id, community_id, grid_id, title, category, mode, headcount,
                             window_start, window_end, qr_token_hash, created_by, status)
           VALUES ($1, $2, $3, '上门服务', '助老助残', 'claim', 2, $4, $5, 'x', 'test', $6) RETURNING id""",
        need, c, g, at, at + timedelta(hours=2), rng.choice(TASK_STATUSES))
    return task_id


async def raw_city(conn: Conn, city: SmallCity) -> ev.RawCity:
    """The raw rows of the city, read straight from the tables (no aggregation in SQL)."""
    comms = await conn.fetch(
        """SELECT c.id, c.subdistrict_id, s.district_id FROM community c
           JOIN subdistrict s ON s.id = c.subdistrict_id WHERE s.district_id = $1""", city.district_id)
    cids = [r["id"] for r in comms]
    members = await conn.fetch("SELECT id, unit_id, home_community_id FROM member WHERE id = ANY($1)",
                               city.member_ids)
    return ev.RawCity(
        communities=[ev.RawCommunity(r["id"], r["subdistrict_id"], r["district_id"]) for r in comms],
        grids=[ev.RawGrid(r["id"], r["community_id"], r["branch_name"]) for r in await conn.fetch(
            "SELECT id, community_id, branch_name FROM grid WHERE community_id = ANY($1)", cids)],
        members=[ev.RawMember(r["id"], r["unit_id"], r["home_community_id"]) for r in members],
        registrations=[ev.RawRegistration(r["id"], r["member_id"], r["grid_id"], r["status"]) for r in await conn.fetch(
            "SELECT id, member_id, grid_id, status FROM member_registration WHERE member_id = ANY($1)",
            city.member_ids)],
        ledger=[ev.RawLedgerRow(r["id"], r["member_id"], r["task_id"], r["points"],
                                Decimal(str((r["parts"] if isinstance(r["parts"], dict) else json.loads(r["parts"]))["hours"])),
                                r["awarded_at"]) for r in await conn.fetch(
            """SELECT id, member_id, task_id, points, parts, awarded_at FROM evaluation_points
               WHERE member_id = ANY($1) AND task_id IS NOT NULL""",
            city.member_ids)] + await raw_record_ledger(conn, city),
        needs=[ev.RawNeed(r["id"], r["community_id"], r["status"], r["duplicate_of"], r["created_at"]) for r in await conn.fetch(
            "SELECT id, community_id, status, duplicate_of, created_at FROM need WHERE community_id = ANY($1)", cids)],
        tasks=[ev.RawTask(r["id"], r["need_id"], r["community_id"], r["status"]) for r in await conn.fetch(
            "SELECT id, need_id, community_id, status FROM task WHERE community_id = ANY($1)", cids)],
        assignments=[ev.RawAssignment(r["task_id"], r["member_id"], r["accepted_at"]) for r in await conn.fetch(
            """SELECT a.task_id, a.member_id, a.accepted_at FROM assignment a JOIN task t ON t.id = a.task_id
               WHERE t.community_id = ANY($1)""", cids)],
        ratings=[ev.RawRating(r["task_id"], r["score"], r["rated_at"]) for r in await conn.fetch(
            """SELECT r.task_id, r.score, r.rated_at FROM resident_rating r JOIN task t ON t.id = r.task_id
               WHERE t.community_id = ANY($1)""", cids)],
    )


async def raw_record_ledger(conn: Conn, city: SmallCity) -> list[ev.RawLedgerRow]:
    """Approved service records as the reference sees them: hours from the record's own start and
    end (to the quarter hour), points as approved, counted at the approval; only the ledger row's
    id is looked up (the basis lists ids), and each approved record must have exactly one."""
    records = await conn.fetch(
        """SELECT id, member_id, started_at, ended_at, points, decided_at FROM service_record
           WHERE member_id = ANY($1) AND status = 'approved'""", city.member_ids)
    credits = await conn.fetch(
        """SELECT ep.id, ep.service_record_id FROM evaluation_points ep JOIN service_record sr
               ON sr.id = ep.service_record_id WHERE sr.member_id = ANY($1)""", city.member_ids)
    ledger_id = {r["service_record_id"]: r["id"] for r in credits}
    assert len(credits) == len(ledger_id) and set(ledger_id) == {r["id"] for r in records}
    return [ev.RawLedgerRow(ledger_id[r["id"]], r["member_id"], None, r["points"],
                            Decimal(int((r["ended_at"] - r["started_at"]).total_seconds() // 900)) / 4,
                            r["decided_at"]) for r in records]


async def evaluate_sql(conn: Conn, city: SmallCity, rule: EvaluationRule, *, partition: int = 7) -> int:
    """Run every write of a run inside the test's transaction; the run id."""
    run_id = await evaluation_db.insert_run(
        conn, campaign_id=None, period_kind="quarter", period_label=PERIOD.label,
        period_start=PERIOD.start, period_end=PERIOD.end, scope=city.scope.model_dump(),
        rule=rule.model_dump(mode="json"), workflow_id=None)
    t = ev.thresholds(rule, PERIOD.start, PERIOD.end)
    # Small partitions, so several ranges (and their edges) are exercised.
    for lo, hi in ev.partition_bounds(min(city.member_ids), max(city.member_ids), partition):
        await evaluation_db.write_member_partition(
            conn, run_id=run_id, lo=lo, hi=hi, scope=city.scope, t=t,
            period_start=PERIOD.start, period_end=PERIOD.end)
    await evaluation_db.write_unit_results(conn, run_id=run_id, t=t)
    await evaluation_db.write_community_results(
        conn, run_id=run_id, scope=city.scope, t=t, period_start=PERIOD.start, period_end=PERIOD.end)
    await evaluation_db.write_area_results(conn, run_id=run_id, t=t)
    return run_id


def _opt(value: Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(value)


async def test_sql_figures_match_the_python_reference_on_random_cities(conn: Conn) -> None:
    """Every member, unit, community and area figure written by the SQL equals the reference
    computed in Python from the raw ledger rows, for several random cities and rules."""
    grades: set[Grade] = set()
    for seed, rule in ((1, EvaluationRule()),
                       (2, EvaluationRule(min_services_per_month=0.5, min_hours_per_month=1,
                                          excellent_score_per_month=15, weight_hours=2,
                                          weight_services=1.5, unit_min_registration_rate=0.5,
                                          unit_min_completion_rate=0.3, satisfied_min_score=3)),
                       (3, EvaluationRule(min_services_per_month=0.34, min_hours_per_month=0.5))):
        rng = random.Random(seed)
        city = await build_city(conn, rng)
        run_id = await evaluate_sql(conn, city, rule)
        raw = await raw_city(conn, city)
        ref = ev.evaluate_city(raw, rule, PERIOD.start, PERIOD.end)
        record_credits = {row.id for row in raw.ledger if row.task_id is None}
        assert any(set(f.ledger_ids) & record_credits for f in ref.members.values())   # records counted

        members = {r["member_id"]: r for r in await conn.fetch(
            "SELECT * FROM member_evaluation WHERE run_id = $1", run_id)}
        assert set(members) == set(ref.members) and len(members) == len(city.member_ids)
        for mid, f in ref.members.items():
            row = members[mid]
            assert (row["services"], row["hours"], row["evaluation_points"], row["ratings"], row["avg_rating"],
                    row["score"], row["quota_met"], row["registration_status"], row["registered"],
                    row["grade"], tuple(row["ledger_ids"])) == (
                f.services, f.hours, f.points, f.ratings, f.avg_rating, f.score, f.quota_met,
                f.registration_status, f.registered, f.grade.value, f.ledger_ids), (seed, mid)
        grades |= {f.grade for f in ref.members.values()}

        units = {r["unit_id"]: r for r in await conn.fetch("SELECT * FROM unit_evaluation WHERE run_id = $1", run_id)}
        assert set(units) == set(ref.units)
        for uid, u in ref.units.items():
            row = units[uid]
            assert (row["members"], row["registered"], row["quota_met"], row["services"], row["registration_rate"],
                    row["completion_rate"], row["services_per_member"], row["eligible"], row["grade"],
                    row["stars"], row["rank"]) == (
                u.members, u.registered, u.quota_met, u.services, u.registration_rate, u.completion_rate,
                u.services_per_member, u.eligible, u.grade.value, u.stars, u.rank), (seed, uid)

        comms = {r["community_id"]: r for r in await conn.fetch(
            "SELECT * FROM community_evaluation WHERE run_id = $1", run_id)}
        assert set(comms) == set(ref.communities)
        for cid, c in ref.communities.items():
            row = comms[cid]
            got = {k: row[k] for k in c.__dict__ if k not in ("grids_with_branch", "grids_with_members")}
            got["grids_with_branch"], got["grids_with_members"] = row["grids_with_branch"], row["grids_with_members"]
            assert got == c.__dict__, (seed, cid)
        assert any(c.needs for c in ref.communities.values())

        areas = {(r["level"], r["area_id"]): r for r in await conn.fetch(
            "SELECT * FROM area_evaluation WHERE run_id = $1", run_id)}
        assert set(areas) == set(ref.areas)
        for key, a in ref.areas.items():
            row = areas[key]
            assert {k: row[k] for k in a.__dict__} == a.__dict__, (seed, key)
    assert grades == set(Grade), grades   # the random cities exercise every grade


async def test_rewriting_a_partition_replaces_it(conn: Conn) -> None:
    """A retried member partition rewrites its rows instead of adding a second copy."""
    city = await build_city(conn, random.Random(9), members=20)
    rule = EvaluationRule()
    run_id = await evaluate_sql(conn, city, rule)
    t = ev.thresholds(rule, PERIOD.start, PERIOD.end)
    lo, hi = min(city.member_ids), max(city.member_ids)
    again = await evaluation_db.write_member_partition(
        conn, run_id=run_id, lo=lo, hi=hi, scope=city.scope, t=t, period_start=PERIOD.start, period_end=PERIOD.end)
    assert again == 20
    assert await conn.fetchval("SELECT count(*) FROM member_evaluation WHERE run_id = $1", run_id) == 20


async def _bulk_unit(conn: Conn, *, members: int, registered: int) -> tuple[SmallCity, int]:
    d = await places.add_district(conn, "边界区")
    c = await places.add_community(conn, await places.add_subdistrict(conn, d, "x"), "x")
    u = await places.add_unit(conn, unique("单位"), party_org="x", community_id=None)
    ids = await conn.fetch(
        """INSERT INTO member (name, unit_id, home_community_id)
           SELECT '党员' || g, $1, $2 FROM generate_series(1, $3) g RETURNING id""", u, c, members)
    member_ids = sorted(r["id"] for r in ids)
    await conn.execute(
        """INSERT INTO member_registration (member_id, community_id, status)
           SELECT id, $2, 'active' FROM unnest($1::bigint[]) id""", member_ids[:registered], c)
    return SmallCity(d, [c], [u], member_ids), u


async def test_unit_at_949_per_mille_loses_eligibility_and_950_keeps_it(conn: Conn) -> None:
    """A unit with 94.9 % of its members registered loses eligibility; exactly 95 % keeps it."""
    rule = EvaluationRule(min_services_per_month=0, min_hours_per_month=0)   # everyone meets the quota
    for registered, eligible in ((949, False), (950, True)):
        city, unit = await _bulk_unit(conn, members=1000, registered=registered)
        run_id = await evaluate_sql(conn, city, rule, partition=400)
        row = await conn.fetchrow("SELECT * FROM unit_evaluation WHERE run_id = $1 AND unit_id = $2", run_id, unit)
        assert row is not None
        assert row["eligible"] is eligible, registered
        assert row["grade"] == (Grade.basic.value if not eligible else Grade.qualified.value)
    assert ev.rate_at_least(949, 1000, Decimal("0.95")) is False
    assert ev.rate_at_least(950, 1000, Decimal("0.95")) is True


async def test_never_registered_member_with_quota_met_is_not_qualified(conn: Conn) -> None:
    """A member who never registered, though over every threshold, is graded 不合格 by the SQL."""
    rule = EvaluationRule(min_services_per_month=0, min_hours_per_month=0, excellent_score_per_month=0)
    city, _ = await _bulk_unit(conn, members=2, registered=1)
    run_id = await evaluate_sql(conn, city, rule)
    rows = {r["member_id"]: r for r in await conn.fetch(
        "SELECT * FROM member_evaluation WHERE run_id = $1", run_id)}
    registered, never = city.member_ids
    assert rows[registered]["grade"] == Grade.excellent.value
    assert rows[never]["quota_met"] is True
    assert rows[never]["registration_status"] == "none"
    assert rows[never]["grade"] == Grade.unqualified.value
