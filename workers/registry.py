"""Every workflow and activity the workers run, in one place."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from activities.campaign import CampaignActivities
from activities.delivery import DeliveryActivities
from activities.dispatch import DispatchActivities
from activities.evaluation import EvaluationActivities
from activities.exchange import ExchangeActivities
from activities.registration import RegistrationActivities
from activities.service_record import ServiceRecordActivities
from activities.unit_transfer import UnitTransferActivities
from activities.whistle import WhistleActivities
from db.pool import Pool
from schemas.settings import Settings
from workflows.campaign import CampaignWorkflow
from workflows.delivery import DeliveryDispatcherWorkflow
from workflows.evaluation import EvaluationWorkflow
from workflows.exchange import RedemptionSweepWorkflow, RedemptionWorkflow
from workflows.member_registration import MemberRegistrationCohortWorkflow
from workflows.reminder_wave import ReminderWaveWorkflow
from workflows.service_record import ServiceRecordWorkflow
from workflows.task import TaskWorkflow
from workflows.unit_registration import UnitRegistrationWorkflow
from workflows.unit_transfer import UnitTransferWorkflow
from workflows.whistle import WhistleWorkflow


def all_workflows() -> Sequence[type]:
    """Workflow classes registered on the main task queue."""
    return [MemberRegistrationCohortWorkflow, UnitRegistrationWorkflow, TaskWorkflow,
            DeliveryDispatcherWorkflow, CampaignWorkflow, ReminderWaveWorkflow,
            EvaluationWorkflow, UnitTransferWorkflow, ServiceRecordWorkflow, WhistleWorkflow,
            RedemptionWorkflow, RedemptionSweepWorkflow]


def all_activities(pool: Pool, *, reports_dir: Path | None = None) -> Sequence[Callable[..., Any]]:
    """Activity callables, built with their dependencies (unit feedback workbooks go to
    `reports_dir`, by default the setting `reports_dir`)."""
    registration = RegistrationActivities(pool)
    return [
        registration.remind_pending_confirmations,
        registration.cohort_status,
        registration.remind_due_renewals,
        registration.lapse_unrenewed,
        registration.unit_registration_status,
        registration.remind_unit_registration,
        registration.lapse_unit_registration,
        *DispatchActivities(pool).all(),
        *CampaignActivities(pool).all(),
        DeliveryActivities(pool).deliver_pending,
        *EvaluationActivities(pool, reports_dir=reports_dir or Settings().reports_dir).all(),
        *WhistleActivities(pool).all(),
        *ServiceRecordActivities(pool).all(),
        *UnitTransferActivities(pool).all(),
        *ExchangeActivities(pool).all(),
    ]
