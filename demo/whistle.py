"""`up --demo`, 吹哨报到: the community with the most reporting units blows the whistle over a burst
water main; the summoned units answer (two send people and equipment, one declines with a reason)
and the first to answer is marked on site. The whistle stays open, so the newcomer finds a live
`WhistleWorkflow` in the Temporal UI and the answers at `GET /whistles/{id}`.

Runs once per data directory (a second `up --demo` finds the whistle and blows none).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from temporalio.client import Client

from db import unit_registration as unit_registration_db
from db import whistle as whistle_db
from db.pool import Pool
from domain.errors import DomainError
from schemas.auth import SYSTEM_ACTOR
from schemas.whistle import ResourceCategory, ResourceItem, WhistleAnswer, WhistleArrival, WhistleBlow
from services import whistle

log = structlog.get_logger(__name__)


async def _community(pool: Pool) -> int | None:
    """The community with the most units registered with it (active)."""
    async with pool.acquire() as conn:
        return await unit_registration_db.select_community_with_most_units(conn)


async def _summoned(pool: Pool, whistle_id: int, *, timeout: float) -> list[int]:
    """The units the workflow's first level summoned (waits for its activity)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with pool.acquire() as conn:
            units = await whistle_db.select_summoned_unit_ids(conn, whistle_id=whistle_id)
        if units or asyncio.get_running_loop().time() > deadline:
            return units
        await asyncio.sleep(0.3)


async def run_demo_whistle(pool: Pool, client: Client, *, task_queue: str) -> int | None:
    """Blow the demo whistle and answer it; its id, or None if the demo blew one before."""
    async with pool.acquire() as conn:
        if await whistle_db.any_whistle(conn):
            return None
    community_id = await _community(pool)
    if community_id is None:
        return None
    now = datetime.now(UTC)
    view = await whistle.blow(pool, client, SYSTEM_ACTOR, WhistleBlow(
        community_id=community_id, place="小区东门主干道", title="供水主管爆裂, 小区积水",
        matter="东门主干道供水主管爆裂, 地下车库进水, 需要人手转移车辆、抽排积水并照看行动不便的老人。",
        people_needed=8,
        resources_needed=[ResourceItem(category=ResourceCategory.pump, quantity=2),
                          ResourceItem(category=ResourceCategory.vehicle, quantity=1)],
        respond_by=now + timedelta(hours=2),
    ), now=now, task_queue=task_queue)
    units = await _summoned(pool, view.id, timeout=30)
    answers = [
        WhistleAnswer(unit_id=u, accept=True, people=people, eta=now + timedelta(minutes=40),
                      resources=[ResourceItem(category=category, quantity=1)],
                      contact_name=contact, contact_phone=phone)
        for u, (people, category, contact, phone) in zip(units[:2], (
            (5, ResourceCategory.pump, "王队长", "13900001111"),
            (3, ResourceCategory.vehicle, "李科长", "13900002222")), strict=False)
    ]
    if len(units) > 2:
        answers.append(WhistleAnswer(unit_id=units[2], accept=False, decline_reason="本单位今日全员值守防汛"))
    for data in answers:
        try:
            await whistle.answer(pool, client, SYSTEM_ACTOR, view.id, data)
        except DomainError as err:   # e.g. the workflow moved on: the demo shows what happened
            log.warning("demo_whistle_answer_refused", whistle_id=view.id, unit_id=data.unit_id, code=err.code)
    if answers and answers[0].accept:
        await whistle.arrive(pool, client, SYSTEM_ACTOR, view.id, WhistleArrival(unit_id=answers[0].unit_id))
    log.info("demo_whistle", whistle_id=view.id, summoned=len(units), answered=len(answers))
    return view.id
