"""The app serves the built console and mobile pages with history fallback, without shadowing the API."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from api.errors import install_error_handlers
from api.web import install_web
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
