"""How long the app waits on Temporal, and whether it holds a pooled connection meanwhile.

A client interceptor times every call a front door makes to the Temporal server (starting a
workflow, signalling it, sending an update and waiting for its result, describing or querying it)
into `TEMPORAL_CALL_SECONDS` by call. A call made while the calling task holds a connection from the
database pool (db.pool.connections_held) is counted in `TEMPORAL_CALLS_HOLDING_CONNECTION` and
logged: the connection sits idle for the whole wait, and an update waits for an activity that may
need a connection from the same pool, so enough such calls at once starve the pool.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from temporalio.client import (
    DescribeWorkflowInput,
    Interceptor,
    OutboundInterceptor,
    QueryWorkflowInput,
    SignalWorkflowInput,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    WorkflowExecutionDescription,
    WorkflowHandle,
    WorkflowUpdateHandle,
)

from db.pool import connections_held
from telemetry.metrics import TEMPORAL_CALL_SECONDS, TEMPORAL_CALLS_HOLDING_CONNECTION

log = structlog.get_logger(__name__)

T = TypeVar("T")


async def _timed(call: str, run: Callable[[], Awaitable[T]]) -> T:
    held = connections_held()
    if held:
        TEMPORAL_CALLS_HOLDING_CONNECTION.labels(call=call).inc()
        log.warning("temporal_call_holding_connection", call=call, connections=held)
    began = time.perf_counter()
    try:
        return await run()
    finally:
        TEMPORAL_CALL_SECONDS.labels(call=call).observe(time.perf_counter() - began)


class _Timed(OutboundInterceptor):
    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        return await _timed("start_workflow", lambda: super(_Timed, self).start_workflow(input))

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        await _timed("signal_workflow", lambda: super(_Timed, self).signal_workflow(input))

    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> WorkflowUpdateHandle[Any]:
        return await _timed("update_workflow", lambda: super(_Timed, self).start_workflow_update(input))

    async def describe_workflow(self, input: DescribeWorkflowInput) -> WorkflowExecutionDescription:
        return await _timed("describe_workflow", lambda: super(_Timed, self).describe_workflow(input))

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        return await _timed("query_workflow", lambda: super(_Timed, self).query_workflow(input))


class TemporalCallTiming(Interceptor):
    """Client interceptor: the time of each call to Temporal, and calls made holding a connection."""

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Timed(next)
