"""The I/O steps of the campaign and reminder-wave workflows.

Every business time comes in from the workflow (`at` / `as_of` = `workflow.now()`), so the same
code runs under virtual time in tests. Every write is idempotent: status changes are guarded by
their from-statuses, a wave partition is recorded in the same statement as its reminders, and
reminders and notifications have unique keys.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db import campaign as campaign_db
from db import campaign_reminder as reminder_db
from db import campaign_unit_quota as unit_quota_db
from db import campaign_wave as wave_db
from db import delivery as delivery_db
from db import need as need_db
from db import offer as offer_db
from db import task as task_db
from db.pool import Conn, Pool
from domain import campaign_rules as rules
from domain import campaign_unit_quota as unit_quota
from domain import task_rules
from domain.channel_routing import channels_for, idempotency_key
from domain.matching_flow import assign_batch
from domain.matching_pairs import candidate_pairs
from domain.notification_texts import COUNT
from domain.reminder_ladder import STEP_LABELS
from schemas.campaign import CampaignStatus, DeadlineKind, Quotas, Recipient, ReminderPolicy
from schemas.campaign_contract import (
    CampaignPlan,
    CampaignPlanInput,
    FinishWaveInput,
    FinishWaveResult,
    MobiliseActivityInput,
    Mobilised,
    PartitionBounds,
    PartitionInput,
    PartitionResult,
    PlanWaveInput,
    PlanWaveResult,
    RecordStatusInput,
    RecordStatusResult,
    ReminderWaveInput,
    UnitQuotaGroupsInput,
    UnitQuotaGroupsResult,
    UnitQuotaPageInput,
    UnitQuotaPageResult,
)
from schemas.delivery import Channel, DeliveryRow, OwnerKind
from schemas.matching import MatchWeights, TaskSpec
from telemetry import metrics

log = structlog.get_logger(__name__)

# A partition statement heartbeats this often (the wave workflow's heartbeat timeout is 3x).
HEARTBEAT_EVERY = timedelta(seconds=10)
# How long a mobilisation's offers stay open before the task's own dispatch takes over.
MOBILISE_OFFER_TTL = timedelta(hours=2)

_GROUP_KINDS = (Recipient.unit, Recipient.community, Recipient.subdistrict)


def _missing(campaign_id: int) -> ApplicationError:
    return ApplicationError(f"活动 {campaign_id} 不存在", type="not_found", non_retryable=True)


def partition_bounds(lo: int, hi: int, partitions: int) -> list[PartitionBounds]:
    """Split [lo, hi] into at most `partitions` contiguous, non-overlapping id ranges."""
    span = hi - lo + 1
    count = max(1, min(partitions, span))
    size = -(-span // count)   # ceiling division
    return [PartitionBounds(partition=i, lo=lo + i * size, hi=min(lo + (i + 1) * size - 1, hi))
            for i in range(count) if lo + i * size <= hi]


async def _queue(conn: Conn, rows: list[DeliveryRow]) -> int:
    """Insert inbox and external rows; how many external ones were queued now (a recipient
    without an endpoint for a robot channel gets none)."""
    inbox = [r for r in rows if r.channel is Channel.inbox]
    external = [r for r in rows if r.channel is not Channel.inbox]
    if inbox:
        await delivery_db.insert_deliveries(conn, inbox)
    return await delivery_db.insert_deliveries(conn, external) if external else 0


def _key(wave: ReminderWaveInput) -> reminder_db.WaveKey:
    return reminder_db.WaveKey(wave.campaign_id, rules.ladder_name(wave.campaign_id, wave.deadline_kind),
                               wave.period, wave.step.value)


class CampaignActivities:
    """Built once per worker with the pool; each method is one activity."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def all(self) -> list[Callable[..., Any]]:
        """Every activity of this class, for the worker registry."""
        return [self.load_plan, self.record_status, self.plan_wave, self.remind_partition,
                self.finish_wave, self.remind_unit_quota_page, self.remind_unit_quota_groups,
                self.mobilise]

    @activity.defn(name="campaign_load_plan")
    async def load_plan(self, data: CampaignPlanInput) -> CampaignPlan:
        async with self._pool.acquire() as conn:
            row = await campaign_db.select_campaign(conn, campaign_id=data.campaign_id)
        if row is None:
            raise _missing(data.campaign_id)
        return CampaignPlan(
            campaign_id=row.id, status=CampaignStatus(row.status),
            window_start=row.window_start, window_end=row.window_end,
            registration_deadline=row.registration_deadline,
            quotas=Quotas.model_validate(row.quotas),
            reminder_policy=ReminderPolicy.model_validate(row.reminder_policy),
            emergency=row.emergency,
        )

    @activity.defn(name="campaign_record_status")
    async def record_status(self, data: RecordStatusInput) -> RecordStatusResult:
        """Apply a status/date change and its history row in one transaction.

        Not in a from-status: a retry of a change that already committed (the status is already
        the target) is a no-op; anything else is refused (the workflow's validators should have
        caught it first).
        """
        async with self._pool.acquire() as conn, conn.transaction():
            current = await campaign_db.select_campaign(conn, campaign_id=data.campaign_id)
            if current is None:
                raise _missing(data.campaign_id)
            changed = await campaign_db.update_campaign_status(
                conn, campaign_id=data.campaign_id, from_statuses=[s.value for s in data.from_statuses],
                to_status=data.to_status.value if data.to_status else None, window_end=data.window_end,
                registration_deadline=data.registration_deadline, at=data.at,
            )
            if changed is None:
                status = CampaignStatus(current.status)
                if data.to_status is not None and status is data.to_status:
                    return RecordStatusResult(changed=False, status=status)
                raise ApplicationError(
                    f"活动当前状态为「{rules.STATUS_LABELS[status]}」, 不能执行此操作",
                    type="conflict", non_retryable=True)
            await campaign_db.insert_campaign_event(
                conn, campaign_id=data.campaign_id, kind=data.kind, from_status=current.status,
                to_status=changed.status.value, actor=data.actor,
                detail={**data.detail, **({"window_end": data.window_end} if data.window_end else {}),
                        **({"registration_deadline": data.registration_deadline}
                           if data.registration_deadline else {})},
                at=data.at,
            )
        log.info("campaign_status", campaign_id=data.campaign_id, kind=data.kind,
                 status=changed.status.value)
        return RecordStatusResult(changed=True, status=changed.status)

    @activity.defn(name="campaign_plan_wave")
    async def plan_wave(self, data: PlanWaveInput) -> PlanWaveResult:
        """Create (or find) the wave row and cut the member id range into partitions.

        The bounds are fixed by the first plan (partitions_total is kept on a re-plan); members
        added later with higher ids are outside this wave, which is what a wave at a deadline
        means.
        """
        wave = data.wave
        async with self._pool.acquire() as conn, conn.transaction():
            bounds = await wave_db.select_member_id_bounds(conn)
            parts = partition_bounds(*bounds, wave.partitions) if bounds else []
            wave_id = await wave_db.upsert_wave(
                conn, campaign_id=wave.campaign_id, deadline_kind=wave.deadline_kind.value,
                period=wave.period, step=wave.step.value, partitions_total=len(parts), at=data.at)
            done = await wave_db.select_done_partitions(conn, wave_id=wave_id)
        pending = [p for p in parts if p.partition not in done]
        log.info("campaign_wave_planned", campaign_id=wave.campaign_id, wave_id=wave_id,
                 step=wave.step.value, partitions=len(parts), pending=len(pending))
        return PlanWaveResult(wave_id=wave_id, pending=pending)

    @activity.defn(name="campaign_remind_partition")
    async def remind_partition(self, data: PartitionInput) -> PartitionResult:
        """Remind the members behind in one id range, with their tallies, in one statement.

        Heartbeats while the statement runs, so a worker that dies mid-partition is noticed
        after the heartbeat timeout (not the start-to-close timeout) and the partition retried
        elsewhere; the rolled-back statement left nothing behind.
        """
        work = asyncio.ensure_future(self._remind_partition(data))
        try:
            while True:
                done, _ = await asyncio.wait({work}, timeout=HEARTBEAT_EVERY.total_seconds())
                if done:
                    return work.result()
                activity.heartbeat(data.bounds.partition)
        finally:
            # Cancelled (worker shutting down, wave cancelled): stop the statement too; its
            # transaction rolls back and the retry does the partition whole.
            if not work.done():
                work.cancel()

    async def _remind_partition(self, data: PartitionInput) -> PartitionResult:
        wave = data.wave
        async with self._pool.acquire() as conn, conn.transaction():
            done = await wave_db.select_partition(conn, wave_id=data.wave_id, partition=data.bounds.partition)
            if done is not None:
                return PartitionResult(behind=done.behind, reminded=done.reminded, already_done=True)
            campaign = await campaign_db.select_campaign(conn, campaign_id=wave.campaign_id)
            if campaign is None:
                raise _missing(wave.campaign_id)
            text = rules.member_text(wave.deadline_kind, wave.step, campaign.name, wave.period_end)
            message = reminder_db.MemberMessage(
                text.category, text.title, text.body,
                reason=f"{STEP_LABELS[wave.step]}: {'未报到' if wave.deadline_kind is DeadlineKind.registration else '服务指标未完成'}")
            policy = ReminderPolicy.model_validate(campaign.reminder_policy)
            external = [c for c in channels_for(OwnerKind.member, wave.step, policy.channels)
                        if c is not Channel.inbox]
            spec = reminder_db.PartitionSpec(
                wave_id=data.wave_id, partition=data.bounds.partition, lo=data.bounds.lo, hi=data.bounds.hi,
                remind_members=Recipient.member in wave.notify,
                group_kinds=[k.value for k in _GROUP_KINDS if k in wave.notify])
            if wave.deadline_kind is DeadlineKind.registration:
                outcome = await reminder_db.remind_unregistered_partition(
                    conn, key=_key(wave), spec=spec, message=message, at=data.as_of,
                    want_ids=bool(external))
            else:
                quotas = Quotas.model_validate(campaign.quotas)
                outcome = await reminder_db.remind_under_quota_partition(
                    conn, key=_key(wave), spec=spec, message=message, at=data.as_of,
                    period_start=wave.period_start, as_of=data.as_of,
                    min_services=quotas.min_services or 0, min_hours=quotas.min_hours or 0.0,
                    want_ids=bool(external))
            # The outbox rows commit with the reminders (same transaction): a member reminded
            # now is queued on SMS exactly once, a retry finds the partition done.
            queued = await delivery_db.insert_deliveries(conn, [
                DeliveryRow(channel=channel, recipient_kind=OwnerKind.member, recipient_id=member_id,
                            title=text.title, body=text.body, template=text.category,
                            idempotency_key=idempotency_key(f"{_key(wave).dedupe_prefix}member:{member_id}", channel),
                            campaign_id=wave.campaign_id)
                for member_id in outcome.reminded_ids for channel in external]) if external else 0
        metrics.REMINDERS_SENT.labels(ladder="campaign", step=wave.step.value).inc(outcome.reminded)
        return PartitionResult(behind=outcome.behind, reminded=outcome.reminded, external_queued=queued)

    @activity.defn(name="campaign_finish_wave")
    async def finish_wave(self, data: FinishWaveInput) -> FinishWaveResult:
        """Tell each unit / community / subdistrict at this step how many of its members are behind."""
        wave = data.wave
        async with self._pool.acquire() as conn, conn.transaction():
            campaign = await campaign_db.select_campaign(conn, campaign_id=wave.campaign_id)
            if campaign is None:
                raise _missing(wave.campaign_id)
            messages = []
            for kind in _GROUP_KINDS:
                if kind in wave.notify:
                    text = rules.group_text(kind, wave.deadline_kind, wave.step, campaign.name,
                                            wave.period_end)
                    messages.append(reminder_db.GroupMessage(kind.value, text.category, text.title, text.body))
            sent: list[tuple[str, int, int]] = []
            if messages:
                sent = await reminder_db.remind_groups(
                    conn, key=_key(wave), wave_id=data.wave_id, messages=messages,
                    reason=f"{STEP_LABELS[wave.step]}: 所属党员未完成", at=data.at)
            policy = ReminderPolicy.model_validate(campaign.reminder_policy)
            by_kind = {m.recipient_kind: m for m in messages}
            rows: list[DeliveryRow] = []
            for group_kind, recipient_id, count in sent:
                message = by_kind[group_kind]
                body = message.body.replace(COUNT, str(count))
                key = idempotency_key
                rows.extend(
                    DeliveryRow(channel=channel, recipient_kind=OwnerKind(group_kind), recipient_id=recipient_id,
                                title=message.title, body=body, template=message.category,
                                idempotency_key=key(f"{_key(wave).dedupe_prefix}{group_kind}:{recipient_id}", channel),
                                campaign_id=wave.campaign_id)
                    for channel in channels_for(group_kind, wave.step, policy.channels)
                    if channel is not Channel.inbox)
            # Robots only where the unit / community has an endpoint (insert_deliveries joins them).
            queued = await delivery_db.insert_deliveries(conn, rows) if rows else 0
            totals = await wave_db.finish_wave(conn, wave_id=data.wave_id, groups_reminded=len(sent), at=data.at)
        log.info("campaign_wave_finished", campaign_id=wave.campaign_id, wave_id=data.wave_id,
                 step=wave.step.value, behind=totals.behind, reminded=totals.reminded,
                 groups_reminded=len(sent), external_queued=queued)
        return FinishWaveResult(behind=totals.behind, reminded=totals.reminded,
                                groups_reminded=totals.groups_reminded, external_queued=queued)

    @activity.defn(name="campaign_remind_unit_quota_page")
    async def remind_unit_quota_page(self, data: UnitQuotaPageInput) -> UnitQuotaPageResult:
        """Remind the units of one page whose registration rate is below the unit quota.

        One transaction: the reminder rows (unique per unit, step) and, for those inserted now
        only, the inbox notification and the unit's robot deliveries. A retried page finds its
        reminders recorded and queues nothing again; a unit that caught up is not behind.
        """
        wave = data.wave
        rate = wave.unit_quota_rate
        if rate is None:
            return UnitQuotaPageResult(last_unit_id=None, behind=0, reminded=0)
        ladder = unit_quota.ladder_name(wave.campaign_id)
        async with self._pool.acquire() as conn, conn.transaction():
            campaign = await campaign_db.select_campaign(conn, campaign_id=wave.campaign_id)
            if campaign is None:
                raise _missing(wave.campaign_id)
            last_id, counts = await unit_quota_db.select_unit_page(
                conn, campaign_id=wave.campaign_id, after_unit_id=data.after_unit_id, limit=wave.unit_page_size)
            behind = [(u, unit_quota.shortfall(members=u.members, registered=u.registered, rate=rate))
                      for u in counts if unit_quota.is_behind(members=u.members, registered=u.registered, rate=rate)]
            new = await unit_quota_db.insert_reminders(
                conn, ladder=ladder, subject_kind="reporting_unit", subject_id=None, cycle=unit_quota.CYCLE,
                step=wave.step.value, at=data.wave.as_of,
                rows=[unit_quota_db.ReminderRow("unit", u.unit_id, unit_quota.reason(
                    members=u.members, registered=u.registered, rate=rate, short=short)) for u, short in behind])
            policy = ReminderPolicy.model_validate(campaign.reminder_policy)
            channels = channels_for(OwnerKind.unit, wave.step, policy.channels)
            rows: list[DeliveryRow] = []
            for u, short in behind:
                if ("unit", u.unit_id) not in new:
                    continue
                text = unit_quota.unit_text(wave.step, campaign.name, wave.period_end, rate=rate,
                                            members=u.members, registered=u.registered, short=short)
                base = unit_quota.dedupe_base(wave.campaign_id, wave.step, "unit", u.unit_id)
                rows.extend(DeliveryRow(channel=channel, recipient_kind=OwnerKind.unit, recipient_id=u.unit_id,
                                        title=text.title, body=text.body, template=text.category,
                                        idempotency_key=idempotency_key(base, channel),
                                        campaign_id=wave.campaign_id)
                            for channel in channels)
            queued = await _queue(conn, rows)
        log.info("campaign_unit_quota_page", campaign_id=wave.campaign_id, step=wave.step.value,
                 after_unit_id=data.after_unit_id, last_unit_id=last_id, behind=len(behind), reminded=len(new))
        metrics.REMINDERS_SENT.labels(ladder="campaign_unit_quota", step=wave.step.value).inc(len(new))
        return UnitQuotaPageResult(last_unit_id=last_id, behind=len(behind), reminded=len(new),
                                   external_queued=queued)

    @activity.defn(name="campaign_remind_unit_quota_groups")
    async def remind_unit_quota_groups(self, data: UnitQuotaGroupsInput) -> UnitQuotaGroupsResult:
        """Tell each community / subdistrict the step names which units located there are below
        the unit quota (those reminded at this step), once per step."""
        wave = data.wave
        rate = wave.unit_quota_rate
        kinds = [k for k in (Recipient.community, Recipient.subdistrict) if k in wave.notify]
        if rate is None or not kinds:
            return UnitQuotaGroupsResult(groups_reminded=0)
        ladder = unit_quota.ladder_name(wave.campaign_id)
        async with self._pool.acquire() as conn, conn.transaction():
            campaign = await campaign_db.select_campaign(conn, campaign_id=wave.campaign_id)
            if campaign is None:
                raise _missing(wave.campaign_id)
            places = await unit_quota_db.select_reminded_unit_places(
                conn, campaign_id=wave.campaign_id, ladder=ladder, cycle=unit_quota.CYCLE, step=wave.step.value)
            names: dict[tuple[str, int], list[str]] = {}
            for place in places:
                for recipient in kinds:
                    place_id = place.community_id if recipient is Recipient.community else place.subdistrict_id
                    names.setdefault((recipient.value, place_id), []).append(place.name)
            new = await unit_quota_db.insert_reminders(
                conn, ladder=ladder, subject_kind="campaign", subject_id=wave.campaign_id, cycle=unit_quota.CYCLE,
                step=wave.step.value, at=wave.as_of,
                rows=[unit_quota_db.ReminderRow(kind, rid, f"{len(units)} 个单位报到率低于 {unit_quota.percent_label(rate)}")
                      for (kind, rid), units in names.items()])
            policy = ReminderPolicy.model_validate(campaign.reminder_policy)
            rows: list[DeliveryRow] = []
            for (kind, rid), units in names.items():
                if (kind, rid) not in new:
                    continue
                text = unit_quota.group_text(Recipient(kind), wave.step, campaign.name, wave.period_end,
                                             rate=rate, unit_names=units)
                base = unit_quota.dedupe_base(wave.campaign_id, wave.step, kind, rid)
                rows.extend(DeliveryRow(channel=channel, recipient_kind=OwnerKind(kind), recipient_id=rid,
                                        title=text.title, body=text.body, template=text.category,
                                        idempotency_key=idempotency_key(base, channel),
                                        campaign_id=wave.campaign_id)
                            for channel in channels_for(kind, wave.step, policy.channels))
            queued = await _queue(conn, rows)
        log.info("campaign_unit_quota_groups", campaign_id=wave.campaign_id, step=wave.step.value,
                 groups=len(names), reminded=len(new))
        return UnitQuotaGroupsResult(groups_reminded=len(new), external_queued=queued)

    @activity.defn(name="campaign_mobilise")
    async def mobilise(self, data: MobiliseActivityInput) -> Mobilised:
        """平急转换: one task per grid in scope and offers from one batch matching, in one transaction.

        The tasks are recorded with their offers; their TaskWorkflows are not started here (an
        activity holds no Temporal client, and starting tens of thousands of workflows is bounded
        by the server's start rate): the community dispatches them from the task list.
        """
        spec = data.data
        async with self._pool.acquire() as conn, conn.transaction():
            done = await campaign_db.mobilised_at(conn, campaign_id=data.campaign_id, at=data.at)
            if done is not None:
                return Mobilised.model_validate(done)
            category = await need_db.select_category(conn, name=spec.category)
            if category is None:
                raise ApplicationError(f"类别「{spec.category}」不在目录中", type="invalid_input",
                                       non_retryable=True)
            campaign = await campaign_db.select_campaign(conn, campaign_id=data.campaign_id)
            if campaign is None:
                raise _missing(data.campaign_id)
            grids = await campaign_db.select_scope_grids(conn, campaign_id=data.campaign_id)
            task_ids: list[int] = []
            tasks: list[TaskSpec] = []
            for grid in grids:
                task_id = await task_db.insert_task(
                    conn, need_id=None, community_id=grid.community_id, grid_id=grid.grid_id,
                    title=spec.title, category=spec.category, mode="dispatch", headcount=spec.headcount,
                    required_skills=[], window_start=data.at,
                    window_end=data.at + timedelta(hours=spec.hours), place="",
                    points_per_hour=10, category_bonus=category.category_bonus, rating_bonus=2,
                    points_cap=100, redeemable=campaign.redeemable,
                    qr_token_hash=task_rules.hash_qr_token(secrets.token_urlsafe(16)),
                    created_by=spec.actor, at=data.at)
                task_ids.append(task_id)
                tasks.append(TaskSpec(task_id=task_id, community_id=grid.community_id,
                                      grid_id=grid.grid_id, headcount=spec.headcount))
            await campaign_db.insert_campaign_tasks(conn, campaign_id=data.campaign_id, task_ids=task_ids)
            members = await campaign_db.select_scope_candidates(conn, campaign_id=data.campaign_id)
            city = await campaign_db.select_scope_city_map(conn, campaign_id=data.campaign_id)
            weights = MatchWeights()
            offers = 0
            unfilled = spec.headcount * len(tasks)
            if tasks and members:
                result = assign_batch(tasks, members, candidate_pairs(tasks, members, city, weights), weights)
                by_task: dict[int, list[tuple[int, dict[str, Any]]]] = {}
                for a in result.assignments:
                    by_task.setdefault(a.task_id, []).append((a.member_id, a.score.model_dump()))
                for task_id, chosen in by_task.items():
                    inserted = await offer_db.insert_offers(
                        conn, task_id=task_id, wave=1, level="grid", member_ids=[m for m, _ in chosen],
                        score_parts=[p for _, p in chosen], offered_at=data.at,
                        expires_at=data.at + MOBILISE_OFFER_TTL)
                    offers += len(inserted)
                    await task_db.update_task_status(
                        conn, task_id=task_id, status="offering", level=None, level_deadline_at=None,
                        parked_reason=None, actor=spec.actor, at=data.at)
                unfilled = sum(result.unfilled.values())
            outcome = Mobilised(tasks_created=len(task_ids), offers=offers, unfilled_slots=unfilled)
            await campaign_db.insert_campaign_event(
                conn, campaign_id=data.campaign_id, kind="mobilise", from_status=campaign.status,
                to_status=campaign.status, actor=spec.actor, detail=outcome.model_dump(), at=data.at)
        log.info("campaign_mobilised", campaign_id=data.campaign_id, tasks=outcome.tasks_created,
                 offers=outcome.offers, unfilled=outcome.unfilled_slots)
        return outcome
