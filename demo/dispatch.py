"""`up --demo`'s task stream: residents' needs flowing through dispatch while a newcomer watches.

After the city is seeded, a background loop places a new need every few seconds (capped, so a
laptop is not flooded), verifies it (or rejects a few with a reason), turns it into a task, and
plays the people around it: members accept, decline or let an offer time out, scan the QR code to
check in and out; the resident rates with the task's rating code 评价码, no account (or lets the
rating default); the community verifies, rejecting about one in six at first (核查未通过, the task
goes to follow-up) and passing it after. Every
step goes through the same use cases (`services.dispatch`) the API calls, so the ledger
(`GET /ledger`) and the Temporal UI's TaskWorkflow list show real tasks in every state.

Scripted among the random ones, so each case shows up early: the first task's first offer is
declined and goes to someone else; the second is a week-long task nobody can staff (members
are free a few slots a week), which climbs the whole ladder and is parked 挂账; the third starts
now and its first member never comes, so it is marked no-show and dispatched again. The demo's
`DEMO_POLICY` has deadlines of seconds, so all of this happens within a minute or two.

Decisions are fixed functions of the object (offer id, task id), and what was created is kept in
a small state file, so a stop and a later `up --demo` resume the same stream without duplicates.
"""

from __future__ import annotations

import asyncio
import json
import random
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError

from db.pool import Pool
from demo.needs import NEEDS
from domain.dispatch_policy import dispatch_policy
from domain.errors import DomainError
from domain.local_time import PART_STARTS, local, slot_of
from domain.scope import PlaceFilter
from schemas.auth import Actor, Role, ScopeKind
from schemas.directory import Grid, Member
from schemas.dispatch import (
    AnswerOfferInput,
    LedgerFilter,
    LedgerRow,
    NeedCreate,
    NeedDecision,
    OfferStatus,
    RateInput,
    ResidentRateInput,
    ScanInput,
    TaskCreate,
    TaskStatus,
    Urgency,
)
from schemas.matching import EscalationLevel
from schemas.task_contract import DispatchPolicy
from services import directory, dispatch, resident

log = structlog.get_logger(__name__)

STREAM_ACTOR = Actor(role=Role.org_department, scope_kind=ScopeKind.city, label="演示任务流")
PAGE = 1000
FINISHED = frozenset({TaskStatus.closed, TaskStatus.cancelled, TaskStatus.verified})

# Seconds-scale deadlines: a wave, a level, a no-show and the rating window all pass while a
# newcomer is still looking at the ledger.
DEMO_POLICY = dispatch_policy(
    offer_timeout=timedelta(seconds=20),
    level_deadlines=dict.fromkeys(EscalationLevel, timedelta(seconds=30))
    | {EscalationLevel.grid: timedelta(seconds=45)},
    no_show_grace=timedelta(seconds=30),
    overdue_community_after=timedelta(minutes=1),
    rating_window=timedelta(seconds=60),
)

REJECT_REASON = "经核实该需求已由物业处理, 无需派单"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙"
GIVEN = ("桂兰", "秀英", "建国", "玉珍", "德福", "淑芬", "长林", "凤英")


@dataclass(frozen=True)
class StreamPlan:
    """How fast and how much: defaults for a newcomer's laptop; tests pass a faster plan."""

    new_need_every: float = 6.0        # seconds between needs
    total_needs: int = 30              # then the stream only plays the tasks already out
    tick: float = 1.0                  # seconds between looks at the ledger
    think: tuple[float, float] = (2.0, 6.0)   # how long a simulated person takes for one step
    reject_every: int = 8              # every n-th need is rejected at verification
    policy: DispatchPolicy = DEMO_POLICY
    seed: int = 2024


@dataclass
class StreamState:
    """What the stream created, kept in `dispatch.json` so a restart resumes it."""

    needs: int = 0
    tokens: dict[int, str] = field(default_factory=dict)   # task id → its QR token
    rating_codes: dict[int, str] = field(default_factory=dict)   # task id → the resident's 评价码
    declined_task: int | None = None
    parked_task: int | None = None
    no_show_task: int | None = None

    @classmethod
    def load(cls, path: Path | None) -> StreamState:
        if path is None or not path.exists():
            return cls()
        raw = json.loads(path.read_text("utf-8"))
        return cls(needs=raw["needs"], tokens={int(k): v for k, v in raw["tokens"].items()},
                   rating_codes={int(k): v for k, v in raw.get("rating_codes", {}).items()},
                   declined_task=raw.get("declined_task"), parked_task=raw.get("parked_task"),
                   no_show_task=raw.get("no_show_task"))

    def save(self, path: Path | None) -> None:
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({
            "needs": self.needs, "tokens": {str(k): v for k, v in self.tokens.items()},
            "rating_codes": {str(k): v for k, v in self.rating_codes.items()},
            "declined_task": self.declined_task, "parked_task": self.parked_task,
            "no_show_task": self.no_show_task,
        }, ensure_ascii=False), "utf-8")


def _fraction(text: str) -> float:
    """A stable number in [0, 1): the same decision for the same object on every run."""
    return zlib.crc32(text.encode("utf-8")) / 2**32


def _staff(community_id: int) -> Actor:
    return Actor(role=Role.community_staff, scope_kind=ScopeKind.community, scope_id=community_id,
                 label="演示网格员")


def _member(member_id: int) -> Actor:
    return Actor(role=Role.member, scope_kind=ScopeKind.member, scope_id=member_id, label=f"演示党员{member_id}")


def part_windows(now: datetime, *, length: timedelta, lead: timedelta) -> list[tuple[datetime, datetime]]:
    """Candidate service windows over the next week, one per part of day (上午/下午/晚上), each
    inside a single free-time slot (local time, as matching reads it) so matching needs exactly
    one slot free."""
    out = []
    day = local(now).replace(hour=0, minute=0, second=0, microsecond=0)
    earliest = now + lead
    for d in range(8):
        for begin, end in zip(PART_STARTS, PART_STARTS[1:], strict=False):
            part_start = day + timedelta(days=d, hours=begin)
            part_end = day + timedelta(days=d, hours=end)
            start = max(part_start, earliest)
            if start + length <= part_end:
                out.append((start, start + length))
    return out


def choose_window(now: datetime, free_slots: list[list[int]], *, length: timedelta = timedelta(minutes=50),
                  lead: timedelta = timedelta(seconds=30)) -> tuple[datetime, datetime]:
    """The soonest window in a slot where at least one member (their `free_slots`) is free, or
    simply the soonest."""
    windows = part_windows(now, length=length, lead=lead)
    for start, end in windows:
        if any(slot_of(start) in slots for slots in free_slots):
            return start, end
    return windows[0]


class TaskStream:
    """The simulated residents, grid workers and members of `up --demo`."""

    def __init__(self, pool: Pool, client: Client, *, task_queue: str, plan: StreamPlan,
                 state_file: Path | None = None, district_id: int | None = None) -> None:
        self._pool = pool
        self._client = client
        self._task_queue = task_queue
        self._plan = plan
        self._state_file = state_file
        self._district_id = district_id
        self._state = StreamState.load(state_file)
        self._rng = random.Random(plan.seed)
        # When this process first saw each step waiting (task, step, member): the "think" delay
        # runs from there. Lost on restart, which only means a step waits once more.
        self._seen: dict[tuple[int, str, int], float] = {}
        self._done: set[tuple[int, str, int]] = set()
        self._no_show_member: int | None = None
        self._grids: list[Grid] = []
        self._members: dict[int, list[Member]] = {}   # community id → active members

    @property
    def state(self) -> StreamState:
        return self._state

    async def run(self) -> None:
        """Place needs and play the tasks until cancelled (the stack's stop cancels it)."""
        loop = asyncio.get_running_loop()
        await self._load_city()
        if not self._grids:
            log.warning("task_stream_no_grids")
            return
        # Replay the generator up to where an earlier run stopped, so the same needs follow.
        for _ in range(self._state.needs):
            self._draw()
        next_need = loop.time()
        log.info("task_stream_started", needs_so_far=self._state.needs, total=self._plan.total_needs)
        while True:
            try:
                if self._state.needs < self._plan.total_needs and loop.time() >= next_need:
                    await self._new_need()
                    next_need = loop.time() + self._plan.new_need_every
                await self._play()
            except WorkflowUpdateRPCTimeoutOrCancelledError as err:
                # The client turns a cancelled update call into this error: when the stack is
                # stopping us, stop as a cancelled task; otherwise it was a slow server, go on.
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise asyncio.CancelledError from err
                log.warning("demo_update_timed_out")
            await asyncio.sleep(self._plan.tick)

    # ------------------------------------------------------------------ the city

    async def _load_city(self) -> None:
        async with self._pool.acquire() as conn:
            offset = 0
            while True:
                page = await directory.list_grids(
                    conn, STREAM_ACTOR, place=PlaceFilter(district_id=self._district_id), limit=PAGE,
                    offset=offset)
                self._grids.extend(page.items)
                offset += PAGE
                if offset >= page.total:
                    break
            for community_id in sorted({g.community_id for g in self._grids}):
                members = await directory.list_members(
                    conn, STREAM_ACTOR, place=PlaceFilter(community_id=community_id), status="active",
                    limit=PAGE, offset=0)
                self._members[community_id] = list(members.items)
        self._grids.sort(key=lambda g: g.id)

    def _draw(self) -> tuple[Grid, int, str]:
        """The next need: a grid, a template and a resident's name, from the seeded generator."""
        grid = self._rng.choice(self._grids)
        template = self._rng.randrange(len(NEEDS))
        name = self._rng.choice(SURNAMES) + self._rng.choice(GIVEN)
        return grid, template, name

    # ------------------------------------------------------------------ needs and tasks

    async def _new_need(self) -> None:
        index = self._state.needs
        grid, template, name = self._draw()
        now = datetime.now(UTC)
        members = self._members.get(grid.community_id, [])
        script = {0: "declined", 1: "parked", 2: "no_show"}.get(index)
        if script == "no_show":
            # A grid whose community has someone free right now, so the window can start now.
            free_now = [g for g in self._grids
                        if any(slot_of(now) in m.free_slots for m in self._members.get(g.community_id, []))]
            if free_now:
                grid = free_now[0]
                members = self._members.get(grid.community_id, [])
            else:
                script = None
        category, text, title = NEEDS[template]
        staff = _staff(grid.community_id)
        need_text = text.format(name=name, grid=grid.name)
        async with self._pool.acquire() as conn, conn.transaction():
            need = await dispatch.place_need(conn, staff, NeedCreate(
                category=category, grid_id=grid.id, urgency=(Urgency.red, Urgency.yellow, Urgency.blue)[index % 3],
                description=need_text, resident_name=name, resident_phone=f"139{index:08d}",
                donor_name="爱心企业" if category == "物资微心愿" else None,
                donor_anonymous=category == "物资微心愿" and index % 2 == 0,
            ), now=now)
            reject = script is None and index % self._plan.reject_every == self._plan.reject_every - 1
            await dispatch.decide_need(conn, staff, need.id, NeedDecision(
                approve=not reject, reason=REJECT_REASON if reject else None), now=now)
        self._state.needs = index + 1
        if reject:
            self._state.save(self._state_file)
            log.info("demo_need_rejected", need_id=need.id)
            return
        if script == "parked":
            # Members are free a few slots a week; a week-long window needs all of them: nobody fits.
            start, end = now + timedelta(minutes=5), now + timedelta(days=7, minutes=5)
            title = "连续一周每晚陪护独居老人"
        elif script == "no_show":
            start, end = now + timedelta(seconds=5), now + timedelta(minutes=40)
        else:
            start, end = choose_window(now, [m.free_slots for m in members])
        created = await dispatch.create_task(
            self._pool, self._client, staff,
            TaskCreate(need_id=need.id, title=title, headcount=2 if index % 5 == 4 else 1,
                       window_start=start, window_end=end, place=f"{grid.name}"),
            now=now, task_queue=self._task_queue, policy=self._plan.policy,
        )
        task_id = created.task.id
        self._state.tokens[task_id] = created.qr_token
        if created.resident_rating_code:
            self._state.rating_codes[task_id] = created.resident_rating_code
        if script == "declined":
            self._state.declined_task = task_id
        elif script == "parked":
            self._state.parked_task = task_id
        elif script == "no_show":
            self._state.no_show_task = task_id
        self._state.save(self._state_file)
        log.info("demo_task_created", task_id=task_id, need_id=need.id, script=script)

    # ------------------------------------------------------------------ the people

    def _ready(self, task_id: int, step: str, member_id: int = 0) -> bool:
        """Once per step, after that step's think time has passed since it was first seen."""
        key = (task_id, step, member_id)
        if key in self._done:
            return False
        now = asyncio.get_running_loop().time()
        first = self._seen.setdefault(key, now)
        low, high = self._plan.think
        return now - first >= low + (high - low) * _fraction(f"think:{key}")

    async def _play(self) -> None:
        if not self._state.tokens:
            return
        async with self._pool.acquire() as conn:
            rows = await dispatch.ledger(conn, STREAM_ACTOR, LedgerFilter(limit=1000), now=datetime.now(UTC))
        for row in rows:
            if row.task_id in self._state.tokens and row.status not in FINISHED:
                await self._play_task(row)

    async def _play_task(self, row: LedgerRow) -> None:
        task_id = row.task_id
        token = self._state.tokens[task_id]
        async with self._pool.acquire() as conn:
            offers = await dispatch.list_offers(conn, STREAM_ACTOR, task_id)
            events = await dispatch.task_history(conn, STREAM_ACTOR, task_id) if (
                row.holders or row.status in (TaskStatus.done, TaskStatus.follow_up)) else []
            checked_in = {e.member_id for e in events if e.kind == "checked_in"}
            checked_out = {e.member_id for e in events if e.kind == "checked_out"}
            rated = any(e.kind == "rated" for e in events)
        try:
            for offer in offers:
                if offer.status is not OfferStatus.offered or not self._ready(task_id, "answer", offer.member_id):
                    continue
                self._done.add((task_id, "answer", offer.member_id))
                choice = _fraction(f"offer:{offer.id}")
                if task_id == self._state.declined_task and offer.wave == 1:
                    choice = 0.0
                if choice < 0.3 and choice >= 0.15:
                    continue   # this member lets the offer time out: the next wave goes out
                await dispatch.answer_offer(self._pool, self._client, _member(offer.member_id), task_id,
                                            AnswerOfferInput(member_id=offer.member_id, accept=choice >= 0.3,
                                                             reason=None if choice >= 0.3 else "本周已有安排"))
            for member_id in row.holders:
                if member_id in checked_out:
                    continue
                if member_id in checked_in:
                    if self._ready(task_id, "check_out", member_id):
                        self._done.add((task_id, "check_out", member_id))
                        await dispatch.check_out(self._pool, self._client, _member(member_id), task_id, ScanInput(
                            member_id=member_id, token=token, report="已完成服务, 居民表示满意"))
                    continue
                if task_id == self._state.no_show_task and self._no_show_member in (None, member_id):
                    self._no_show_member = member_id   # this one never comes: a no-show
                    continue
                if row.status not in (TaskStatus.staffed, TaskStatus.in_progress):
                    continue   # members come once the task is staffed, not while it still offers
                if self._ready(task_id, "check_in", member_id):
                    self._done.add((task_id, "check_in", member_id))
                    await dispatch.check_in(self._pool, self._client, _member(member_id), task_id,
                                            ScanInput(member_id=member_id, token=token))
            staff = _staff(row.community_id)
            if row.status is TaskStatus.done and not rated and self._ready(task_id, "rate"):
                self._done.add((task_id, "rate", 0))
                mood = _fraction(f"rating:{task_id}")
                if mood >= 0.15:   # below: the resident never rates and the default stands
                    score = 2 if mood < 0.25 else 4 if mood < 0.5 else 5
                    comment = "服务及时, 态度很好" if score > 2 else "来得太晚了"
                    code = self._state.rating_codes.get(task_id)
                    if code is not None:   # the resident rates with their own code, no account
                        await resident.rate_as_resident(self._pool, self._client, ResidentRateInput(
                            code=code, score=score, comment=comment), now=datetime.now(UTC))
                    else:
                        await dispatch.rate(self._pool, self._client, staff, task_id,
                                            RateInput(score=score, comment=comment))
            if row.status in (TaskStatus.done, TaskStatus.follow_up) and rated:
                # About one verification in six fails at first (核查未通过) and passes after follow-up.
                rejected = any(e.kind == "verification_rejected" for e in events)
                if not rejected and _fraction(f"verify:{task_id}") < 0.17:
                    if self._ready(task_id, "reject_verification"):
                        self._done.add((task_id, "reject_verification", 0))
                        await dispatch.reject_verification(self._pool, self._client, staff, task_id,
                                                           "服务记录缺少现场照片, 请补充")
                elif self._ready(task_id, "verify"):
                    self._done.add((task_id, "verify", 0))
                    await dispatch.verify(self._pool, self._client, staff, task_id, note="已电话回访核实")
        except DomainError as err:
            # A refusal (an offer that just expired, a task that filled up) is part of the
            # show: the workflow said no, the simulated person moves on.
            log.info("demo_step_refused", task_id=task_id, code=err.code)


async def run_task_stream(pool: Pool, client: Client, *, task_queue: str, plan: StreamPlan | None = None,
                          state_file: Path | None = None, district_id: int | None = None) -> None:
    """Run the demo's task stream until cancelled."""
    await TaskStream(pool, client, task_queue=task_queue, plan=plan or StreamPlan(), state_file=state_file,
                     district_id=district_id).run()


def stream_summary(plan: StreamPlan, api_url: str | None) -> list[str]:
    """What the newcomer is told about the stream."""
    where = f"{api_url}/ledger" if api_url else "GET /ledger"
    return [
        f"任务流 task stream: 每 {plan.new_need_every:g} 秒一个居民需求, 共 {plan.total_needs} 个, "
        "党员接单/婉拒/签到/签退, 居民评价, 社区核查; 含一次婉拒改派、一个挂账任务和一次爽约",
        f"  看台账 see the ledger:  {where} (社区或组织部令牌), 或 Temporal 界面里的 TaskWorkflow 列表",
    ]
