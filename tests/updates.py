"""Workflow updates in tests: the Chinese message of a refused one."""

from __future__ import annotations

from collections.abc import Awaitable

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError


async def refusal(call: Awaitable[object]) -> str:
    """The Chinese message of an update the workflow refused (its validator or handler said no)."""
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await call
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    return cause.message
