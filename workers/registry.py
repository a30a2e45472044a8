"""Every workflow and activity the workers run, in one place."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from db.pool import Pool


def all_workflows() -> Sequence[type]:
    """Workflow classes registered on the main task queue."""
    return []


def all_activities(pool: Pool) -> Sequence[Callable[..., Any]]:
    """Activity callables, built with their dependencies."""
    del pool
    return []
