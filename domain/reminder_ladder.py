"""The nudge ladder 提醒 → 催办 → 督办 → 通报 as pure time arithmetic.

A confirmation ladder counts forward from submission; a renewal ladder counts backward from a
deadline. Workflows ask this module when each step is due; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schemas.registration import LadderPolicy, ReminderStep

STEPS: tuple[ReminderStep, ...] = (
    ReminderStep.remind,
    ReminderStep.urge,
    ReminderStep.supervise,
    ReminderStep.public_notice,
)

STEP_LABELS: dict[ReminderStep, str] = {
    ReminderStep.remind: "提醒",
    ReminderStep.urge: "催办",
    ReminderStep.supervise: "督办",
    ReminderStep.public_notice: "通报",
}


@dataclass(frozen=True)
class DueStep:
    step: ReminderStep
    due_at: datetime


def forward_schedule(start: datetime, ladder: LadderPolicy) -> list[DueStep]:
    """Each step at `start + offset`, in ladder order (a confirmation ladder)."""
    return [DueStep(step, start + ladder.offset(step)) for step in STEPS]


def backward_schedule(deadline: datetime, ladder: LadderPolicy) -> list[DueStep]:
    """Each step at `deadline - lead`, in ladder order (a renewal ladder)."""
    return [DueStep(step, deadline - ladder.offset(step)) for step in STEPS]


def steps_to_run(schedule: list[DueStep], now: datetime) -> list[DueStep]:
    """The steps still worth running at `now`.

    A step already overtaken by a later step that is also due is dropped: a deadline learned late
    (a member confirmed a week before their cycle's deadline) starts at the strongest step due
    rather than firing remind, urge and supervise back to back.
    """
    kept: list[DueStep] = []
    for index, due in enumerate(schedule):
        later = schedule[index + 1:]
        if due.due_at <= now and any(nxt.due_at <= now for nxt in later):
            continue
        kept.append(due)
    return kept
