"""Sending a validated update to a long-running workflow, with its refusals translated.

A validator's or handler's ApplicationError becomes a Conflict carrying the workflow's Chinese
message and its type as the code; a workflow that is not running (closed or never started)
becomes the caller's own Conflict, which names the subject in words a person can act on.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import Conflict

R = TypeVar("R", bound=BaseModel)


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
