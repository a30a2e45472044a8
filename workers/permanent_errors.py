"""Activity errors that no retry can cure become non-retryable, so a workflow is never wedged.

A database write that Postgres refuses because of the data itself (a character it cannot store,
a value out of range, a check or not-null constraint) fails the same way on every attempt: retried
every few seconds for ever, it used to hang the request that waited on it and block the workflow.
This worker interceptor turns such errors into a non-retryable `ApplicationError` of type
`invalid_input`; the workflow's update handler passes it on as a refusal (workflows/refusal), and
services/workflow_calls answers the caller 422. Anything else (a lost connection, a deadlock, a
unique violation of a race that the next attempt resolves) is left to the bounded retry policy.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import asyncpg.exceptions._base as asyncpg_client_errors
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from domain.errors import InvalidInput

log = structlog.get_logger(__name__)

# Server errors of class 22 (data exception) and the constraint checks on values; the client-side
# DataError is a value asyncpg cannot encode for its parameter, and UnicodeEncodeError text with a
# lone surrogate, which no encoding to UTF-8 accepts.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.DataError,
    asyncpg.exceptions.CheckViolationError,
    asyncpg.exceptions.NotNullViolationError,
    asyncpg_client_errors.DataError,
    UnicodeEncodeError,
)


def permanent(err: BaseException) -> ApplicationError | None:
    """The non-retryable error an activity should end with instead of `err`, or None to retry."""
    if isinstance(err, PERMANENT_ERRORS):
        return ApplicationError(
            "输入中含有无法保存的内容 (如空字符或超出范围的数值): 请修改后重新提交",
            type(err).__name__, type=InvalidInput.code, non_retryable=True,
        )
    return None


class _Permanent(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await super().execute_activity(input)
        except Exception as err:
            refused = permanent(err)
            if refused is None:
                raise
            # the error's class only: its text may quote the refused personal data
            log.warning("activity_input_refused", activity=activity.info().activity_type,
                        error_type=type(err).__name__)
            raise refused from None


class PermanentErrorInterceptor(Interceptor):
    """Worker interceptor: data errors end the activity at once instead of retrying for ever."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Permanent(next)
