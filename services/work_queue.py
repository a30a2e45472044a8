"""The workbench 工作台: how many items wait in each of a community's work queues, counted inside
the caller's scope (a community, or a subdistrict / district / the city looking over theirs)."""

from __future__ import annotations

from datetime import datetime

from db import member_registration, need, service_record, task, whistle
from db.pool import Conn, custom_plans
from domain.errors import Forbidden
from domain.scope import scope_filter
from schemas.auth import STAFF_ROLES, Actor
from schemas.work_queue import WorkQueues


async def work_queues(conn: Conn, actor: Actor, *, now: datetime) -> WorkQueues:
    if actor.role not in STAFF_ROLES:
        raise Forbidden("无权查看工作台: 仅社区、街道或组织部的工作人员可以查看")
    scope = scope_filter(actor)
    async with custom_plans(conn):   # each count skips the scope filters it is not given
        to_confirm, to_place = await member_registration.count_awaiting_community(conn, scope=scope)
        to_verify, to_dispatch = await need.count_open_needs(conn, scope=scope)
        tasks = await task.count_queues(conn, scope=scope, as_of=now)
        records = await service_record.count_pending(conn, scope=scope)
        whistles = await whistle.count_open(conn, scope=scope)
    return WorkQueues(
        registrations_to_confirm=to_confirm,
        registrations_to_place=to_place,
        needs_to_verify=to_verify,
        needs_to_dispatch=to_dispatch,
        tasks_parked=tasks["parked"],
        tasks_overdue=tasks["overdue"],
        completions_to_verify=tasks["to_verify"],
        service_records_to_approve=records,
        whistles_open=whistles,
    )
