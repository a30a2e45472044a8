"""Live-load benchmark: the API under a mobilisation hour's mix, driven by Locust on loopback.

    .venv/bin/python -m bench.live_load [--url http://127.0.0.1:8700] [--users 60] [--minutes 10]
        [--steps 20,40,80,120,160] [--step-seconds 60] [--baseline-seconds 60]

Without --url it starts its own demo stack (`shuangbaodao up --demo`, full size, in a temporary data
directory on --api-port/--temporal-port/--temporal-ui-port) and stops it at the end; with --url it
uses a running `up --demo` stack (full or small).

Prepared through the API (as the demo organization department and community staff, phones
19900000001 and 19900000003): an account with a password for every active member of the demo
staff's community (each signs in from its own address: the API trusts the forwarded address from
loopback, as from its reverse proxy, and sign-in and the residents' routes are braked per address),
and a need code 点单码 for each of its grids.

Then Locust (bench/live_load_users.py, headless, its own process) runs the mix: members answering
offers, claiming, checking in and out; residents placing needs with the grid's code and rating with
the task's code; community staff and the organization department loading dashboards and the ledger,
approving needs, dispatching and publishing tasks, verifying. While the sustained run goes on, the
bench uploads a roster of --import-rows new members (default 3,000: the demo city's rows with new
names, phones and ID numbers, so each is inserted and submits a registration; POST /imports) and the
campaign's reminder wave runs (a city-wide campaign with a service quota, made just before the run,
its one ladder step due 90 s in: every member behind is reminded).

Runs, each printed as a table (requests/s, p50/p95/p99 in ms per route and per group, failures,
5xx) with the API's own waits read back from /metrics (time to acquire a pooled database connection,
time waiting on Temporal calls, calls made while holding a pooled connection):

1. baseline: one user of each kind (member, resident, community staff, organization department);
2. sustained: --users users for --minutes minutes (the acceptance run); its verdict: 0 failures,
   0 5xx, p99 <= 500 ms for member actions (answer, claim, check-in, check-out), <= 1 s for staff
   pages;
3. steps: --steps user counts for --step-seconds each, stopping at the first whose p99 crosses a
   line; the throughput (requests/s) at which it crossed is printed.

409 refusals that are the product's answer to a race (an offer answered after the task filled or the
offer expired) count as successes and are listed apart.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import csv
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.api_session import ok, signed_in
from bench.import_roster import id_number
from demo.accounts import DEMO_PASSWORD, DEMO_PHONES
from demo.city import FULL, SMALL, generate_city
from demo.seed import write_roster_files
from schemas.auth import Role

USERS_FILE = Path(__file__).with_name("live_load_users.py")
MEMBER_PASSWORD = "Bench2024load"
MEMBER_ACTIONS_P99_MS = 500.0
STAFF_PAGES_P99_MS = 1000.0
GROUPS = {
    "member actions": ("member: answer", "member: claim", "member: check-in", "member: check-out"),
    "member pages": ("member: my tasks", "member: claimable", "member: points", "member: inbox"),
    "residents": ("resident: open need code", "resident: place need", "resident: open rating code",
                  "resident: rate"),
    "staff pages": ("staff page: work queues", "staff page: ledger", "staff page: registration statistics",
                    "staff page: campaign progress", "staff page: needs"),
    "staff actions": ("staff: approve need", "staff: create task", "staff: issue rating code", "staff: verify"),
}


# ---------------------------------------------------------------------------------------- the stack


@contextlib.contextmanager
def own_stack(api_port: int, temporal_port: int, ui_port: int) -> Iterator[str]:
    """`shuangbaodao up --demo` in a temporary data directory; its API address once the demo's
    accounts sign in. Stopped (SIGTERM, then its data removed) on exit."""
    data_dir = Path(tempfile.mkdtemp(prefix="sbd-live-load-"))
    log = (data_dir / "up.log").open("w")
    cli = Path(sys.executable).with_name("shuangbaodao")
    process = subprocess.Popen(
        [str(cli), "up", "--demo", "--data-dir", str(data_dir / "data"), "--api-port", str(api_port),
         "--temporal-port", str(temporal_port), "--temporal-ui-port", str(ui_port)],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{api_port}"
    try:
        deadline = time.monotonic() + 900
        while not _demo_ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the demo stack did not come up: see {data_dir / 'up.log'}")
            time.sleep(3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def _demo_ready(url: str) -> bool:
    """The demo city is seeded: its staff accounts sign in and the demo campaign exists."""
    try:
        staff = signed_in(url, DEMO_PHONES[Role.community_staff], DEMO_PASSWORD, who="demo staff", address="10.255.0.1")
        try:
            return bool(staff.get("/campaigns", params={"limit": 1}).json())
        finally:
            staff.close()
    except (httpx.HTTPError, SystemExit, KeyError):
        return False


# ---------------------------------------------------------------------------------------- preparing


def _session(http: httpx.Client) -> dict[str, str]:
    return {"session": http.cookies["sbd_session"], "csrf": http.cookies["sbd_csrf"]}


def _member_session(url: str, org: httpx.Client, member: dict[str, Any], n: int) -> dict[str, Any]:
    """An account for `member` (phone 198 + its id), its password set with the setup code; or,
    when a previous run made it, a sign-in. Each member from its own address."""
    phone = f"198{member['id']:08d}"
    address = f"10.200.{n // 256 % 256}.{n % 256}"
    r = org.post("/accounts", json={"phone": phone, "label": f"压测党员{member['id']}", "role": "member",
                                    "scope_kind": "member", "scope_id": member["id"]})
    if r.status_code == 201:
        with httpx.Client(base_url=url, timeout=120, headers={"X-Forwarded-For": address}) as http:
            ok(http.post("/auth/password/setup", json={"phone": phone, "code": r.json()["setup_code"],
                                                          "new_password": MEMBER_PASSWORD}))
            session = _session(http)
    elif r.status_code == 409:
        http = signed_in(url, phone, MEMBER_PASSWORD, who=f"member {member['id']}", address=address)
        session = _session(http)
        http.close()
    else:
        ok(r)
    return {"id": member["id"], "grid_id": member["home_grid_id"], "free_slots": member["free_slots"], **session}


def _wave_campaign(org: httpx.Client, wave_at: datetime) -> int:
    """A launched campaign over the whole city with a service quota, whose one ladder step (remind
    every member behind) falls at `wave_at`: the quota period ends 2 days after it starts."""
    start = datetime.now(UTC) + timedelta(seconds=5)
    end = start + timedelta(days=2)
    created = ok(org.post("/campaigns", json={
        "name": "压测: 应急动员",
        "window_start": start.isoformat(), "window_end": end.isoformat(),
        "quotas": {"period": "month", "min_services": 1},
        "reminder_policy": {"steps": [{"step": "remind", "offset": _iso_duration(wave_at - end),
                                        "notify": ["member"]}]}}))
    ok(org.post(f"/campaigns/{created['id']}/launch"))
    return int(created["id"])


def _wave_reminded(org: httpx.Client, campaign: int) -> tuple[int, int]:
    """(members reminded, waves finished) of the campaign's reminder waves, as its progress page
    reports them (the worker sends them; with the worker in its own process, the API's /metrics
    never sees its counter)."""
    waves = ok(org.get(f"/campaigns/{campaign}/progress", params={"level": "district"}))["waves"]
    return sum(int(w["reminded"]) for w in waves), sum(1 for w in waves if w["finished_at"])


def _iso_duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    return f"{'-' if seconds < 0 else ''}PT{abs(seconds)}S"


@dataclass
class Prepared:
    plan: dict[str, Any]
    org: httpx.Client   # the organization department, signed in
    org_session: dict[str, str]
    members: int
    grids: int


def prepare(url: str, work: Path, *, max_members: int) -> Prepared:
    org = signed_in(url, DEMO_PHONES[Role.org_department], DEMO_PASSWORD, who="demo org", address="10.255.0.2")
    staff = signed_in(url, DEMO_PHONES[Role.community_staff], DEMO_PASSWORD, who="demo staff", address="10.255.0.3")
    community_id = int(ok(staff.get("/auth/me"))["scope_id"])
    members = ok(org.get("/members", params={"community_id": community_id, "status": "active",
                                              "limit": max_members}))["items"]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        sessions = list(pool.map(lambda nm: _member_session(url, org, nm[1], nm[0]), enumerate(members)))
    grids = ok(org.get("/grids", params={"community_id": community_id, "limit": 500}))["items"]
    codes = {g["id"]: ok(staff.post(f"/grids/{g['id']}/need-code"))["code"] for g in grids}
    # The demo's city-wide campaign, for its progress page: the oldest one over the whole city (both the
    # staff and the organization department load it; a campaign over another community is not the
    # staff's to see, and the campaigns this bench makes for its reminder waves are newer).
    campaign_id = min(c["id"] for c in ok(staff.get("/campaigns", params={"limit": 100}))
                      if not any(c["scope"].values()))
    plan = {"members": sessions, "community_id": community_id, "need_codes": codes, "campaign_id": campaign_id,
            "staff": {"community_staff": _session(staff), "org_department": _session(org)},
            "state_file": str(work / "state.json"), "samples_file": str(work / "samples.json"),
            "one_of_each": False}
    prepared = Prepared(plan, org, _session(org), len(sessions), len(grids))
    staff.close()
    return prepared


# ---------------------------------------------------------------------------------------- a run


@dataclass
class Waits:
    """Histograms and counters read back from the API's /metrics, as the change over one run."""

    pool: tuple[int, float, float, float] = (0, 0.0, 0.0, 0.0)   # count, mean s, p95 s, p99 s
    temporal: dict[str, tuple[int, float, float, float]] = field(default_factory=dict)
    holding: int = 0


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{url}/metrics", timeout=60).text
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _histogram(before: dict[Any, float], after: dict[Any, float], name: str,
               labels: dict[str, str]) -> tuple[int, float, float, float]:
    """(count, mean, p95, p99) of the observations between two scrapes; a quantile is the upper
    bound of the bucket it falls in."""
    def delta(sample: str, extra: dict[str, str]) -> float:
        key = (sample, tuple(sorted({**labels, **extra}.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    count = int(delta(f"{name}_count", {}))
    if count == 0:
        return 0, 0.0, 0.0, 0.0
    bounds = sorted({float(dict(k[1])["le"]) for k in after if k[0] == f"{name}_bucket"
                     and all(dict(k[1]).get(a) == b for a, b in labels.items())})

    def quantile(q: float) -> float:
        for bound in bounds:
            le = "+Inf" if bound == float("inf") else str(bound)
            if delta(f"{name}_bucket", {"le": le}) >= q * count:
                return bound
        return float("inf")

    return count, delta(f"{name}_sum", {}) / count, quantile(0.95), quantile(0.99)


def waits(url: str, before: dict[Any, float]) -> Waits:
    after = _scrape(url)
    calls = sorted({dict(k[1])["call"] for k in after if k[0] == "shuangbaodao_temporal_call_seconds_count"})
    def total(name: str) -> int:
        return int(sum(v - before.get(k, 0.0) for k, v in after.items() if k[0] == name))

    return Waits(
        pool=_histogram(before, after, "shuangbaodao_db_pool_wait_seconds", {}),
        temporal={c: _histogram(before, after, "shuangbaodao_temporal_call_seconds", {"call": c}) for c in calls},
        holding=total("shuangbaodao_temporal_calls_holding_connection_total"))


@dataclass
class Run:
    label: str
    users: int
    seconds: float
    samples: list[tuple[str, float, float, int, bool]]   # name, at, ms, status, failed
    failures: list[str]
    refusals: dict[str, int]
    waits: Waits

    def rows(self, names: tuple[str, ...]) -> list[tuple[str, float, float, int, bool]]:
        return [s for s in self.samples if s[0] in names]

    @property
    def rps(self) -> float:
        return len(self.samples) / self.seconds

    def p99(self, group: str) -> float:
        return _percentile([s[2] for s in self.rows(GROUPS[group])], 0.99)

    @property
    def server_errors(self) -> int:
        return sum(1 for s in self.samples if s[3] >= 500)

    def crossed(self) -> bool:
        return self.p99("member actions") > MEMBER_ACTIONS_P99_MS or self.p99("staff pages") > STAFF_PAGES_P99_MS


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_locust(url: str, work: Path, plan: dict[str, Any], *, label: str, users: int, seconds: int,
               one_of_each: bool = False) -> Run:
    plan_file = work / "plan.json"
    plan_file.write_text(json.dumps({**plan, "one_of_each": one_of_each}), "utf-8")
    prefix = work / f"locust-{label.split()[0]}-{users}"
    before = _scrape(url)
    began = time.monotonic()
    with open(f"{prefix}.log", "w", encoding="utf-8") as log:
        subprocess.run([sys.executable, "-m", "locust", "-f", str(USERS_FILE), "--headless", "--host", url,
         "-u", str(users), "-r", str(max(1, users // 10)), "-t", f"{seconds}s", "--stop-timeout", "15",
         "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0"],
            env={**os.environ, "LIVE_LOAD_PLAN": str(plan_file)}, check=True, stdout=log, stderr=log)
    elapsed = time.monotonic() - began
    recorded = json.loads((work / "samples.json").read_text("utf-8"))
    failures = []
    with contextlib.suppress(FileNotFoundError), open(f"{prefix}_failures.csv", encoding="utf-8") as f:
        failures = [f"{row['Occurrences']} x {row['Name']}: {row['Error']}" for row in csv.DictReader(f)]
    samples = [(str(n), float(at), float(ms), int(status), bool(failed))
               for n, at, ms, status, failed in recorded["samples"]]
    return Run(label, users, min(elapsed, seconds + 15.0), samples, failures, recorded["refusals"],
               waits(url, before))


# ---------------------------------------------------------------------------------------- printing


def print_run(run: Run) -> None:
    failed = sum(1 for s in run.samples if s[4])
    print(f"\n== {run.label}: {run.users} users, {run.seconds:.0f} s, {len(run.samples)} requests, "
          f"{run.rps:.1f} req/s, failures {failed}, 5xx {run.server_errors}")
    print(f"  {'route':<40}{'count':>7}{'req/s':>8}{'p50':>7}{'p95':>7}{'p99':>7}{'fail':>6}")
    for group, names in GROUPS.items():
        for name in (group, *names):
            rows = run.rows(names if name == group else (name,))
            if not rows:
                continue
            times = [r[2] for r in rows]
            fails = sum(1 for r in rows if r[4])
            shown = f"[{group}]" if name == group else f"  {name}"
            print(f"  {shown:<40}{len(rows):>7}{len(rows) / run.seconds:>8.2f}{_percentile(times, 0.5):>7.0f}"
                  f"{_percentile(times, 0.95):>7.0f}{_percentile(times, 0.99):>7.0f}{fails:>6}")
    if run.refusals:
        print("  409 refusals of lost races (counted as successes): "
              + ", ".join(f"{k} {v}" for k, v in sorted(run.refusals.items())))
    bad: dict[tuple[str, int], int] = {}
    for name, _, _, status, failed_ in run.samples:
        if failed_:
            bad[(name, status)] = bad.get((name, status), 0) + 1
    for (name, status), n in sorted(bad.items()):
        print(f"  failed: {n} x {name} (status {status}{', no answer' if status <= 0 else ''})")
    for line in run.failures[:10]:
        print(f"  locust failure: {line}")
    count, mean, p95, p99 = run.waits.pool
    print(f"  db pool acquire: {count} acquires, mean {mean * 1000:.2f} ms, p95 <= {p95 * 1000:g} ms, "
          f"p99 <= {p99 * 1000:g} ms")
    for call, (count, mean, p95, p99) in run.waits.temporal.items():
        if count:
            print(f"  temporal {call}: {count} calls, mean {mean * 1000:.1f} ms, p95 <= {p95 * 1000:g} ms, "
                  f"p99 <= {p99 * 1000:g} ms")
    print(f"  temporal calls made while holding a pooled connection: {run.waits.holding}")


def verdict(run: Run) -> bool:
    failed = sum(1 for s in run.samples if s[4])
    member, staff = run.p99("member actions"), run.p99("staff pages")
    ok = failed == 0 and run.server_errors == 0 and member <= MEMBER_ACTIONS_P99_MS and staff <= STAFF_PAGES_P99_MS
    print(f"\nverdict ({run.label}): failures {failed} (goal 0), 5xx {run.server_errors} (goal 0), "
          f"member actions p99 {member:.0f} ms (goal <= {MEMBER_ACTIONS_P99_MS:.0f}), "
          f"staff pages p99 {staff:.0f} ms (goal <= {STAFF_PAGES_P99_MS:.0f}): {'PASS' if ok else 'FAIL'}")
    return ok


# ---------------------------------------------------------------------------------------- the import


class RosterUpload(threading.Thread):
    """A roster of `rows` new members (the demo city's rows with new names, phones and ID numbers,
    so each is inserted and submits its registration) uploaded once (POST /imports) after `delay` s."""

    def __init__(self, url: str, session: dict[str, str], demo_size: str, *, rows: int, delay: float) -> None:
        super().__init__(daemon=True)
        self.url, self.session, self.delay = url, session, delay
        city = generate_city(size=FULL if demo_size == "full" else SMALL)
        with tempfile.TemporaryDirectory() as tmp:
            text = write_roster_files(city, Path(tmp)).members.read_text("utf-8-sig")
        header, *demo_rows = list(csv.reader(io.StringIO(text)))
        region, run = 370100 + int(time.time()) % 99, int(time.time()) % 1000
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        for i in range(rows):
            row = list(demo_rows[i % len(demo_rows)])
            row[0], row[1], row[2] = f"{row[0]}{i % 10}", "男" if i % 2 else "女", f"197{run:03d}{i:05d}"
            row[3] = id_number(region, date(1970, 1, 1) + timedelta(days=run + i // 1000), i % 1000)
            writer.writerow(row)
        self.data, self.rows = out.getvalue().encode("utf-8"), rows
        self.outcome = "not run"

    def run(self) -> None:
        time.sleep(self.delay)
        began = time.monotonic()
        with httpx.Client(base_url=self.url, timeout=600, headers={"X-CSRF-Token": self.session["csrf"]},
                          cookies={"sbd_session": self.session["session"], "sbd_csrf": self.session["csrf"]}) as http:
            r = http.post("/imports", files={"file": ("members.csv", io.BytesIO(self.data), "text/csv")},
                          data={"kind": "members"})
        took = time.monotonic() - began
        if r.status_code == 200:
            body = r.json()
            self.outcome = (f"{self.rows} new member rows in {took:.1f} s: inserted {body['inserted']}, "
                            f"registrations {body['registrations']}")
        else:
            self.outcome = f"{self.rows} rows: {r.status_code} in {took:.1f} s: {r.text[:300]}"


# ---------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running `up --demo` stack's API address (default: start one)")
    parser.add_argument("--demo-size", choices=["full", "small"], default="full",
                        help="the running stack's demo size (with --url), for the roster upload")
    parser.add_argument("--api-port", type=int, default=8941)
    parser.add_argument("--temporal-port", type=int, default=7941)
    parser.add_argument("--temporal-ui-port", type=int, default=8942)
    parser.add_argument("--users", type=int, default=60, help="users of the sustained run")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the sustained run")
    parser.add_argument("--baseline-seconds", type=int, default=60)
    parser.add_argument("--steps", default="20,40,80,120,160", help="user counts of the steps")
    parser.add_argument("--step-seconds", type=int, default=60)
    parser.add_argument("--import-rows", type=int, default=3000, help="new members in the roster uploaded")
    parser.add_argument("--members", type=int, default=250, help="member accounts to prepare (at most)")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        url = args.url.rstrip("/") if args.url else stack.enter_context(
            own_stack(args.api_port, args.temporal_port, args.temporal_ui_port))
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sbd-live-load-")))
        began = time.monotonic()
        prepared = prepare(url, work, max_members=args.members)
        stack.callback(prepared.org.close)
        print(f"prepared in {time.monotonic() - began:.0f} s: {prepared.members} member accounts signed in, "
              f"{prepared.grids} grid need codes")
        upload = RosterUpload(url, prepared.org_session, "full" if not args.url else args.demo_size,
                              rows=args.import_rows, delay=min(60.0, args.minutes * 15))

        baseline = run_locust(url, work, prepared.plan, label="baseline (one user of each kind)", users=4,
                              seconds=args.baseline_seconds, one_of_each=True)
        print_run(baseline)

        # Meanwhile: a campaign's reminder wave due 90 s into the sustained run, an import at 60 s.
        wave_at = datetime.now(UTC) + timedelta(seconds=90)
        wave_campaign = _wave_campaign(prepared.org, wave_at)
        upload.start()
        sustained = run_locust(url, work, prepared.plan, label="sustained", users=args.users,
                               seconds=round(args.minutes * 60))
        upload.join(timeout=600)
        print_run(sustained)
        reminded, finished = _wave_reminded(prepared.org, wave_campaign)
        print(f"  meanwhile: roster import {upload.outcome}; reminder wave: campaign {wave_campaign}, "
              f"{reminded} members reminded, {finished} wave(s) finished (due {wave_at:%H:%M:%S} UTC)")
        ok = verdict(sustained)

        steps: list[Run] = []
        for users in (int(u) for u in args.steps.split(",") if u):
            steps.append(run_locust(url, work, prepared.plan, label=f"step {users} users", users=users,
                                    seconds=args.step_seconds))
            print_run(steps[-1])
            if steps[-1].crossed():
                break
        print("\nsteps: users, req/s, member actions p99 ms, staff pages p99 ms")
        for run in [baseline, sustained, *steps]:
            print(f"  {run.users:>4} {run.rps:>7.1f} {run.p99('member actions'):>7.0f} {run.p99('staff pages'):>7.0f}"
                  f"{'   <- crossed' if run.crossed() else ''}")
        crossing = next((r for r in steps if r.crossed()), None)
        # The last run under both lines before the crossing: a step, else the sustained run, else the baseline.
        below = [r for r in [baseline, sustained, *steps] if not r.crossed()]
        if crossing is not None:
            print(f"p99 crosses its line at {crossing.rps:.1f} req/s ({crossing.users} users); "
                  f"held at {below[-1].rps if below else baseline.rps:.1f} req/s "
                  f"({below[-1].users if below else baseline.users} users)")
        elif steps:
            print(f"p99 stayed under both lines up to {max(r.rps for r in steps):.1f} req/s "
                  f"({steps[-1].users} users, the last step)")
        print(f"sustained run {'PASS' if ok else 'FAIL'}; statistics of the sustained run's member actions: "
              f"median {statistics.median([s[2] for s in sustained.rows(GROUPS['member actions'])] or [0]):.0f} ms")


if __name__ == "__main__":
    main()
