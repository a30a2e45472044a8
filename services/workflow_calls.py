"""Calls into the long-running workflow that owns a subject (a campaign, a task, a cohort):
starting it exactly once, and sending it a validated update with its refusals translated.

Starting: a second start for the same workflow id, running or closed, is a no-op (a retried
request or launch must not fail, and a closed workflow is not started again).

Updating: a validator's or handler's ApplicationError becomes a Conflict carrying the workflow's
Chinese message and its type as the code; a workflow that is not running (closed or never
started) becomes the caller's own Conflict, which names the subject in words a person can act on.
"""

from __future__ import annotations

import contextlib
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.types import MethodAsyncSingleParam

from domain.errors import Conflict

R = TypeVar("R", bound=BaseModel)
P = TypeVar("P")


async def start_once(client: Client, workflow: MethodAsyncSingleParam[Any, P, Any], arg: P, *,
                     workflow_id: str, task_queue: str) -> str:
    """Start the workflow unless one with this id is running or has run; its id either way."""
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            workflow, arg, id=workflow_id, task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    return workflow_id


async def execute_update(client: Client, workflow_id: str, name: str, arg: BaseModel, result_type: type[R],
                         *, not_running: Conflict) -> R:
    """The update's result; a refusal raises Conflict, a workflow not running raises `not_running`."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        result: R = await handle.execute_update(name, arg, result_type=result_type)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError):
            raise Conflict(cause.message, code=cause.type or "refused") from err
        raise
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise not_running from err
        raise
    return result
