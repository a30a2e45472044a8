"""Browser tests: the real app (uvicorn on a free port, real pool, Temporal and worker) serving the
built web/dist, driven by Debian's Chromium through Playwright.

Playwright cannot download its own browser here, so it drives /usr/bin/chromium (`dev.py test`
installs it with fonts-noto-cjk when run as root). Every journey ends with `shoot(page)`, which
saves a PNG of the last screen to tests/e2e/screenshots/<test>.png. `sign_in(page, ...)` makes an
account (straight in the table, as the sign-in tests do) and signs in through the sign-in form.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from api.rate_limits import PublicBrakes
from db.pool import Pool
from schemas.auth import Role, ScopeKind
from schemas.settings import DEFAULT_TASK_QUEUE
from stack import web_build
from tests.sign_in_fixtures import PASSWORD, make_account
from workers.registry import all_activities, all_workflows

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


@dataclass(frozen=True)
class WebApp:
    base_url: str

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test process keeps its own signal handling
        pass


@pytest.fixture(scope="session")
async def web_app(pool: Pool, temporal_env: WorkflowEnvironment) -> AsyncIterator[WebApp]:
    """The whole app on 127.0.0.1:<free port>, serving web/dist (built here when stale)."""
    await asyncio.to_thread(web_build.build, quiet=True, say=lambda _line: None)
    client = temporal_env.client
    port = _free_port()
    app = create_app(pool=pool, temporal_client=client)
    # Every browser here signs in from 127.0.0.1: the per-address brake on sign-in would count the
    # whole suite as one guesser. Per-phone brakes and the account lockout stay as in production.
    app.state.public_brakes = PublicBrakes(per_address="10000/minute")
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                    lifespan="off"))
    async with Worker(client, task_queue=DEFAULT_TASK_QUEUE, workflows=all_workflows(),
                      activities=all_activities(pool)):
        task = asyncio.create_task(server.serve(), name="e2e-api")
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
            await asyncio.sleep(0.05)
        try:
            yield WebApp(base_url=f"http://127.0.0.1:{port}")
        finally:
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail("缺少 /usr/bin/chromium: 请安装 apt-get install -y chromium fonts-noto-cjk "
                    "(or run `python3 dev.py test` as root, which installs them)")


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    _require_chromium()
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh browser context (no cookies) and page per test."""
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 860})
    context.set_default_timeout(15_000)
    tab = await context.new_page()
    try:
        yield tab
    finally:
        await context.close()


@pytest.fixture
def shoot(request: pytest.FixtureRequest) -> Callable[[Page], Awaitable[Path]]:
    """Save the page's screen to tests/e2e/screenshots/<test name>.png."""

    async def take(tab: Page) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = request.node.name.replace("/", "_").replace("[", "_").replace("]", "")
        path = SCREENSHOTS / f"{name}.png"
        await tab.screenshot(path=str(path), full_page=True)
        return path

    return take


async def sign_in(page: Page, web_app: WebApp, pool: Pool, *, role: Role, scope_kind: ScopeKind,
                  scope_id: int | None, label: str = "测试账号", path: str = "/admin") -> str:
    """A fresh account with `role` and scope, signed in through the form; returns its phone.
    Waits until the console frame shows the account's label."""
    _, phone = await make_account(pool, role=role, scope_kind=scope_kind, scope_id=scope_id, label=label)
    await page.goto(web_app.url(path))
    await page.wait_for_url("**/admin/login**")
    await page.get_by_placeholder("11 位手机号").fill(phone)
    await page.get_by_placeholder("密码", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="登 录").click()
    await page.get_by_test_id("who").filter(has_text=label).wait_for()
    return phone
