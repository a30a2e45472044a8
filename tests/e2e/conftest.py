"""Browser tests: the real app (uvicorn on a free port, real pool, Temporal and worker) serving the
built web/dist, driven by Debian's Chromium through Playwright.

Playwright cannot download its own browser here, so it drives /usr/bin/chromium (`dev.py test`
installs it with fonts-noto-cjk when run as root). Every journey ends with `shoot(page)`, which
saves a PNG of the last screen to tests/e2e/screenshots/<test>.png. `sign_in(page, ...)` makes an
account (straight in the table, as the sign-in tests do) and signs in through the sign-in form.

The mobile pages (/m) are driven by `phone`: a page in a phone's context (390x844, scale 2, touch,
WeChat's user agent); `open_phone(browser, width=...)` makes another (a second person, or another
width in 360-414). `sign_in_phone(page, ...)` signs in through /m/login.
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


# WeChat's in-app browser on an iPhone (what a member scanning a poster opens the page in).
WECHAT_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN")
PHONE_WIDTH, PHONE_HEIGHT = 390, 844


@contextlib.asynccontextmanager
async def open_phone(browser: Browser, *, width: int = PHONE_WIDTH, height: int = PHONE_HEIGHT) -> AsyncIterator[Page]:
    """A page in a fresh phone context (no cookies): `width` x `height` CSS pixels at scale 2,
    touch, WeChat's user agent, Chinese locale."""
    context = await browser.new_context(
        locale="zh-CN", viewport={"width": width, "height": height}, device_scale_factor=2, is_mobile=True,
        has_touch=True, user_agent=WECHAT_UA,
    )
    context.set_default_timeout(15_000)
    try:
        yield await context.new_page()
    finally:
        await context.close()


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[Page]:
    """A phone's page (390x844 in WeChat), fresh per test."""
    async with open_phone(browser) as tab:
        yield tab


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
    phone = await _fill_sign_in(page, web_app, pool, role=role, scope_kind=scope_kind, scope_id=scope_id,
                                label=label, path=path, form="**/admin/login**")
    await page.get_by_test_id("who").filter(has_text=label).wait_for()
    return phone


async def _fill_sign_in(page: Page, web_app: WebApp, pool: Pool, *, role: Role, scope_kind: ScopeKind,
                        scope_id: int | None, label: str, path: str, form: str) -> str:
    """Make the account, open `path`, wait for the sign-in form at `form` and submit it; the phone."""
    _, phone = await make_account(pool, role=role, scope_kind=scope_kind, scope_id=scope_id, label=label)
    await page.goto(web_app.url(path))
    await page.wait_for_url(form)
    await page.get_by_placeholder("11 位手机号").fill(phone)
    await page.get_by_placeholder("密码", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="登 录").click()
    return phone


async def sign_in_phone(page: Page, web_app: WebApp, pool: Pool, *, scope_id: int | None,
                        role: Role = Role.member, scope_kind: ScopeKind = ScopeKind.member,
                        label: str = "测试党员", path: str = "/m") -> str:
    """A fresh account (a member's by default: scope_id = the member's id) signed in through the
    mobile sign-in page, opened by going to `path` (path and hash); returns its phone. Waits until
    the page has left /m/login (it goes back to `path`, or to the first tab for /m)."""
    phone = await _fill_sign_in(page, web_app, pool, role=role, scope_kind=scope_kind, scope_id=scope_id,
                                label=label, path=path, form="**/m/login**")
    await page.wait_for_url(lambda url: "/m/login" not in url)
    return phone
