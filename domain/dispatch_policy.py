"""The product's dispatch policy: how long an offer waits, each level's deadline, the no-show
grace, when overdue service is escalated, the rating window and the default rating.

Pure values. A task's workflow gets its policy in its input (schemas.task_contract.DispatchPolicy),
so a running task keeps the timings it started with when these change.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from schemas.matching import EscalationLevel
from schemas.task_contract import DispatchPolicy

DEFAULT_POLICY = DispatchPolicy(
    offer_timeout=timedelta(minutes=30),
    offers_per_slot=1,
    level_deadlines={
        EscalationLevel.grid: timedelta(hours=2),
        EscalationLevel.adjacent: timedelta(hours=2),
        EscalationLevel.community: timedelta(hours=4),
        EscalationLevel.subdistrict: timedelta(hours=8),
        EscalationLevel.district: timedelta(hours=24),
    },
    no_show_grace=timedelta(minutes=30),
    overdue_community_after=timedelta(hours=2),
    rating_window=timedelta(hours=72),
    default_rating=5,
    low_rating_threshold=2,
)


def dispatch_policy(**changes: Any) -> DispatchPolicy:
    """The default policy with some of its values changed (the demo's seconds-scale timings, tests)."""
    return DispatchPolicy.model_validate({**DEFAULT_POLICY.model_dump(), **changes})
