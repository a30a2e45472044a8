"""The pure reminder ladder: when each step is due, and which steps still run when learned late."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain import notification_texts as texts
from domain.reminder_ladder import STEP_LABELS, backward_schedule, forward_schedule, steps_to_run
from schemas.registration import RegistrationPolicy, ReminderStep

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_confirmation_ladder_counts_forward_from_submission() -> None:
    """Default confirmation steps fall 2, 5, 10 and 15 days after submission."""
    schedule = forward_schedule(T0, RegistrationPolicy().confirmation)
    assert [(d.step, d.due_at - T0) for d in schedule] == [
        (ReminderStep.remind, timedelta(days=2)), (ReminderStep.urge, timedelta(days=5)),
        (ReminderStep.supervise, timedelta(days=10)), (ReminderStep.public_notice, timedelta(days=15))]


def test_renewal_ladder_counts_back_from_the_deadline() -> None:
    """Default renewal steps fall 30, 14 and 3 days before the deadline and on the day."""
    schedule = backward_schedule(T0, RegistrationPolicy().renewal)
    assert [T0 - d.due_at for d in schedule] == [timedelta(days=30), timedelta(days=14), timedelta(days=3),
                                                 timedelta(0)]


def test_a_late_start_begins_at_the_strongest_due_step() -> None:
    """Learning a deadline 10 days before it skips remind (overtaken by urge) but keeps urge onward."""
    schedule = backward_schedule(T0, RegistrationPolicy().renewal)
    kept = steps_to_run(schedule, T0 - timedelta(days=10))
    assert [d.step for d in kept] == [ReminderStep.urge, ReminderStep.supervise, ReminderStep.public_notice]
    assert [d.step for d in steps_to_run(schedule, T0 - timedelta(days=40))] == list(STEP_LABELS)


def test_texts_name_the_step_in_chinese_and_keep_the_count_placeholder() -> None:
    """Community reminders carry the step label and a {count} the SQL fills per community."""
    text = texts.confirmation_pending_for_community(ReminderStep.supervise, 9)
    assert text.title.startswith("【督办】") and "{count}" in text.body
    assert "2026年01月01日" in texts.renewal_due_for_member(ReminderStep.remind, T0).body
