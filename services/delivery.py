"""Use cases of notification channels, shared by the API and the CLI: start and kick the
dispatcher, manage channel endpoints, list deliveries."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from db import channel_endpoint as endpoint_db
from db import delivery as delivery_db
from db.pool import Conn, Pool
from domain.errors import Forbidden, InvalidInput
from schemas.api import Page
from schemas.auth import Actor, Role, ScopeKind
from schemas.delivery import (
    Channel,
    ChannelEndpointInput,
    ChannelEndpointView,
    DeliveryFilter,
    DeliveryRow,
    DeliveryView,
    DispatcherInput,
    DispatcherKick,
    OwnerKind,
)
from workflows.delivery import DISPATCHER_WORKFLOW_ID, DeliveryDispatcherWorkflow


async def kick_dispatcher(
    client: Client,
    task_queue: str = "shuangbaodao",
    *,
    reason: str = "",
    workflow_id: str = DISPATCHER_WORKFLOW_ID,
    dispatcher_input: DispatcherInput | None = None,
) -> None:
    """Start the dispatcher if it is not running (signal-with-start), and tell it deliveries wait.

    Call after the transaction that inserted deliveries committed; a lost kick only delays the
    send until the dispatcher's next poll. `workflow_id` and `dispatcher_input` are for tests
    and special dispatchers (e.g. one robot's backlog); the defaults are the one dispatcher.
    """
    await client.start_workflow(
        DeliveryDispatcherWorkflow.run, dispatcher_input or DispatcherInput(), id=workflow_id,
        task_queue=task_queue, start_signal="kick", start_signal_args=[DispatcherKick(reason=reason)],
    )


async def ensure_dispatcher(
    client: Client,
    task_queue: str = "shuangbaodao",
    *,
    workflow_id: str = DISPATCHER_WORKFLOW_ID,
    dispatcher_input: DispatcherInput | None = None,
) -> str:
    """Start the dispatcher unless it is running (fixed id, conflict policy use-existing); the
    run id of the one that runs.

    Workers call this at start-up (`shuangbaodao up` and `shuangbaodao worker`), so rows queued
    while no kick came (a kick lost, a caller that only inserts) still go out: its first loop
    drains whatever is due. Calling it again, or from several workers, is a no-op.
    """
    handle = await client.start_workflow(
        DeliveryDispatcherWorkflow.run, dispatcher_input or DispatcherInput(), id=workflow_id,
        task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    run_id = handle.result_run_id
    assert run_id is not None   # a start always answers with the run it started or found
    return run_id


async def queue_deliveries(
    pool: Pool, client: Client, rows: Sequence[DeliveryRow], *, task_queue: str = "shuangbaodao",
    reason: str = "",
) -> int:
    """Queue deliveries in their own transaction, then kick the dispatcher; how many were new.

    For callers with no transaction of their own to join. A caller recording a decision (a
    reminder) calls `db.delivery.insert_deliveries` inside that transaction instead, then
    `kick_dispatcher` after it commits.
    """
    async with pool.acquire() as conn, conn.transaction():
        new = await delivery_db.insert_deliveries(conn, rows)
    if new:
        await kick_dispatcher(client, task_queue, reason=reason)
    return new


async def add_endpoint(conn: Conn, data: ChannelEndpointInput) -> ChannelEndpointView:
    """Add (or replace) the endpoint of an owner on a channel."""
    if data.channel is Channel.inbox:
        raise InvalidInput("站内消息无需配置端点")
    if data.channel is Channel.sms and (data.owner_kind is not OwnerKind.city or data.owner_id is not None):
        raise InvalidInput("短信网关是全市统一配置: 请使用 --owner-kind city 且不指定 --owner-id")
    if data.channel is not Channel.sms and data.owner_id is None:
        raise InvalidInput("群机器人须指定所属单位或社区的编号 (--owner-id)")
    if not data.url.startswith(("http://", "https://")):
        raise InvalidInput("端点地址须以 http:// 或 https:// 开头")
    row = await endpoint_db.upsert_endpoint(conn, data)
    return endpoint_db.to_view(row)


async def list_endpoints(conn: Conn, *, owner_kind: OwnerKind | None = None,
                         owner_id: int | None = None) -> list[ChannelEndpointView]:
    rows = await endpoint_db.select_endpoints(conn, owner_kind=owner_kind, owner_id=owner_id)
    return [endpoint_db.to_view(r) for r in rows]


async def list_deliveries(conn: Conn, actor: Actor, filters: DeliveryFilter) -> Page[DeliveryView]:
    """Deliveries, newest first: for the city's organization department (operations view)."""
    if actor.role is not Role.org_department or actor.scope_kind is not ScopeKind.city:
        raise Forbidden("只有市委组织部可以查看消息发送记录")
    rows, total = await delivery_db.select_deliveries(conn, filters=filters)
    return Page[DeliveryView](items=rows, total=total, limit=filters.limit, offset=filters.offset)
