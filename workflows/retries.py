"""The retry policy of every activity: retried through an outage, but not for ever.

An activity that fails because of its input ends at once (workers/permanent_errors makes such
errors non-retryable). Everything else, a database or server that is down, is retried with
backoff up to `maximum_interval` for about a day, long enough to ride out a restart or a night's
outage; past that the workflow sees the failure instead of an activity retried without end.
"""

from __future__ import annotations

import math
from datetime import timedelta

from temporalio.common import RetryPolicy

RETRY_FOR = timedelta(days=1)


def bounded_retry(*, maximum_interval: timedelta, initial_interval: timedelta = timedelta(seconds=1),
                  maximum_attempts: int | None = None) -> RetryPolicy:
    """Backoff from `initial_interval` to `maximum_interval`, for about RETRY_FOR at most (or fewer
    `maximum_attempts`)."""
    attempts = math.ceil(RETRY_FOR / maximum_interval) + 10
    return RetryPolicy(initial_interval=initial_interval, maximum_interval=maximum_interval,
                       maximum_attempts=min(attempts, maximum_attempts or attempts))


# The budget of a step that is a few queries: a minute to finish, retried with backoff up to a minute.
STEP_TIMEOUT = timedelta(minutes=1)
STEP_RETRY = bounded_retry(maximum_interval=STEP_TIMEOUT)
# A step on the dispatch path a person is waiting on (a task, a whistle): half a minute.
QUICK_STEP_TIMEOUT = timedelta(seconds=30)
QUICK_STEP_RETRY = bounded_retry(maximum_interval=QUICK_STEP_TIMEOUT)
# A set-based step over the whole city (for a million members, a few dozen 50k-row statements):
# half an hour; such a step heartbeats, so a dead worker is noticed long before.
LONG_STEP_TIMEOUT = timedelta(minutes=30)
