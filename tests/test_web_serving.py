"""The app serves the built console and mobile pages with history fallback, without shadowing the API."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import httpx
from fastapi import FastAPI

from api.errors import install_error_handlers
from api.web import install_web
from stack import web_build
from tests.api_fixtures import api_http_fixture  # noqa: F401


def _dist(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "admin.html").write_text("<html>控制台</html>")
    (dist / "m.html").write_text("<html>手机端</html>")
    (dist / "assets" / "admin-abc123.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("not for you")
    return dist


def _http(dist: Path) -> httpx.AsyncClient:
    app = FastAPI()
    install_error_handlers(app)
    install_web(app, dist)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web")


async def test_history_fallback_and_cache_headers(tmp_path: Path) -> None:
    """/ -> 302 /admin; any /admin/* path gets admin.html, any /m/* m.html, never cached;
    hashed assets are cached for a year; paths escaping dist/assets are JSON 404s."""
    async with _http(_dist(tmp_path)) as http:
        root = await http.get("/")
        assert (root.status_code, root.headers["location"]) == (302, "/admin")
        for path in ("/admin", "/admin/", "/admin/campaigns/12/progress"):
            page = await http.get(path)
            assert page.status_code == 200 and page.text == "<html>控制台</html>", path
            assert page.headers["cache-control"] == "no-cache"
        for path in ("/m", "/m/tasks/3"):
            assert (await http.get(path)).text == "<html>手机端</html>"
        asset = await http.get("/assets/admin-abc123.js")
        assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
        for path in ("/assets/missing.js", "/assets/../secret.txt", "/assets/%2e%2e/secret.txt"):
            missing = await http.get(path)
            assert missing.status_code == 404 and missing.json()["code"] == "not_found", path
        # Only /admin and /m fall back; lookalike prefixes are ordinary unknown paths.
        other = await http.get("/administrator")
        assert other.status_code == 404 and other.json()["code"] == "not_found"


async def test_text_assets_go_gzipped_to_browsers_that_accept_it(tmp_path: Path) -> None:
    """A script is sent gzip-compressed when the browser accepts gzip (the same bytes once
    decompressed), plain otherwise; an image is never recompressed."""
    dist = _dist(tmp_path)
    script = "export const words = '居民点单';\n" * 200
    (dist / "assets" / "m-abc123.js").write_text(script)
    (dist / "assets" / "logo-abc123.png").write_bytes(b"\x89PNG" + bytes(500))
    async with _http(dist) as http:
        packed = await http.get("/assets/m-abc123.js", headers={"Accept-Encoding": "gzip, deflate, br"})
        assert packed.headers["content-encoding"] == "gzip" and packed.text == script   # httpx decompresses
        assert int(packed.headers["content-length"]) < len(script.encode()) / 10
        assert packed.headers["content-type"].startswith("text/javascript")
        assert "immutable" in packed.headers["cache-control"] and packed.headers["vary"] == "Accept-Encoding"
        plain = await http.get("/assets/m-abc123.js", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.text == script
        image = await http.get("/assets/logo-abc123.png", headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in image.headers and image.content.startswith(b"\x89PNG")


async def test_unbuilt_console_says_how_to_build(tmp_path: Path) -> None:
    """Without a build, /admin answers 503 with a page naming the build command."""
    async with _http(tmp_path / "nowhere") as http:
        page = await http.get("/admin/dashboard")
        assert page.status_code == 503
        assert "dev.py web build" in page.text and "尚未构建" in page.text


async def test_api_routes_and_json_404_unchanged(api_http: httpx.AsyncClient) -> None:
    """In the real app the API keeps its routes and its JSON 404; /admin is the console."""
    assert (await api_http.get("/healthz")).status_code == 200
    unknown = await api_http.get("/no/such/route")
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    console = await api_http.get("/admin/login")
    assert console.status_code in (200, 503) and console.headers["content-type"].startswith("text/html")
    assert "/admin" not in (await api_http.get("/openapi.json")).json()["paths"]


_M_HTML = """<!doctype html><html><head><title>双报到</title>
<script type="module" crossorigin src="/assets/m-abc123.js"></script>
<link rel="stylesheet" crossorigin href="/assets/m-abc123.css">
</head><body><div id="app"></div></body></html>"""


async def test_the_on_site_page_carries_its_script_and_styles(tmp_path: Path) -> None:
    """/m/checkin (what a task's poster opens) gets m.html with its module script and style sheet
    inside it, gzip-compressed, never cached; every other /m path gets m.html as built."""
    dist = _dist(tmp_path)
    (dist / "m.html").write_text(_M_HTML)
    script = "const words = '扫码签到';\n" * 300
    (dist / "assets" / "m-abc123.js").write_text(script)
    (dist / "assets" / "m-abc123.css").write_text(".m{background:url(/assets/icon-abc123.woff2)}")
    async with _http(dist) as http:
        page = await http.get("/m/checkin", headers={"Accept-Encoding": "gzip"})
        assert page.headers["content-encoding"] == "gzip" and page.headers["cache-control"] == "no-cache"
        assert int(page.headers["content-length"]) < len(page.content) / 5
        assert f'<script type="module">{script}</script>' in page.text
        assert "<style>.m{background:url(/assets/icon-abc123.woff2)}</style>" in page.text
        assert "/assets/m-abc123" not in page.text
        plain = await http.get("/m/checkin/", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.text == page.text
        for path in ("/m", "/m/tasks/3", "/m/checkin/3", "/m/login"):
            assert (await http.get(path)).text == _M_HTML, path


async def test_what_cannot_be_inlined_keeps_its_reference(tmp_path: Path) -> None:
    """A script that could close its element early or a missing file stays a reference to its file;
    a split build (a module script that imports others: modulepreload links) is served as built."""
    dist = _dist(tmp_path)
    (dist / "m.html").write_text(_M_HTML)
    (dist / "assets" / "m-abc123.js").write_text("document.write('<SCRIPT>x</script>')")
    async with _http(dist) as http:
        page = (await http.get("/m/checkin")).text
        assert '<script type="module" crossorigin src="/assets/m-abc123.js"></script>' in page
        assert '<link rel="stylesheet" crossorigin href="/assets/m-abc123.css">' in page   # no such file
        (dist / "assets" / "m-abc123.js").write_text("export const a = 1")
        (dist / "assets" / "m-abc123.css").write_text("p{color:red}")
        split = _M_HTML.replace("</head>", '<link rel="modulepreload" crossorigin href="/assets/v-1.js"></head>')
        (dist / "m.html").write_text(split)
        os.utime(dist / "m.html", ns=(1, 1))   # another build of the page
        page = (await http.get("/m/checkin")).text
        assert '<script type="module" crossorigin src="/assets/m-abc123.js"></script>' in page
        assert page == split   # its chunks name the style sheet themselves


async def test_the_built_on_site_page_is_whole() -> None:
    """The real build (web/dist): /m/checkin carries the mobile pages' one script and style sheet
    inside it, and whatever it still names (the icon font) is served; the script imports nothing
    (so the page never holds two copies of the app), and /m names exactly the same files."""
    await asyncio.to_thread(web_build.build, quiet=True, say=lambda _line: None)
    dist = web_build.DIST_DIR
    async with _http(dist) as http:
        built = (await http.get("/m/tasks")).text
        page = (await http.get("/m/checkin")).text
        named = re.findall(r'(?:src|href)="(/assets/[^"]+)"', built)
        assert len(named) == 2 and 'rel="modulepreload"' not in built, named
        bodies = {url: (await http.get(url)).text for url in named}
        script = next(body for url, body in bodies.items() if url.endswith(".js"))
        assert f'<script type="module">{script}</script>' in page
        # No other chunk named anywhere (a static or dynamic import names one as "./x.js").
        assert not re.search(r'["\'`](?:\.{1,2}/|/assets/)[^"\'`]*\.js["\'`]', script)
        style = next(body for url, body in bodies.items() if url.endswith(".css"))
        assert f"<style>{style}</style>" in page and '<link rel="stylesheet"' not in page
        # What the page itself (outside the script) and its styles still name.
        left = re.findall(r'(?:src|href)="([^"]+)"|url\(\s*["\']?([^"\')]+)', page.replace(script, ""))
        urls = {a or b for a, b in left if not (a or b).startswith("data:")}
        assert urls and all(url.startswith("/assets/") for url in urls), urls
        for url in urls:
            assert (await http.get(url)).status_code == 200, url
