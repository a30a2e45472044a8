"""The people of bench/live_load.py, as Locust users (this file is Locust's locustfile; Locust runs it
in its own process: `python -m bench.live_load` starts it, do not import it elsewhere).

A mobilisation hour in one community, every action through the API as the phone pages and the
console make it:

- members (signed in with their own session): open 我的任务 and act on the first thing that waits
  for them: check out of a task they are on, check in to one they hold (the poster's QR token),
  answer an offer 派单邀请 (accept, or now and then decline), or claim 认领 a task published for
  them (after opening the claimable list); else look at their points or messages;
- residents (no account, each from their own address): open their grid's need code 点单码 and
  place a need; open a finished task's rating code 评价码 and rate it;
- community staff: the work-queue counts, the ledger 台账, the registration statistics, the
  campaign's progress and the needs list; approve a waiting need and dispatch a task for it,
  publish a claim task for a member who has none, verify a rated task 核查;
- the organization department: the city-wide statistics, the campaign's progress per district and
  the ledger.

Shared between users (one Locust process): the tokens the staff got when creating tasks, the
claim tasks published per member, the tasks waiting for a rating and for verification. They are
read from and saved back to the plan's state file, so the next run (a step of the bench) goes on
where this one stopped.

Every request is recorded (name, group, start, milliseconds, status) and written to the plan's
samples file when Locust stops; 409 refusals that are the product's answer to a race (an offer
answered after its task filled, or after it expired) are successes for Locust and counted apart.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from locust import HttpUser, between, events, task
from locust.clients import ResponseContextManager

from domain.local_time import window_slots

PLAN: dict[str, Any] = json.loads(Path(os.environ["LIVE_LOAD_PLAN"]).read_text("utf-8"))
EXPECTED_REFUSALS = {"task_full", "no_offer", "offer_expired"}   # an answer that lost a race


class Board:
    """What the users of this process share."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.tokens: dict[int, str] = {int(k): v for k, v in state.get("tokens", {}).items()}
        self.rating_codes: dict[int, str] = {int(k): v for k, v in state.get("rating_codes", {}).items()}
        self.claims: dict[int, deque[int]] = {int(k): deque(v) for k, v in state.get("claims", {}).items()}
        self.to_rate: deque[int] = deque(state.get("to_rate", []))
        self.to_verify: deque[int] = deque(state.get("to_verify", []))
        self.active: set[int] = set()   # members with a user in this run
        self.needs_taken: set[int] = set()   # needs a staff user is approving (two must not race)
        self.samples: list[tuple[str, float, float, int, bool]] = []
        self.refusals: dict[str, int] = {}

    def state(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "rating_codes": self.rating_codes,
                "claims": {k: list(v) for k, v in self.claims.items()},
                "to_rate": list(self.to_rate), "to_verify": list(self.to_verify)}


def _load_state() -> dict[str, Any]:
    try:
        with open(PLAN["state_file"], encoding="utf-8") as f:
            loaded: dict[str, Any] = json.load(f)
            return loaded
    except FileNotFoundError:
        return {}


BOARD = Board(_load_state())
_members = itertools.cycle(PLAN["members"])
_addresses = itertools.count(1)


def _record(request_type: str, name: str, response_time: float, response_length: int, response: Any = None,
            exception: BaseException | None = None, start_time: float | None = None, **_: Any) -> None:
    # the answer's status as sent (0: none came), and whether the request failed: a refused lost
    # race (a 409 marked a success) is not a failure, a 429 marked a failure keeps its 429
    status = int(getattr(response, "status_code", 0) or 0)
    BOARD.samples.append((name, start_time or time.time(), response_time, status, exception is not None))


def _save(environment: Any, **_: Any) -> None:
    with open(PLAN["state_file"], "w", encoding="utf-8") as f:
        json.dump(BOARD.state(), f)
    with open(PLAN["samples_file"], "w", encoding="utf-8") as f:
        json.dump({"samples": BOARD.samples, "refusals": BOARD.refusals}, f)


events.request.add_listener(_record)  # type: ignore[no-untyped-call]
events.quitting.add_listener(_save)  # type: ignore[no-untyped-call]


def _code(r: ResponseContextManager) -> str:
    try:
        return str(r.json().get("code", ""))
    except ValueError:
        return ""


def _settle(r: ResponseContextManager, *, refusals: set[str] = frozenset()) -> Any:   # type: ignore[assignment]
    """Mark the response: 2xx is a success (its JSON returned); a 409 whose code is in `refusals`
    is the product refusing a lost race (a success, counted apart); anything else is a failure,
    no answer at all (status 0, a failed connection) with the exception that ended it."""
    if 200 <= r.status_code < 300:
        r.success()  # type: ignore[no-untyped-call]
        return r.json()
    if r.status_code == 0:   # no answer: the connection failed (Locust keeps the exception)
        r.failure(f"no answer: {getattr(r, 'error', None)!r}"[:300])  # type: ignore[no-untyped-call]
        return None
    code = _code(r)
    if r.status_code == 409 and code in refusals:
        r.success()  # type: ignore[no-untyped-call]
        BOARD.refusals[code] = BOARD.refusals.get(code, 0) + 1
        return None
    r.failure(f"{r.status_code} {code} {r.text[:200]}")  # type: ignore[no-untyped-call]
    return None


def _free_hour(free_slots: set[int], *, skip_days: int) -> datetime | None:
    """A whole hour in the member's free time, from `skip_days` days on (a claim outside it is refused)."""
    start = (datetime.now(UTC) + timedelta(days=1 + skip_days % 20)).replace(minute=0, second=0, microsecond=0)
    for hour in range(8 * 24):
        at = start + timedelta(hours=hour)
        if window_slots(at, at + timedelta(hours=1)) <= free_slots:
            return at
    return None


class SignedIn(HttpUser):
    abstract = True

    def sign_in(self, session: dict[str, str]) -> None:
        self.client.cookies.set("sbd_session", session["session"])
        self.client.cookies.set("sbd_csrf", session["csrf"])
        self.client.headers["X-CSRF-Token"] = session["csrf"]

    def post(self, path: str, name: str, body: dict[str, Any], *, refusals: set[str] = frozenset()) -> Any:   # type: ignore[assignment]
        with self.client.post(path, json=body, name=name, catch_response=True) as r:
            return _settle(r, refusals=refusals)

    def get(self, path: str, name: str, params: dict[str, Any] | None = None) -> Any:
        with self.client.get(path, params=params, name=name, catch_response=True) as r:
            return _settle(r)


class Member(SignedIn):
    weight = 16
    wait_time = between(1, 5)

    def on_start(self) -> None:
        me = next(_members)
        self.member_id: int = me["id"]
        self.sign_in(me)
        BOARD.active.add(self.member_id)

    @task
    def open_my_tasks(self) -> None:
        mine = self.get("/me/tasks", "member: my tasks", {"limit": 20}) or []
        holding = False
        for item in mine:
            task_id, assignment, offer = item["task"]["id"], item["assignment"], item["offer"]
            if assignment is not None and assignment["status"] == "checked_in" and task_id in BOARD.tokens:
                if self.post(f"/tasks/{task_id}/check-out", "member: check-out",
                             {"member_id": self.member_id, "token": BOARD.tokens[task_id],
                              "report": "压测: 服务完成"}) is not None:
                    BOARD.to_rate.append(task_id)
                return
            if assignment is not None and assignment["status"] == "accepted" and task_id in BOARD.tokens:
                self.post(f"/tasks/{task_id}/check-in", "member: check-in",
                          {"member_id": self.member_id, "token": BOARD.tokens[task_id]})
                return
            if assignment is None and offer is not None and offer["status"] == "offered":
                accept = random.random() < 0.9
                self.post(f"/tasks/{task_id}/answer", "member: answer",
                          {"member_id": self.member_id, "accept": accept,
                           "reason": None if accept else "压测: 时间冲突"}, refusals=EXPECTED_REFUSALS)
                return
            holding = holding or (assignment is not None and assignment["status"] in ("accepted", "checked_in"))
        queued = BOARD.claims.get(self.member_id)
        if queued and not holding:
            self.get("/tasks/claimable", "member: claimable", {"limit": 20})
            self.post(f"/tasks/{queued.popleft()}/claim", "member: claim", {"member_id": self.member_id})
            return
        if random.random() < 0.5:
            self.get("/me/points", "member: points")
        else:
            self.get("/inbox", "member: inbox", {"limit": 20})


class Resident(HttpUser):
    weight = 2
    wait_time = between(3, 10)

    def on_start(self) -> None:
        # Each resident from their own address (as forwarded by the reverse proxy in front of the API).
        n = next(_addresses)
        self.client.headers["X-Forwarded-For"] = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"

    @task(2)
    def place_need(self) -> None:
        grid_id, code = random.choice(list(PLAN["need_codes"].items()))
        with self.client.post("/resident/need-code/open", json={"code": code}, name="resident: open need code",
                              catch_response=True) as r:
            opened = _settle(r)
        if opened is None:
            return
        with self.client.post("/resident/needs", name="resident: place need", catch_response=True, json={
                "code": code, "category": random.choice(opened["categories"]), "urgency": "blue",
                "description": f"压测: 网格 {grid_id} 的居民需求"}) as r:
            _settle(r)

    @task(3)
    def rate(self) -> None:
        if not BOARD.to_rate:
            return
        task_id = BOARD.to_rate.popleft()
        code = BOARD.rating_codes.get(task_id)
        if code is None:
            return
        with self.client.post("/resident/rating-code/open", json={"code": code}, name="resident: open rating code",
                              catch_response=True) as r:
            opened = _settle(r)
        if opened is None:
            return
        if not opened["ready"]:   # the task's workflow has not marked it done yet
            BOARD.to_rate.append(task_id)
            return
        with self.client.post("/resident/rating", json={"code": code, "score": random.choice([4, 5, 5]),
                                                         "comment": "压测: 谢谢"},
                              name="resident: rate", catch_response=True) as r:
            if _settle(r) is not None:
                BOARD.to_verify.append(task_id)


def _window(start: datetime) -> dict[str, str]:
    return {"window_start": start.isoformat(), "window_end": (start + timedelta(hours=1)).isoformat()}


class CommunityStaff(SignedIn):
    weight = 2
    wait_time = between(1, 4)

    def on_start(self) -> None:
        self.sign_in(PLAN["staff"]["community_staff"])
        self.community_id: int = PLAN["community_id"]
        self.published = 0

    @task(3)
    def dashboard(self) -> None:
        self.get("/work-queues", "staff page: work queues")
        self.get("/ledger", "staff page: ledger", {"community_id": self.community_id, "limit": 50})

    @task(1)
    def statistics(self) -> None:
        self.get("/statistics/registration", "staff page: registration statistics", {"level": "unit"})
        self.get(f"/campaigns/{PLAN['campaign_id']}/progress", "staff page: campaign progress",
                 {"level": "community"})

    @task(3)
    def dispatch_a_need(self) -> None:
        waiting = [n for n in self.get("/needs", "staff page: needs", {"status": "submitted", "limit": 20}) or []
                   if n["id"] not in BOARD.needs_taken]
        if not waiting:
            return
        need = random.choice(waiting)
        BOARD.needs_taken.add(need["id"])
        if self.post(f"/needs/{need['id']}/decision", "staff: approve need", {"approve": True}) is None:
            return
        start = (datetime.now(UTC) + timedelta(days=random.randint(1, 6), hours=random.randint(0, 23))).replace(
            minute=0, second=0, microsecond=0)
        created = self.post("/tasks", "staff: create task", {
            "need_id": need["id"], "title": f"压测: 需求 {need['id']}", "mode": "dispatch", "headcount": 1,
            **_window(start), "place": "压测"})
        if created is not None:
            self._keep(created)

    @task(3)
    def publish_claim_task(self) -> None:
        waiting = [m for m in PLAN["members"] if m["id"] in BOARD.active and not BOARD.claims.get(m["id"])]
        if not waiting:
            return
        member = random.choice(waiting)
        self.published += 1
        start = _free_hour(set(member["free_slots"]), skip_days=self.published)
        if start is None:
            return
        created = self.post("/tasks", "staff: create task", {
            "grid_id": member["grid_id"], "title": "压测: 认领任务", "category": "环境整治", "mode": "claim",
            "headcount": 1, **_window(start), "place": "压测"})
        if created is not None:
            self._keep(created)
            BOARD.claims.setdefault(member["id"], deque()).append(created["task"]["id"])

    @task(2)
    def verify(self) -> None:
        if BOARD.to_verify:
            task_id = BOARD.to_verify.popleft()
            self.post(f"/tasks/{task_id}/verify", "staff: verify", {"note": None})

    def _keep(self, created: dict[str, Any]) -> None:
        task_id = created["task"]["id"]
        BOARD.tokens[task_id] = created["qr_token"]
        # A task made from a need carries the resident's rating code; a claim task gets one from staff.
        code = created.get("resident_rating_code")
        if code is None:
            issued = self.post(f"/tasks/{task_id}/rating-code", "staff: issue rating code", {})
            code = issued["code"] if issued is not None else None
        if code is not None:
            BOARD.rating_codes[task_id] = code


class OrgDepartment(SignedIn):
    weight = 1
    wait_time = between(2, 6)

    def on_start(self) -> None:
        self.sign_in(PLAN["staff"]["org_department"])

    @task
    def city_dashboard(self) -> None:
        self.get("/statistics/registration", "staff page: registration statistics", {"level": "district"})
        self.get(f"/campaigns/{PLAN['campaign_id']}/progress", "staff page: campaign progress",
                 {"level": "district"})
        self.get("/ledger", "staff page: ledger", {"limit": 50})


if PLAN["one_of_each"]:   # the baseline: exactly one user of each kind
    Member.fixed_count = Resident.fixed_count = CommunityStaff.fixed_count = OrgDepartment.fixed_count = 1
