"""Mobile load benchmark: the first-load JavaScript of /m and the time to an interactive page on a
phone network.

Run against a running demo stack (`python3 dev.py up --demo`, any --demo-size; then in another shell):

    .venv/bin/python -m bench.mobile_load [--url http://127.0.0.1:8700] [--runs 5] [--page checkin|login]

In headless Chromium (Debian's /usr/bin/chromium, as the browser tests) at 390x844 with WeChat's
user agent, it prints:

- first-load JS of /m: the entry chunk of m.html plus its static imports (what m.html itself names:
  its module script and modulepreload links), each gzip-compressed (level 6, what a reverse proxy
  sends), summed; goal under 150 KB. Beside it, every script a fresh browser fetched to show the
  page measured below, and the scripts inside that page itself (the app hands the page a task's
  poster opens its script inline: api/web.py).
- time to interactive: from navigation until the page's form can be used (its submit button
  visible and enabled), a fresh browser context each run (nothing cached), median of `--runs`, goal
  under 2 s, in two settings: Chrome DevTools' "Fast 3G" profile alone (latency 562.5 ms, download
  1.6 Mbit/s x 0.9, upload 750 kbit/s x 0.9, set through CDP Network.emulateNetworkConditions: the
  issue's figure), and the same plus a 4x CPU slowdown (Emulation.setCPUThrottlingRate: a low-end
  phone). The same page unthrottled, measured in the same run, is the baseline.

The page is the check-in page `/m/checkin#task=..&token=..` (`--page checkin`, the default): the
bench signs in as the demo member and the demo city organization department (the phones and password
`up --demo` prints), has the department create a claim task 认领 in the member's home grid, the member
claim it, and then measures the check-in link the task's poster carries, signed in (the member's
session cookie in each fresh context, nothing else cached) until its 签到 button can be pressed;
the task is cancelled at the end. `--page login` measures the mobile sign-in page `/m/login`
instead (what a signed-out member's check-in link opens first; needs no demo data).
"""

from __future__ import annotations

import argparse
import gzip
import re
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, sync_playwright

from bench.api_session import ok, signed_in
from bench.console_load import CHROMIUM, CHROMIUM_ARGS, Scripts
from demo.accounts import DEMO_PASSWORD, DEMO_PHONES
from domain.local_time import window_slots
from schemas.auth import Role

JS_GOAL_BYTES = 150 * 1024
TTI_GOAL_MS = 2000.0
WECHAT_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN")
# Chrome DevTools' "Fast 3G" preset (front_end/core/sdk/NetworkManager.ts): throughput in bytes/s.
FAST_3G = {"offline": False, "latency": 562.5, "downloadThroughput": 1.6 * 1024 * 1024 / 8 * 0.9,
           "uploadThroughput": 750 * 1024 / 8 * 0.9}
CPU_SLOWDOWN = 4


@dataclass(frozen=True)
class Target:
    """The page measured: its path (and hash), the button that makes it usable, the cookies of the
    person opening it."""

    path: str
    button: str
    note: str
    cookies: list[dict[str, Any]] = field(default_factory=list)


LOGIN = Target("/m/login", "登 录", "/m/login (the mobile sign-in page)")


def _signed_in(base: str, role: Role) -> httpx.Client:
    """An HTTP client signed in as the demo account of `role` (session cookie, CSRF header)."""
    return signed_in(base, DEMO_PHONES[role], DEMO_PASSWORD, who=f"demo {role.value}")


def _free_hour(free_slots: set[int]) -> datetime:
    """The first whole hour, from tomorrow on, that lies in the member's free time (a claim outside it
    is refused)."""
    start = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    for hour in range(8 * 24):
        at = start + timedelta(hours=hour)
        if window_slots(at, at + timedelta(hours=1)) <= free_slots:
            return at
    raise SystemExit("the demo member has no free time in the week: nothing they could claim")


@contextmanager
def checkin_target(base: str) -> Iterator[Target]:
    """A claim task in the demo member's home grid, claimed by them; its check-in link, opened with
    the member's session. The task is cancelled afterwards."""
    member, org = _signed_in(base, Role.member), _signed_in(base, Role.org_department)
    try:
        member_id = ok(member.get("/auth/me"))["scope_id"]
        row = ok(member.get(f"/members/{member_id}"))
        start = _free_hour(set(row["free_slots"]))
        created = ok(org.post("/tasks", json={
            "title": "基准测试: 签到页", "grid_id": row["home_grid_id"], "category": "环境整治", "mode": "claim",
            "headcount": 1, "window_start": start.isoformat(), "window_end": (start + timedelta(hours=1)).isoformat(),
            "place": "基准测试"}))
        task_id = created["task"]["id"]
        try:
            for _ in range(50):   # the task's workflow takes the claim once it is running
                r = member.post(f"/tasks/{task_id}/claim", json={"member_id": member_id})
                if r.status_code != 409:
                    break
                time.sleep(0.2)
            ok(r)
            cookies = [{"name": c.name, "value": c.value or "", "url": base} for c in member.cookies.jar]
            yield Target(f"/m/checkin#task={task_id}&token={created['qr_token']}", "签 到",
                         "/m/checkin#task=..&token=.. (the demo member, signed in, a claimed task)", cookies)
        finally:
            org.post(f"/tasks/{task_id}/cancel", json={"reason": "基准测试结束"})
    finally:
        member.close()
        org.close()


def entry_js(base: str) -> tuple[int, list[str]]:
    """gzip bytes of m.html's entry module and its static imports, and their names."""
    html = httpx.get(f"{base}/m", follow_redirects=True, timeout=30).text
    urls = re.findall(r'<script[^>]+type="module"[^>]+src="([^"]+\.js)"', html)
    urls += re.findall(r'<link[^>]+rel="modulepreload"[^>]+href="([^"]+\.js)"', html)
    total = 0
    for url in urls:
        body = httpx.get(f"{base}{url}", timeout=30).content
        total += len(gzip.compress(body, compresslevel=6))
    return total, [u.rsplit("/", 1)[-1] for u in urls]


def inline_js(base: str, path: str) -> tuple[int, int]:
    """gzip bytes and count of the module scripts inside the page at `path` (its hash dropped)."""
    html = httpx.get(f"{base}{path.split('#')[0]}", follow_redirects=True, timeout=30).text
    bodies = re.findall(r'<script type="module">(.*?)</script>', html, flags=re.DOTALL)
    return sum(len(gzip.compress(b.encode(), compresslevel=6)) for b in bodies), len(bodies)


def _open(browser: Browser, cookies: list[dict[str, Any]]) -> Page:
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True, user_agent=WECHAT_UA)
    if cookies:
        context.add_cookies(cookies)  # type: ignore[arg-type]
    return context.new_page()


def time_to_interactive(browser: Browser, base: str, target: Target, *, network: bool = False, cpu: int = 1,
                        scripts: Scripts | None = None) -> float:
    """Milliseconds from navigation to the target's button being usable, in a fresh context."""
    page = _open(browser, target.cookies)
    try:
        if scripts is not None:
            page.on("response", scripts.record)
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        if network:
            cdp.send("Network.emulateNetworkConditions", FAST_3G)
        if cpu > 1:
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": cpu})
        button = page.get_by_role("button", name=target.button)
        start = time.perf_counter()
        page.goto(f"{base}{target.path}", wait_until="commit", timeout=120_000)
        button.wait_for(state="visible", timeout=120_000)
        while not button.is_enabled():
            page.wait_for_timeout(10)
        return (time.perf_counter() - start) * 1000
    finally:
        page.context.close()


@contextmanager
def _login() -> Iterator[Target]:
    yield LOGIN


def _runs(values: list[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8700", help="the running stack's API address")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--page", choices=["checkin", "login"], default="checkin")
    args = parser.parse_args()
    base = args.url.rstrip("/")

    entry, names = entry_js(base)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        scripts = Scripts()
        with checkin_target(base) if args.page == "checkin" else _login() as target:
            inline, inline_count = inline_js(base, target.path)
            time_to_interactive(browser, base, target, scripts=scripts)   # warms the server
            # Interleaved, so that a burst of other work on the machine falls on all three alike.
            plain: list[float] = []
            fast3g: list[float] = []
            slow: list[float] = []
            for _ in range(args.runs):
                plain.append(time_to_interactive(browser, base, target))
                fast3g.append(time_to_interactive(browser, base, target, network=True))
                slow.append(time_to_interactive(browser, base, target, network=True, cpu=CPU_SLOWDOWN))
        browser.close()

    page_js = scripts.gzip_bytes()
    plain_median = statistics.median(plain)
    print(f"first-load JS of /m (entry + static imports, gzip): {entry / 1024:.1f} KB in {len(names)} files "
          f"({', '.join(names)}) (goal < {JS_GOAL_BYTES // 1024} KB: {'ok' if entry < JS_GOAL_BYTES else 'OVER'})")
    print(f"all JS fetched to show {target.path.split('#')[0]} (gzip): {page_js / 1024:.1f} KB in {len(scripts.bodies)} files, "
          f"{inline / 1024:.1f} KB in {inline_count} scripts inside the page")
    print(f"page: {target.note}")
    for label, runs in (("Fast 3G", fast3g), (f"Fast 3G + {CPU_SLOWDOWN}x CPU", slow)):
        median = statistics.median(runs)
        print(f"interactive, {label}: median {median:.0f} ms (runs: {_runs(runs)}) "
              f"(goal < {TTI_GOAL_MS:.0f} ms: {'ok' if median < TTI_GOAL_MS else 'OVER'})")
    print(f"interactive, unthrottled (baseline): median {plain_median:.0f} ms (runs: {_runs(plain)})")


if __name__ == "__main__":
    main()
