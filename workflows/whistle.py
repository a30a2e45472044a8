"""One whistle 吹哨报到 ("街乡吹哨、部门报到"), from the summons to the summary: `WhistleWorkflow`,
id `whistle-{whistle_id}`.

Summoning. The community blew the whistle on a matter it cannot handle alone. At each level of
the ladder community → subdistrict → district the units `domain.whistle` picks are summoned
(activity `whistle_summon_level`: the units' inboxes and group robots, exactly once per unit) and
the level waits until its deadline (the community's respond-by; the same window again above it).
Units answer 报到响应 with the people, resources and arrival time they send, or decline with a
reason (update `answer`). Units still silent at half the window are urged 催办, once per whistle.
As soon as the committed people cover the need the whistle is `responded`. At the deadline (or
earlier, when every summoned unit has answered) with too few people it climbs a level and that
level's staff are told; at the top with some people it goes ahead short-handed (the community is
told the shortfall); with nobody it is parked 挂账 with a reason, and a late answer from a
summoned unit still brings it back to `responded`.

On site and after. The community marks each unit on site 到岗 (update `arrive`), which makes the
whistle `on_site`, and closes it with a summary (update `close`); the units that answered are
thanked and the workflow ends. A whistle may be closed at any point (the matter resolved another
way), parked ones included.

Answers, arrivals and closing are validated updates: a refusal (a unit not summoned, a second
answer, a closed whistle) comes back to the caller as a Chinese message and leaves the workflow
untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.refusal import activity_refusal, refusal
from workflows.retries import QUICK_STEP_RETRY, QUICK_STEP_TIMEOUT

with workflow.unsafe.imports_passed_through():
    from activities.whistle import WhistleActivities
    from domain import whistle as rules
    from domain.whistle import WhistleRefusal
    from schemas.delivery import DispatcherKick
    from schemas.whistle import SummonStatus, WhistleStatus
    from schemas.whistle_contract import (
        AnswerInput,
        ArriveInput,
        CloseInput,
        CloseWhistleInput,
        RecordAnswerInput,
        RecordArrivalInput,
        SetWhistleStatusInput,
        SummonLevelInput,
        UnitAnswered,
        UnitArrived,
        UrgeInput,
        WhistleState,
        WhistleWorkflowInput,
        WhistleWorkflowResult,
    )
    from workflows.delivery import DISPATCHER_WORKFLOW_ID

StepIn = TypeVar("StepIn")
StepOut = TypeVar("StepOut")


_COMMITTED = (SummonStatus.answered, SummonStatus.arrived)


def whistle_workflow_id(whistle_id: int) -> str:
    return f"whistle-{whistle_id}"


@workflow.defn(name="WhistleWorkflow")
class WhistleWorkflow:
    @workflow.init
    def __init__(self, data: WhistleWorkflowInput) -> None:
        self._in = data
        self._status = WhistleStatus.summoning
        self._level = rules.LADDER[0]
        self._units: dict[int, SummonStatus] = {}
        self._people: dict[int, int] = {}
        self._answering: set[int] = set()
        self._urged: set[int] = set()
        self._parked_reason: str | None = None
        self._shortfall = 0
        self._close: CloseInput | None = None
        self._close_refused: ApplicationError | None = None

    # ------------------------------------------------------------------ the process

    @workflow.run
    async def run(self, data: WhistleWorkflowInput) -> WhistleWorkflowResult:
        await self._summon_up_the_ladder(data)
        while True:
            await workflow.wait_condition(lambda: self._close is not None)
            assert self._close is not None
            # Answers still being recorded land first, so the thanks reach every unit that answered.
            await workflow.wait_condition(lambda: not self._answering)
            try:
                closed = await workflow.execute_activity_method(
                    WhistleActivities.close,
                    CloseWhistleInput(whistle_id=data.whistle_id, summary=self._close.summary,
                                      actor=self._close.actor, as_of=workflow.now()),
                    start_to_close_timeout=QUICK_STEP_TIMEOUT, retry_policy=QUICK_STEP_RETRY,
                )
                break
            except ActivityError as err:
                # The close could not be recorded (its retries ran out, or its input was refused):
                # the caller is told, and the whistle stays open to a close that can be.
                self._close_refused = activity_refusal(err)
                self._close = None
        self._status = WhistleStatus.closed
        await self._kick_dispatcher(closed.external_queued)
        return WhistleWorkflowResult(whistle_id=data.whistle_id, status=self._status, level=self._level,
                                     people_committed=self._committed(), units_answered=len(self._answered()))

    async def _summon_up_the_ladder(self, data: WhistleWorkflowInput) -> None:
        """Summon level by level until the need is covered, the top is reached, or it is closed."""
        first_window = data.respond_by - workflow.now()
        deadline = data.respond_by
        if first_window <= timedelta(0):
            # Started after its own respond-by (workers were down): the units still get a window.
            deadline = workflow.now() + data.policy.min_level_window
        while True:
            start = workflow.now()
            summoned = await workflow.execute_activity_method(
                WhistleActivities.summon_level,
                SummonLevelInput(whistle_id=data.whistle_id, level=self._level, level_deadline_at=deadline,
                                 as_of=start),
                start_to_close_timeout=QUICK_STEP_TIMEOUT, retry_policy=QUICK_STEP_RETRY,
            )
            for unit_id in summoned.unit_ids:
                self._units.setdefault(unit_id, SummonStatus.summoned)
            await self._kick_dispatcher(summoned.external_queued)
            settled = self._settled()
            if not await self._wait(settled, rules.urge_at(start, deadline)):
                silent = [u for u in self._silent() if u not in self._urged]
                if silent:
                    urged = await workflow.execute_activity_method(
                        WhistleActivities.urge,
                        UrgeInput(whistle_id=data.whistle_id, level=self._level, unit_ids=silent,
                                  as_of=workflow.now()),
                        start_to_close_timeout=QUICK_STEP_TIMEOUT, retry_policy=QUICK_STEP_RETRY,
                    )
                    self._urged.update(silent)
                    await self._kick_dispatcher(urged.external_queued)
                await self._wait(settled, deadline)
            if self._close is not None:
                return
            # An answer still being recorded counts: wait for it before judging the level.
            await workflow.wait_condition(lambda: not self._answering)
            outcome = rules.outcome(self._level, committed=self._committed(), needed=data.people_needed)
            if outcome is rules.Outcome.climb:
                nxt = rules.next_level(self._level)
                assert nxt is not None   # `climb` is only ever the outcome below the top
                self._level = nxt
                deadline = workflow.now() + rules.level_window(first_window, data.policy.min_level_window)
                continue
            if outcome is rules.Outcome.park:
                await self._park(data)
                return
            self._shortfall = rules.shortfall(committed=self._committed(), needed=data.people_needed)
            await self._set_status(WhistleStatus.responded)
            return

    async def _park(self, data: WhistleWorkflowInput) -> None:
        """挂账 with a reason; a late answer from a summoned unit brings the whistle back."""
        self._parked_reason = rules.parked_reason(summoned=len(self._units), needed=data.people_needed)
        await self._set_status(WhistleStatus.parked, reason=self._parked_reason)
        await workflow.wait_condition(lambda: self._close is not None or self._committed() > 0)
        if self._close is None:
            self._shortfall = rules.shortfall(committed=self._committed(), needed=data.people_needed)
            await self._set_status(WhistleStatus.responded)

    def _settled(self) -> Callable[[], bool]:
        """Nothing more to wait for at this level: closed, covered, or every summoned unit answered."""
        def check() -> bool:
            return (self._close is not None or self._committed() >= self._in.people_needed
                    or (not self._silent() and not self._answering))
        return check

    async def _wait(self, condition: Callable[[], bool], until: datetime) -> bool:
        """Wait for `condition` until `until`; True when it held, False when the time came."""
        if condition():
            return True
        remaining = until - workflow.now()
        if remaining <= timedelta(0):
            return False
        try:
            await workflow.wait_condition(condition, timeout=remaining)
        except TimeoutError:
            return False
        return True

    def _committed(self) -> int:
        return sum(self._people.get(u, 0) for u, s in self._units.items() if s in _COMMITTED)

    def _answered(self) -> list[int]:
        return sorted(u for u, s in self._units.items() if s in _COMMITTED)

    def _silent(self) -> list[int]:
        return sorted(u for u, s in self._units.items() if s is SummonStatus.summoned and u not in self._answering)

    async def _set_status(self, status: WhistleStatus, *, reason: str | None = None) -> None:
        if self._status is WhistleStatus.on_site and status is WhistleStatus.responded:
            return   # units already on site: "responded" is behind us
        self._status = status
        moved = await workflow.execute_activity_method(
            WhistleActivities.set_status,
            SetWhistleStatusInput(whistle_id=self._in.whistle_id, status=status, people_committed=self._committed(),
                                  shortfall=self._shortfall, reason=reason, as_of=workflow.now()),
            start_to_close_timeout=QUICK_STEP_TIMEOUT, retry_policy=QUICK_STEP_RETRY,
        )
        await self._kick_dispatcher(moved.external_queued)

    async def _kick_dispatcher(self, queued: int) -> None:
        """Tell the delivery dispatcher that group-robot messages wait. If it is not running they
        wait for its next start; the inbox rows and the summons are recorded either way."""
        if not queued:
            return
        try:
            await workflow.get_external_workflow_handle(DISPATCHER_WORKFLOW_ID).signal(
                "kick", DispatcherKick(reason=f"whistle {self._in.whistle_id}: {queued} queued"))
        except ApplicationError as err:
            workflow.logger.warning("delivery dispatcher not kicked: %s", err.message)

    # ------------------------------------------------------------------ updates

    async def _record_for_unit(self, unit_id: int, step: Callable[[WhistleActivities, StepIn], Awaitable[StepOut]],
                               arg: StepIn) -> StepOut:
        """Run a unit's answer or arrival step with the unit held in `_answering` (a close, the
        silent-units check and a second answer wait for it); the activity's refusal is the update's."""
        self._answering.add(unit_id)
        try:
            return await workflow.execute_activity_method(
                step, arg, start_to_close_timeout=QUICK_STEP_TIMEOUT, retry_policy=QUICK_STEP_RETRY)
        except ActivityError as err:
            raise activity_refusal(err) from err
        finally:
            self._answering.discard(unit_id)

    def _open_status_of(self, unit_id: int) -> SummonStatus | None:
        """The unit's summons status, refusing once the whistle is closing or closed."""
        if self._close is not None or self._status is WhistleStatus.closed:
            raise refusal(WhistleRefusal.whistle_closed)
        return self._units.get(unit_id)

    @workflow.update(name="answer")
    async def answer(self, data: AnswerInput) -> UnitAnswered:
        unit_id = data.answer.unit_id
        res = await self._record_for_unit(
            unit_id, WhistleActivities.record_answer,
            RecordAnswerInput(whistle_id=self._in.whistle_id, answer=data.answer, actor=data.actor,
                              as_of=workflow.now()))
        self._units[unit_id] = res.status
        self._people[unit_id] = res.people
        await self._kick_dispatcher(res.external_queued)
        workflow.logger.info("whistle_answer", extra={"unit_id": unit_id, "status": res.status.value})
        return UnitAnswered(unit_id=unit_id, status=res.status, people_committed=self._committed(),
                            people_needed=self._in.people_needed)

    @answer.validator
    def _validate_answer(self, data: AnswerInput) -> None:
        unit_id = data.answer.unit_id
        status = self._open_status_of(unit_id)
        if status is None:
            raise refusal(WhistleRefusal.not_summoned)
        if unit_id in self._answering:
            raise refusal(WhistleRefusal.answer_in_flight)
        if status is not SummonStatus.summoned:
            raise refusal(WhistleRefusal.already_answered)

    @workflow.update(name="arrive")
    async def arrive(self, data: ArriveInput) -> UnitArrived:
        unit_id = data.arrival.unit_id
        people = data.arrival.people if data.arrival.people is not None else self._people.get(unit_id, 0)
        res = await self._record_for_unit(
            unit_id, WhistleActivities.record_arrival,
            RecordArrivalInput(whistle_id=self._in.whistle_id, unit_id=unit_id, people=people,
                               actor=data.actor, as_of=workflow.now()))
        self._units[unit_id] = SummonStatus.arrived
        self._status = WhistleStatus.on_site
        return UnitArrived(unit_id=unit_id, people=res.people, status=self._status)

    @arrive.validator
    def _validate_arrive(self, data: ArriveInput) -> None:
        unit_id = data.arrival.unit_id
        status = self._open_status_of(unit_id)
        if status is SummonStatus.arrived:
            raise refusal(WhistleRefusal.already_arrived)
        if status is not SummonStatus.answered or unit_id in self._answering:
            raise refusal(WhistleRefusal.not_committed)

    @workflow.update(name="close")
    async def close(self, data: CloseInput) -> WhistleState:
        self._close = data
        self._close_refused = None
        workflow.logger.info("whistle_close_requested", extra={"actor": data.actor})
        await workflow.wait_condition(lambda: self._status is WhistleStatus.closed or self._close_refused is not None)
        if self._status is not WhistleStatus.closed:
            assert self._close_refused is not None
            raise self._close_refused
        return self.snapshot()

    @close.validator
    def _validate_close(self, data: CloseInput) -> None:
        if self._status is WhistleStatus.closed:
            raise refusal(WhistleRefusal.whistle_closed)
        if self._close is not None:
            raise refusal(WhistleRefusal.whistle_closing)
        if not data.summary.strip():
            raise refusal(WhistleRefusal.summary_required)

    @workflow.query(name="snapshot")
    def snapshot(self) -> WhistleState:
        return WhistleState(status=self._status, level=self._level, people_needed=self._in.people_needed,
                               people_committed=self._committed(), units=dict(self._units),
                               urged=sorted(self._urged), parked_reason=self._parked_reason,
                               shortfall=self._shortfall)
