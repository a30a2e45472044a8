"""How a workflow says no: a validated update refused with a Chinese message and a stable code.

The reasons are enums next to their messages in domain/ (`task_rules.TaskRefusal`,
`whistle.WhistleRefusal`); callers get the message and the code (the API's 409 body), and the
workflow is left untouched.
"""

from __future__ import annotations

from typing import Protocol

from temporalio.exceptions import ActivityError, ApplicationError


class Reason(Protocol):
    """A refusal reason: its value is the code, its message what the person reads."""

    @property
    def value(self) -> str: ...

    @property
    def message(self) -> str: ...


def refusal(reason: Reason) -> ApplicationError:
    return ApplicationError(reason.message, type=reason.value, non_retryable=True)


def activity_refusal(err: ActivityError | ApplicationError) -> ApplicationError:
    """Pass an activity's refusal (its Chinese message and code) on to the update's caller. An
    ordinary activity's failure arrives wrapped in ActivityError; a local activity's (the task's
    quick steps) as the activity's own ApplicationError."""
    cause = err if isinstance(err, ApplicationError) else err.cause
    if isinstance(cause, ApplicationError):
        return ApplicationError(cause.message, type=cause.type or "refused", non_retryable=True)
    return ApplicationError("操作失败, 请稍后重试", type="activity_failed", non_retryable=True)
