"""Bind the running activity's identity to structlog's context, so every line an activity logs
says which workflow, run, activity and attempt it belongs to; and log where each attempt ran.

Each attempt this process begins is logged (`activity_started`) and so is how it ended here
(`activity_finished`: completed, failed or cancelled, with its duration). The server knows only
that it handed a task to a worker; these two lines say whether the activity code ever ran in this
process and whether it finished: after a crash or a shutdown, they tell a task lost in a poll
(never started) from an attempt abandoned midway (started, never finished).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import CancelledError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

log = structlog.get_logger(__name__)


class _BindActivityContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        with structlog.contextvars.bound_contextvars(
            workflow_id=info.workflow_id,
            run_id=info.workflow_run_id,
            workflow_type=info.workflow_type,
            activity=info.activity_type,
            activity_id=info.activity_id,
            attempt=info.attempt,
        ):
            log.info("activity_started")
            began = time.monotonic()
            outcome = "failed"
            try:
                result = await super().execute_activity(input)
                outcome = "completed"
                return result
            except (asyncio.CancelledError, CancelledError):
                outcome = "cancelled"
                raise
            finally:
                log.info("activity_finished", outcome=outcome, seconds=round(time.monotonic() - began, 3))


class LogContextInterceptor(Interceptor):
    """Worker interceptor: structlog context per activity execution, and its start and end."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BindActivityContext(next)
