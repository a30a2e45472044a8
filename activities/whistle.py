"""The I/O steps of the whistle workflow 吹哨报到: summon a level's units, urge the silent ones,
record answers and arrivals, move the status, close.

Business time arrives as `as_of` from the workflow (`workflow.now()`). Every write is idempotent:
a summons is unique per (whistle, unit), every notification carries a dedupe key
(`whistle:<id>:<what>:<recipient>`, channel-suffixed for group robots), history events that a
retry could repeat carry a dedupe key too. Notifications go to the unit's inbox (what its admins
read) and, through the outbox, to its WeCom / DingTalk group robots where it has them; each is
written in the same transaction as the decision it announces. Refusals are non-retryable
ApplicationErrors with the Chinese message and a stable type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db import whistle as whistle_db
from db.audit_log import insert_audit_entries
from db.delivery import insert_deliveries
from db.pool import Conn, Pool
from domain import notification_texts as texts
from domain import whistle as rules
from domain.channel_routing import channels_for, idempotency_key
from domain.whistle import WhistleRefusal
from schemas.delivery import Channel, DeliveryRow, OwnerKind
from schemas.registration import ReminderStep
from schemas.whistle import SummonStatus, WhistleLevel, WhistleStatus, WhistleView
from schemas.whistle_contract import (
    CloseWhistleInput,
    CloseWhistleResult,
    RecordAnswerInput,
    RecordAnswerResult,
    RecordArrivalInput,
    RecordArrivalResult,
    SetWhistleStatusInput,
    SetWhistleStatusResult,
    SummonLevelInput,
    SummonLevelResult,
    UrgeInput,
    UrgeResult,
)

log = structlog.get_logger(__name__)

WORKFLOW_ACTOR = "system:workflow"


def _refuse(message: str, code: str) -> ApplicationError:
    return ApplicationError(message, type=code, non_retryable=True)


async def _existing(conn: Conn, whistle_id: int) -> WhistleView:
    whistle = await whistle_db.select_whistle(conn, whistle_id=whistle_id)
    if whistle is None:
        raise _refuse("吹哨事项不存在", "not_found")
    return whistle


def _rows(kind: OwnerKind, recipient_id: int, text: texts.Text, base: str,
          step: ReminderStep = ReminderStep.remind) -> list[DeliveryRow]:
    """One row per channel this recipient hears on: the inbox, and its group robots if any."""
    return [
        DeliveryRow(channel=channel, recipient_kind=kind, recipient_id=recipient_id, title=text.title,
                    body=text.body, template=text.category, idempotency_key=idempotency_key(base, channel))
        for channel in channels_for(kind, step)
    ]


async def _deliver(conn: Conn, rows: list[DeliveryRow]) -> tuple[int, int]:
    """Queue `rows`; (inbox rows new, external rows new) — the second tells the workflow to kick
    the dispatcher."""
    inbox = [r for r in rows if r.channel is Channel.inbox]
    external = [r for r in rows if r.channel is not Channel.inbox]
    new_inbox = await insert_deliveries(conn, inbox) if inbox else 0
    new_external = await insert_deliveries(conn, external) if external else 0
    return new_inbox, new_external


class WhistleActivities:
    """Built once per worker with the pool; each method is one activity."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def all(self) -> list[Callable[..., Any]]:
        """Every activity of this class, for the worker registry."""
        return [self.summon_level, self.urge, self.record_answer, self.record_arrival, self.set_status,
                self.close]

    @activity.defn(name="whistle_summon_level")
    async def summon_level(self, data: SummonLevelInput) -> SummonLevelResult:
        """Summon the units `domain.whistle` picks for this level and tell each one; above the
        community, tell that level's staff too. A retry summons and notifies nobody twice."""
        level = data.level
        async with self._pool.acquire() as conn, conn.transaction():
            w = await _existing(conn, data.whistle_id)
            place = rules.Place(community_id=w.community_id, subdistrict_id=w.subdistrict_id)
            already = set(await whistle_db.select_summoned_unit_ids(conn, whistle_id=data.whistle_id))
            candidates = await whistle_db.select_summon_candidates(
                conn, level=level.value, community_id=w.community_id, subdistrict_id=w.subdistrict_id,
                district_id=w.district_id, as_of=data.as_of)
            chosen = rules.choose_units(level, place, candidates, already)
            new = await whistle_db.insert_summons(
                conn, whistle_id=data.whistle_id, level=level.value, unit_ids=[u for u, _ in chosen],
                bases=[b for _, b in chosen], at=data.as_of)
            await whistle_db.update_whistle_level(conn, whistle_id=data.whistle_id, level=level.value,
                                                  level_deadline_at=data.level_deadline_at, at=data.as_of)
            at_level = await whistle_db.select_summoned_unit_ids(conn, whistle_id=data.whistle_id, level=level.value)
            label = rules.LEVEL_LABELS[level]
            rows: list[DeliveryRow] = []
            summons = texts.whistle_summoned(w.title, w.community_name, people_needed=w.people_needed,
                                             respond_by=data.level_deadline_at, level_label=label)
            for unit_id in at_level:
                rows += _rows(OwnerKind.unit, unit_id, summons, f"whistle:{data.whistle_id}:summon:unit:{unit_id}")
            if level is not WhistleLevel.community:
                kind = OwnerKind(level.value)
                recipient = w.subdistrict_id if level is WhistleLevel.subdistrict else w.district_id
                escalated = await whistle_db.insert_event(
                    conn, whistle_id=data.whistle_id, kind="escalated", unit_id=None, actor=WORKFLOW_ACTOR,
                    detail={"level": level.value, "units": len(at_level), "people_committed": w.people_committed},
                    at=data.as_of, dedupe=f"escalated:{level.value}")
                if escalated:
                    text = texts.whistle_escalated(w.title, w.community_name, level_label=label,
                                                   committed=w.people_committed, needed=w.people_needed)
                    rows += _rows(kind, recipient, text, f"whistle:{data.whistle_id}:escalated:{level.value}")
            await whistle_db.insert_events(conn, whistle_id=data.whistle_id, kind="summoned", unit_ids=new,
                                           actor=WORKFLOW_ACTOR, detail={"level": level.value}, at=data.as_of)
            notified, external = await _deliver(conn, rows)
        log.info("whistle_summoned", whistle_id=data.whistle_id, level=level.value, units=len(at_level),
                 new=len(new))
        return SummonLevelResult(unit_ids=at_level, notified=notified, external_queued=external)

    @activity.defn(name="whistle_urge")
    async def urge(self, data: UrgeInput) -> UrgeResult:
        """催办: the units among `unit_ids` still silent are urged, each once per whistle."""
        async with self._pool.acquire() as conn, conn.transaction():
            w = await _existing(conn, data.whistle_id)
            now, ever = await whistle_db.mark_urged(conn, whistle_id=data.whistle_id, unit_ids=data.unit_ids,
                                                    at=data.as_of)
            text = texts.whistle_urged(w.title, w.community_name,
                                       respond_by=w.level_deadline_at or w.respond_by)
            rows: list[DeliveryRow] = []
            for unit_id in ever:
                rows += _rows(OwnerKind.unit, unit_id, text, f"whistle:{data.whistle_id}:urge:unit:{unit_id}",
                              ReminderStep.urge)
            await whistle_db.insert_events(conn, whistle_id=data.whistle_id, kind="urged", unit_ids=now,
                                           actor=WORKFLOW_ACTOR, detail={"level": data.level.value}, at=data.as_of)
            _, external = await _deliver(conn, rows)
        log.info("whistle_urged", whistle_id=data.whistle_id, urged=len(now))
        return UrgeResult(urged=ever, external_queued=external)

    @activity.defn(name="whistle_record_answer")
    async def record_answer(self, data: RecordAnswerInput) -> RecordAnswerResult:
        """报到响应 or a decline, on the unit's summons; the community is told. A retry finds the
        answer already recorded and returns it."""
        a = data.answer
        external = 0
        async with self._pool.acquire() as conn, conn.transaction():
            w = await _existing(conn, data.whistle_id)
            if w.status is WhistleStatus.closed:
                raise _refuse(WhistleRefusal.whistle_closed.message, WhistleRefusal.whistle_closed)
            recorded = await whistle_db.record_answer(
                conn, whistle_id=data.whistle_id, unit_id=a.unit_id, accept=a.accept, people=a.people,
                resources=[r.model_dump(mode="json") for r in a.resources], eta=a.eta,
                contact_name=a.contact_name, contact_phone=a.contact_phone, decline_reason=a.decline_reason,
                answered_by=data.actor, at=data.as_of)
            summon = await whistle_db.select_summon(conn, whistle_id=data.whistle_id, unit_id=a.unit_id)
            if summon is None:
                raise _refuse(WhistleRefusal.not_summoned.message, WhistleRefusal.not_summoned)
            if recorded:
                kind = "answered" if a.accept else "declined"
                # Contact details stay on the summons row; the history and audit hold no phone.
                detail: dict[str, Any] = {"people": a.people if a.accept else 0,
                                          "resources": [r.model_dump(mode="json") for r in a.resources],
                                          "eta": a.eta.isoformat() if a.eta else None,
                                          "reason": a.decline_reason}
                await whistle_db.insert_event(conn, whistle_id=data.whistle_id, kind=kind, unit_id=a.unit_id,
                                              actor=data.actor, detail=detail, at=data.as_of,
                                              dedupe=f"answer:{a.unit_id}")
                await insert_audit_entries(conn, actor=data.actor, action=f"whistle_{kind}", subject_kind="whistle",
                                           subject_ids=[data.whistle_id], befores=[None],
                                           afters=[{"unit_id": a.unit_id, **detail}])
                names = await whistle_db.select_unit_names(conn, unit_ids=[a.unit_id])
                text = texts.whistle_answered(w.title, names.get(a.unit_id, str(a.unit_id)), accept=a.accept,
                                              people=a.people, eta=a.eta)
                _, external = await _deliver(conn, _rows(OwnerKind.community, w.community_id, text,
                                                         f"whistle:{data.whistle_id}:answer:unit:{a.unit_id}"))
        status = SummonStatus(summon.status)
        log.info("whistle_answered", whistle_id=data.whistle_id, unit_id=a.unit_id, status=status.value)
        return RecordAnswerResult(status=status, people=summon.people or 0, external_queued=external)

    @activity.defn(name="whistle_record_arrival")
    async def record_arrival(self, data: RecordArrivalInput) -> RecordArrivalResult:
        """到岗: the unit's people are on site; the whistle is now being handled on site."""
        async with self._pool.acquire() as conn, conn.transaction():
            await _existing(conn, data.whistle_id)
            recorded = await whistle_db.record_arrival(conn, whistle_id=data.whistle_id, unit_id=data.unit_id,
                                                       people=data.people, at=data.as_of)
            summon = await whistle_db.select_summon(conn, whistle_id=data.whistle_id, unit_id=data.unit_id)
            if summon is None or summon.status != SummonStatus.arrived.value:
                raise _refuse(WhistleRefusal.not_committed.message, WhistleRefusal.not_committed)
            if recorded:
                await whistle_db.insert_event(conn, whistle_id=data.whistle_id, kind="arrived", unit_id=data.unit_id,
                                              actor=data.actor, detail={"people": data.people}, at=data.as_of,
                                              dedupe=f"arrived:{data.unit_id}")
                await whistle_db.update_whistle_status(
                    conn, whistle_id=data.whistle_id, status=WhistleStatus.on_site.value,
                    from_statuses=[s.value for s in rules.from_statuses(WhistleStatus.on_site)],
                    shortfall=0, parked_reason=None, at=data.as_of)
        return RecordArrivalResult(people=summon.arrived_people or 0)

    @activity.defn(name="whistle_set_status")
    async def set_status(self, data: SetWhistleStatusInput) -> SetWhistleStatusResult:
        """Move the status (responded / parked); short-handed and parked whistles tell the community."""
        external = 0
        async with self._pool.acquire() as conn, conn.transaction():
            w = await _existing(conn, data.whistle_id)
            previous = await whistle_db.update_whistle_status(
                conn, whistle_id=data.whistle_id, status=data.status.value,
                from_statuses=[s.value for s in rules.from_statuses(data.status)], shortfall=data.shortfall,
                parked_reason=data.reason, at=data.as_of)
            if previous is not None:
                await whistle_db.insert_event(
                    conn, whistle_id=data.whistle_id, kind="status", unit_id=None, actor=data.actor,
                    detail={"from": previous, "to": data.status.value, "people_committed": data.people_committed,
                            "shortfall": data.shortfall, "reason": data.reason},
                    at=data.as_of, dedupe=f"status:{data.status.value}")
                text: texts.Text | None = None
                if data.status is WhistleStatus.parked:
                    text = texts.whistle_parked(w.title, data.reason or "")
                elif data.status is WhistleStatus.responded and data.shortfall > 0:
                    text = texts.whistle_short_handed(w.title, committed=data.people_committed,
                                                      needed=w.people_needed)
                if text is not None:
                    _, external = await _deliver(conn, _rows(OwnerKind.community, w.community_id, text,
                                                             f"whistle:{data.whistle_id}:{text.category}"))
        log.info("whistle_status", whistle_id=data.whistle_id, status=data.status.value, changed=previous is not None)
        return SetWhistleStatusResult(changed=previous is not None, external_queued=external)

    @activity.defn(name="whistle_close")
    async def close(self, data: CloseWhistleInput) -> CloseWhistleResult:
        """办结 with a summary; every unit that answered is thanked, once."""
        async with self._pool.acquire() as conn, conn.transaction():
            w = await _existing(conn, data.whistle_id)
            previous = await whistle_db.close_whistle(conn, whistle_id=data.whistle_id, summary=data.summary,
                                                      at=data.as_of)
            answered = await whistle_db.select_answered_unit_ids(conn, whistle_id=data.whistle_id)
            if previous is not None:
                await whistle_db.insert_event(conn, whistle_id=data.whistle_id, kind="closed", unit_id=None,
                                              actor=data.actor, detail={"from": previous, "summary": data.summary},
                                              at=data.as_of, dedupe="closed")
                await insert_audit_entries(conn, actor=data.actor, action="whistle_closed", subject_kind="whistle",
                                           subject_ids=[data.whistle_id], befores=[{"status": previous}],
                                           afters=[{"status": "closed", "summary": data.summary}])
            text = texts.whistle_closed(w.title, w.community_name)
            rows: list[DeliveryRow] = []
            for unit_id in answered:
                rows += _rows(OwnerKind.unit, unit_id, text, f"whistle:{data.whistle_id}:closed:unit:{unit_id}")
            _, external = await _deliver(conn, rows)
        log.info("whistle_closed", whistle_id=data.whistle_id, thanked=len(answered))
        return CloseWhistleResult(thanked=len(answered), external_queued=external)
