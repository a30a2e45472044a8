"""Console load benchmark: the first-load JavaScript of /admin and the time to the dashboard's data.

Run against a running demo stack (`python3 dev.py up --demo`, then in another shell):

    .venv/bin/python -m bench.console_load [--url http://127.0.0.1:8700] [--runs 5]

It signs in as the demo organization department (the phone and password `up --demo` prints) in
headless Chromium (Debian's /usr/bin/chromium, as the browser tests) and prints:

- first-load JS: every script the browser fetched to show the sign-in page and then the dashboard
  (a fresh browser, nothing cached), each gzip-compressed (level 6, what a reverse proxy sends),
  summed; goal under 400 KB;
- dashboard: from navigation to /admin/dashboard (signed in, assets cached as a returning clerk
  has them) until the page marks its data ready (data-ready="yes"), median of `--runs`;
- API alone: the same calls the dashboard makes, in the same order and parallelism, with the same
  session cookie, from this process; median of `--runs`. Goal: dashboard <= 1.5 x API + 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from playwright.sync_api import Page, Response, sync_playwright

from demo.accounts import DEMO_PASSWORD, DEMO_PHONES
from schemas.auth import Role

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
JS_GOAL_BYTES = 400 * 1024


@dataclass
class Scripts:
    bodies: dict[str, bytes] = field(default_factory=dict)

    def record(self, response: Response) -> None:
        if response.request.resource_type == "script" and response.ok and response.url not in self.bodies:
            self.bodies[response.url] = response.body()

    def gzip_bytes(self) -> int:
        return sum(len(gzip.compress(body, compresslevel=6)) for body in self.bodies.values())


def _sign_in(page: Page, base: str, phone: str, password: str) -> None:
    page.goto(f"{base}/admin/login")
    page.get_by_placeholder("11 位手机号").fill(phone)
    page.get_by_placeholder("密码", exact=True).fill(password)
    page.get_by_role("button", name="登 录").click()
    page.wait_for_url("**/admin/dashboard", timeout=60_000)


def _wait_ready(page: Page) -> None:
    page.wait_for_selector('[data-testid="dashboard"][data-ready="yes"]', timeout=120_000)


async def _api_round(base: str, cookies: dict[str, str]) -> None:
    """The dashboard's calls as the page makes them (features/statistics/dashboardData.ts)."""
    async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=120) as http:

        async def get(path: str, **params: Any) -> Any:
            resp = await http.get(path, params=params)
            resp.raise_for_status()
            return resp.json()

        me = await get("/auth/me")

        async def campaigns() -> None:
            live = [c for c in await get("/campaigns", limit=100)
                    if c["status"] in ("launched", "running", "paused")][:5]
            await asyncio.gather(*(get(f"/campaigns/{c['id']}/progress", level="district") for c in live))

        async def rates() -> None:
            runs = [r for r in await get("/evaluations") if r["status"] == "done"]
            if runs:
                run = max(runs, key=lambda r: r["id"])
                level = me["scope_kind"] if me["scope_kind"] in ("district", "subdistrict") else "city"
                await get(f"/evaluations/{run['id']}/results", level=level, limit=1)

        own = me["scope_kind"] in ("district", "subdistrict", "community") and me["scope_id"]
        trend = (get("/statistics/registration/trend", level=me["scope_kind"], id=me["scope_id"], months=12)
                 if own else get("/statistics/registration/trend", level="city", months=12))
        level = "district" if me["scope_kind"] == "city" else "community"
        await asyncio.gather(
            get("/statistics/registration", level="city"), get("/statistics/registration", level=level), trend,
            campaigns(), rates(),
            get("/ledger", parked="true", limit=200), get("/ledger", overdue="true", limit=200),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8700", help="the running stack's API address")
    parser.add_argument("--phone", default=DEMO_PHONES[Role.org_department])
    parser.add_argument("--password", default=DEMO_PASSWORD)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    base = args.url.rstrip("/")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        # 1. First load: a fresh browser, sign-in page then dashboard.
        context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 860})
        page = context.new_page()
        scripts = Scripts()
        page.on("response", scripts.record)
        _sign_in(page, base, args.phone, args.password)
        _wait_ready(page)
        js = scripts.gzip_bytes()
        cookies = {c["name"]: c["value"] for c in context.cookies() if "name" in c and "value" in c}

        # 2. Dashboard data, signed in, assets cached.
        page_ms: list[float] = []
        for _ in range(args.runs):
            start = time.perf_counter()
            page.goto(f"{base}/admin/dashboard")
            _wait_ready(page)
            page_ms.append((time.perf_counter() - start) * 1000)
        context.close()
        browser.close()

    # 3. The same data from the API alone, same session.
    api_ms: list[float] = []
    for _ in range(args.runs):
        start = time.perf_counter()
        asyncio.run(_api_round(base, cookies))
        api_ms.append((time.perf_counter() - start) * 1000)

    page_median, api_median = statistics.median(page_ms), statistics.median(api_ms)
    budget = 1.5 * api_median + 300
    print(f"first-load JS (sign-in + dashboard, gzip): {js / 1024:.1f} KB in {len(scripts.bodies)} files "
          f"(goal < {JS_GOAL_BYTES // 1024} KB: {'ok' if js < JS_GOAL_BYTES else 'OVER'})")
    print(f"dashboard data ready in the browser: median {page_median:.0f} ms "
          f"(runs: {', '.join(f'{v:.0f}' for v in page_ms)})")
    print(f"same calls, API alone:               median {api_median:.0f} ms "
          f"(runs: {', '.join(f'{v:.0f}' for v in api_ms)})")
    print(f"goal: browser <= 1.5 x API + 300 ms = {budget:.0f} ms: {'ok' if page_median <= budget else 'OVER'}")


if __name__ == "__main__":
    main()
