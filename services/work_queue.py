"""The workbench 工作台: how many items wait in each of a community's work queues, counted inside
the caller's scope (a community, or a subdistrict / district / the city looking over theirs)."""

from __future__ import annotations

from datetime import datetime

from db import task, work_queue_tally
from db.pool import Conn, custom_plans
from domain.errors import Forbidden
from domain.scope import scope_filter
from schemas.auth import STAFF_ROLES, Actor
from schemas.work_queue import WorkQueues


async def work_queues(conn: Conn, actor: Actor, *, now: datetime) -> WorkQueues:
    if actor.role not in STAFF_ROLES:
        raise Forbidden("无权查看工作台: 仅社区、街道或组织部的工作人员可以查看")
    scope = scope_filter(actor)
    async with custom_plans(conn):   # each read skips the scope filters it is not given
        tally = await work_queue_tally.select_tally(conn, scope=scope)
        overdue = await task.count_overdue(conn, scope=scope, as_of=now)
    return WorkQueues(**tally, tasks_overdue=overdue)
