"""The `changed` signal pattern of the registration-style workflows, in one place.

Use cases commit in Postgres first and then signal the owning workflow "look again". The
workflow counts those signals; reading the status from Postgres marks every signal received so
far as seen (the read covers them); a wait for the next deadline wakes early on an unseen one.
Only deterministic workflow calls: safe inside the workflow sandbox.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow


class ChangeWatch:
    """Signals received vs signals covered by the last status read."""

    def __init__(self) -> None:
        self._changes = 0
        self._seen = 0

    def signalled(self) -> None:
        """A `changed` signal arrived (called from the signal handler)."""
        self._changes += 1

    def mark_seen(self) -> None:
        """A status read is about to run: it covers every change signalled before it."""
        self._seen = self._changes

    @property
    def unseen(self) -> bool:
        return self._changes != self._seen

    async def wait(self) -> None:
        """Until a change arrives that the last status read did not cover."""
        await workflow.wait_condition(lambda: self.unseen)

    async def wait_until(self, until: datetime) -> bool:
        """Sleep until `until`; True when woken early by an unseen change."""
        if self.unseen:
            return True
        remaining = until - workflow.now()
        if remaining <= timedelta(0):
            return False
        try:
            await workflow.wait_condition(lambda: self.unseen, timeout=remaining)
        except TimeoutError:
            return False
        return True
