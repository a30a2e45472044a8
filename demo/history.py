"""`up --demo`: write the city's past (planned in demo/past.py) into the system of record.

Registrations: submission times moved back (db.member_registration.set_submitted_at), then each
community's weekly batches confirmed or rejected through the registration use cases at the
batch's business time, so confirmed_at, valid_until and the status history carry the past dates.
Tasks: one transaction writes every past task with everything its finished TaskWorkflow would
have left (see demo/past.py), through set-based writers in the db/ module of each table.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import structlog
from temporalio.client import Client

from db import assignment as assignment_db
from db import member_registration as registration_db
from db import need as need_db
from db import offer as offer_db
from db import points as points_db
from db import resident_rating as rating_db
from db import service_record as record_db
from db import task as task_db
from db.pool import Pool, analyze
from demo.past import (
    POLICY,
    REPORT,
    RULE,
    CityMember,
    CommunityPlace,
    Kind,
    PastPlan,
    plan_past,
    task_events,
    task_keys,
    task_points,
)
from domain.task_rules import hash_qr_token
from schemas.api import Page
from schemas.auth import SYSTEM_ACTOR, Actor, Role, ScopeKind
from schemas.matching import EscalationLevel
from services import directory, registration, service_record

log = structlog.get_logger(__name__)
PAGE = 1000


@dataclass(frozen=True)
class PastSeeded:
    quarter: str
    confirmed: int
    rejected: int
    pending: int
    tasks: int
    services: int
    records: int


def _community_actor(community_id: int, name: str) -> Actor:
    return Actor(role=Role.community_staff, scope_kind=ScopeKind.community, scope_id=community_id,
                 label=f"{name}工作人员")


Item = TypeVar("Item")


async def _every(read: Callable[[int], Awaitable[Page[Item]]]) -> AsyncIterator[Item]:
    """Every item of a paged read (`read(offset)`), PAGE at a time."""
    offset = 0
    while True:
        page = await read(offset)
        for item in page.items:
            yield item
        offset += PAGE
        if offset >= page.total:
            return


async def _read_city(pool: Pool) -> tuple[list[CityMember], list[tuple[int, str]], dict[int, CommunityPlace],
                                           dict[str, float], dict[int, str], set[int]]:
    """Members with their registration, units, communities with grids, category bonuses, each
    community's name, and the registrations still submitted."""
    members: list[CityMember] = []
    submitted: set[int] = set()
    units: list[tuple[int, str]] = []
    grids: dict[int, list[tuple[int, str]]] = defaultdict(list)
    names: dict[int, str] = {}
    async with pool.acquire() as conn:
        async for m in _every(lambda offset: directory.list_members(conn, SYSTEM_ACTOR, limit=PAGE, offset=offset)):
            if (m.unit_id is None or m.home_community_id is None or m.home_grid_id is None
                    or m.registration_id is None):
                continue
            members.append(CityMember(m.id, m.unit_id, m.home_community_id, m.home_grid_id, m.registration_id))
            if m.registration_status == "submitted":
                submitted.add(m.registration_id)
        async for u in _every(lambda offset: directory.list_units(conn, SYSTEM_ACTOR, limit=PAGE, offset=offset)):
            units.append((u.id, u.name))
        async for g in _every(lambda offset: directory.list_grids(conn, SYSTEM_ACTOR, limit=PAGE, offset=offset)):
            grids[g.community_id].append((g.id, g.name))
        cpage = await directory.list_communities(conn, SYSTEM_ACTOR, limit=PAGE, offset=0)
        names = {c.id: c.name for c in cpage.items}
        bonus = {c.name: c.category_bonus for c in await need_db.select_categories(conn)}
    places = {cid: CommunityPlace(cid, _community_actor(cid, names.get(cid, "社区")).audit_name, sorted(gs))
              for cid, gs in grids.items()}
    return members, units, places, bonus, names, submitted


async def _decide_registrations(pool: Pool, client: Client, plan: PastPlan, names: dict[int, str],
                                submitted: set[int]) -> tuple[int, int, int]:
    """Backdate the submissions, then confirm / reject in each community's weekly batches."""
    todo = [m for m in plan.members if m.registration_id in submitted]
    async with pool.acquire() as conn:
        await registration_db.set_submitted_at(
            conn, ids=[m.registration_id for m in todo], submitted_ats=[m.submitted_at for m in todo])
    confirm: dict[tuple[int, datetime], list[int]] = defaultdict(list)
    reject: dict[tuple[int, datetime, str], list[int]] = defaultdict(list)
    for m in todo:
        if m.decided_at is None:
            continue
        if m.kind is Kind.rejected:
            assert m.reject_reason is not None
            reject[(m.community_id, m.decided_at, m.reject_reason)].append(m.registration_id)
        else:
            confirm[(m.community_id, m.decided_at)].append(m.registration_id)
    batches: list[tuple[datetime, int, list[int], str | None]] = [
        (at, cid, ids, None) for (cid, at), ids in confirm.items()
    ] + [(at, cid, ids, reason) for (cid, at, reason), ids in reject.items()]
    batches.sort(key=lambda b: (b[0], b[1]))
    confirmed = rejected = 0
    async with pool.acquire() as conn:
        for at, cid, ids, reason in batches:
            actor = _community_actor(cid, names.get(cid, "社区"))
            # No client per batch: the cohort workflows are nudged once at the end.
            if reason is None:
                confirmed += len(await registration.confirm_registrations(conn, actor, ids, now=at))
            else:
                rejected += len(await registration.reject_registrations(conn, actor, ids, reason, now=at))
    cohorts = set()
    async with pool.acquire() as conn:
        for m in todo[:1]:
            reg = await registration_db.select_registration(conn, registration_id=m.registration_id)
            if reg is not None:
                cohorts.add(reg.registration.cohort_id)
    for cohort_id in sorted(c for c in cohorts if c is not None):
        # A stop right after the import's commit leaves the cohort unstarted; starting is idempotent.
        await registration.start_cohort(client, cohort_id=cohort_id)
    await registration.signal_cohorts(client, cohorts, "confirmed")
    pending = sum(1 for m in todo if m.decided_at is None)
    return confirmed, rejected, pending


async def _write_tasks(pool: Pool, plan: PastPlan) -> tuple[int, int]:
    """Every past task with its need, offers, assignments, rating, history and credits."""
    tasks = plan.tasks
    if not tasks:
        return 0, 0
    with_need = [t for t in tasks if t.need is not None]
    async with pool.acquire() as conn, conn.transaction():
        need_ids = await need_db.insert_closed_needs(
            conn,
            categories=[t.need["category"] for t in with_need if t.need],
            community_ids=[t.community_id for t in with_need],
            grid_ids=[t.grid_id for t in with_need],
            urgencies=[t.need["urgency"] for t in with_need if t.need],
            deadline_ats=[t.need["deadline_at"] for t in with_need if t.need],
            descriptions=[t.need["description"] for t in with_need if t.need],
            resident_names=[t.need["resident_name"] for t in with_need if t.need],
            resident_phones=[t.need["resident_phone"] for t in with_need if t.need],
            donor_names=[t.need["donor_name"] for t in with_need if t.need],
            donor_anonymous=[t.need["donor_anonymous"] for t in with_need if t.need],
            created_by=[t.created_by for t in with_need],
            created_ats=[t.need["created_at"] for t in with_need if t.need],
            decided_ats=[t.need["decided_at"] for t in with_need if t.need],
            closed_ats=[t.verified_at for t in with_need],
        )
        need_of = {id(t): n for t, n in zip(with_need, need_ids, strict=True)}
        grid_deadline = POLICY.level_deadlines[EscalationLevel.grid]
        task_ids = await task_db.insert_closed_tasks(
            conn,
            need_ids=[need_of.get(id(t)) for t in tasks],
            community_ids=[t.community_id for t in tasks],
            grid_ids=[t.grid_id for t in tasks],
            titles=[t.title for t in tasks],
            categories=[t.category for t in tasks],
            headcounts=[len(t.members) for t in tasks],
            window_starts=[t.window_start for t in tasks],
            window_ends=[t.window_end for t in tasks],
            places=[t.place for t in tasks],
            category_bonuses=[t.category_bonus for t in tasks],
            # The QR code of a closed task is of no use any more: a random token nobody holds.
            qr_token_hashes=[hash_qr_token(secrets.token_urlsafe(16)) for _ in tasks],
            created_by=[t.created_by for t in tasks],
            created_ats=[t.created_at for t in tasks],
            level_deadline_ats=[t.created_at + timedelta(seconds=1) + grid_deadline for t in tasks],
            closed_ats=[t.verified_at for t in tasks],
            points_per_hour=RULE.points_per_hour, rating_bonus=RULE.rating_bonus, points_cap=RULE.cap,
        )
        served = [(tid, t, i) for tid, t in zip(task_ids, tasks, strict=True) for i in range(len(t.members))]
        offer_ids = await offer_db.insert_answered_offers(
            conn,
            task_ids=[tid for tid, _, _ in served],
            member_ids=[t.members[i] for _, t, i in served],
            waves=[1] * len(served), levels=["grid"] * len(served), statuses=["accepted"] * len(served),
            score_parts=[t.score_parts[i] for _, t, i in served],
            reasons=[None] * len(served),
            offered_ats=[t.offered_at for _, t, _ in served],
            expires_ats=[t.offered_at + POLICY.offer_timeout for _, t, _ in served],
            answered_ats=[t.accepted_at[i] for _, t, i in served],
        )
        offer_of = {(tid, t.members[i]): oid for (tid, t, i), oid in zip(served, offer_ids, strict=True)}
        await assignment_db.insert_served_assignments(
            conn,
            task_ids=[tid for tid, _, _ in served],
            member_ids=[t.members[i] for _, t, i in served],
            accepted_ats=[t.accepted_at[i] for _, t, i in served],
            checked_in_ats=[t.checked_in_at[i] for _, t, i in served],
            checked_out_ats=[t.checked_out_at[i] for _, t, i in served],
            hours=[t.hours[i] for _, t, i in served],
            reports=[REPORT] * len(served),
        )
        await rating_db.insert_ratings(
            conn, task_ids=task_ids, scores=[t.rating for t in tasks], comments=[t.rating_comment for t in tasks],
            defaulted=[t.defaulted for t in tasks], rated_ats=[t.rated_at for t in tasks],
        )
        events: list[tuple[int, tuple[Any, ...]]] = []
        for tid, t in zip(task_ids, tasks, strict=True):
            for e in task_events(tid, t):
                if e[0] == "offer_accepted" and e[3] is not None:
                    e = (*e[:5], {"offer_id": offer_of[(tid, e[3])], "reason": None}, e[6])
                events.append((tid, e))
        await task_db.insert_task_events(
            conn,
            task_ids=[tid for tid, _ in events], kinds=[e[0] for _, e in events],
            from_statuses=[e[1] for _, e in events], to_statuses=[e[2] for _, e in events],
            member_ids=[e[3] for _, e in events], actors=[e[4] for _, e in events],
            details=[e[5] for _, e in events], ats=[e[6] for _, e in events],
        )
        credit_rows = [(tid, t, m, key, p) for tid, t in zip(task_ids, tasks, strict=True)
                       for m, key, p in zip(t.members, task_keys(tid, t), task_points(t), strict=True)]
        credited = await points_db.credit_services_of_tasks(
            conn,
            task_ids=[r[0] for r in credit_rows], member_ids=[r[2] for r in credit_rows],
            service_keys=[r[3] for r in credit_rows], points=[r[4]["total"] for r in credit_rows],
            parts=[r[4] for r in credit_rows], ats=[r[1].verified_at for r in credit_rows],
        )
    return len(task_ids), credited


async def _write_records(pool: Pool, plan: PastPlan, names: dict[int, str]) -> int:
    """The members' own service records: logged, then approved through the use case in each
    community's weekly batch (points by the record rule, once, under record:{id})."""
    records = plan.records
    if not records:
        return 0
    async with pool.acquire() as conn:
        ids = await record_db.insert_logged_records(
            conn, member_ids=[r.member_id for r in records], community_ids=[r.community_id for r in records],
            grid_ids=[r.grid_id for r in records], categories=[r.category for r in records],
            started_ats=[r.started_at for r in records], ended_ats=[r.ended_at for r in records],
            hours=[r.hours for r in records], descriptions=[r.description for r in records],
            created_by=[f"member:{r.member_id}" for r in records], created_ats=[r.created_at for r in records],
        )
        batches: dict[tuple[datetime, int], list[int]] = defaultdict(list)
        for record_id, r in zip(ids, records, strict=True):
            batches[(r.approved_at, r.community_id)].append(record_id)
        approved = 0
        for (at, community_id), batch in sorted(batches.items()):
            async with conn.transaction():
                actor = _community_actor(community_id, names.get(community_id, "社区"))
                approved += len(await service_record.approve_records(conn, actor, batch, now=at))
    return approved


async def seed_past(pool: Pool, client: Client, *, now: datetime | None = None) -> PastSeeded | None:
    """Lay out and write the city's past; None when an earlier run wrote it."""
    now = now or datetime.now(UTC)
    async with pool.acquire() as conn:
        if await task_db.exists_task_created_before(conn, at=now - timedelta(days=1)):
            return None
    members, units, places, bonus, names, submitted = await _read_city(pool)
    if not members:
        return None
    clock = time.monotonic()
    plan = plan_past(members, units, places, bonus, now)
    planned = time.monotonic()
    confirmed, rejected, pending = await _decide_registrations(pool, client, plan, names, submitted)
    decided = time.monotonic()
    # Two connections: the records' weekly approvals run while the big task statements do.
    (tasks, services), records = await asyncio.gather(_write_tasks(pool, plan), _write_records(pool, plan, names))
    async with pool.acquire() as conn:
        await analyze(conn, ["need", "task", "task_event", "offer", "assignment", "resident_rating",
                             "evaluation_points", "member_registration", "registration_event",
                             "service_record"])
    log.info("demo_past_seeded", quarter=plan.calendar.quarter_label, tasks=tasks, services=services,
             records=records, confirmed=confirmed, rejected=rejected, pending=pending, plan_s=round(planned - clock, 2),
             registrations_s=round(decided - planned, 2), tasks_s=round(time.monotonic() - decided, 2))
    return PastSeeded(quarter=plan.calendar.quarter_label, confirmed=confirmed, rejected=rejected,
                      pending=pending, tasks=tasks, services=services, records=records)
