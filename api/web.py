"""The built web pages (web/dist): the staff console at /admin, the mobile pages at /m.

History-mode fallback: /admin and /admin/<anything> answer dist/admin.html, /m and /m/<anything>
answer dist/m.html, so a reload or a bookmarked deep link opens the right screen. Hashed assets
under /assets/ are cached for a year (their names change with their content); the two HTML pages are
never cached, so a new build is picked up on the next load. `/` redirects to /admin.

Scripts, styles and other text assets go gzip-compressed to a browser that accepts it (each file
compressed once per process; a phone on a slow network gets a third of the bytes), so the pages
load fast also where no reverse proxy compresses them.

The page a task's QR poster opens on site (/m/checkin) goes out with the mobile pages' script and
style sheet inside it: a phone there has usually never loaded /m (nothing cached) and is often on 3G,
where each round trip costs over half a second, so the page can start without fetching its files
first (bench/mobile_load.py, docs/benchmarks.md). This is safe because the mobile build is one
script that imports nothing and that nothing imports (web/vite.config.ts): a page holds exactly one
copy, inside it or from /assets/. A built m.html that names modulepreload links (a split build) or
a file that could end its element early is served as built. No Content-Security-Policy is sent by
the app; one added at a proxy must allow these inline elements (by their hashes).

Only these prefixes are served here; every other unknown path keeps the API's JSON 404.
When the pages were never built, /admin and /m answer a short page saying how to build them.
"""

from __future__ import annotations

import gzip
import os
import re
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from api.errors import not_found_response

REPO_ROOT = Path(__file__).resolve().parent.parent


def default_dist() -> Path:
    """web/dist of this checkout, or SBD_WEB_DIST (the container image puts the pages elsewhere)."""
    return Path(os.environ.get("SBD_WEB_DIST") or REPO_ROOT / "web" / "dist")

_ASSET_CACHE = "public, max-age=31536000, immutable"
_PAGE_CACHE = "no-cache"
_COMPRESSED = {".js", ".mjs", ".css", ".svg", ".json", ".map", ".txt"}
_MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".json": "application/json",
                ".map": "application/json", ".txt": "text/plain; charset=utf-8"}

_NOT_BUILT = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>控制台尚未构建</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:4em auto">
<h1>控制台页面尚未构建</h1>
<p>请在项目目录运行 <code>python3 dev.py up</code> (启动时自动构建),
或 <code>python3 dev.py web build</code> 后刷新本页。</p>
<p>The console has not been built yet: run <code>python3 dev.py web build</code> and reload.</p>
</body></html>"""


# /m/<path> answered with the script and styles inside the page (see above).
INLINED_MOBILE_PATHS = frozenset({"checkin"})
_MODULE_SCRIPT = re.compile(r'<script type="module" crossorigin src="(/assets/[^"<>]+\.js)"></script>')
_STYLESHEET = re.compile(r'<link rel="stylesheet" crossorigin href="(/assets/[^"<>]+\.css)">')
# What would end (or, with "<!--", keep open) a script or style element before its end tag.
_SCRIPT_UNSAFE = re.compile(r"</?script", re.IGNORECASE)
_STYLE_UNSAFE = re.compile(r"</style", re.IGNORECASE)


def _page(dist: Path, name: str) -> Response:
    page = dist / name
    if not page.is_file():
        return HTMLResponse(_NOT_BUILT, status_code=503, headers={"Cache-Control": _PAGE_CACHE})
    return FileResponse(page, media_type="text/html", headers={"Cache-Control": _PAGE_CACHE})


def inline_assets(html: str, dist: Path) -> str:
    """The built page with its module script and style sheets inside it, where that is safe: a page
    whose script imports nothing (no modulepreload links: else the page is left as built), files
    that exist under dist/assets and cannot end their element early. Anything else keeps its
    reference."""
    assets = (dist / "assets").resolve()

    def text(url: str) -> str | None:
        path = (dist / url.lstrip("/")).resolve()
        return path.read_text(encoding="utf-8") if path.is_relative_to(assets) and path.is_file() else None

    def script(match: re.Match[str]) -> str:
        body = text(match[1])
        if body is None or _SCRIPT_UNSAFE.search(body):
            return match[0]
        return f'<script type="module">{body}</script>'

    def style(match: re.Match[str]) -> str:
        body = text(match[1])
        if body is None or _STYLE_UNSAFE.search(body):
            return match[0]
        return f"<style>{body}</style>"

    if 'rel="modulepreload"' in html:   # a split build: its chunks name these files themselves
        return html
    return _STYLESHEET.sub(style, _MODULE_SCRIPT.sub(script, html))


@lru_cache(maxsize=4)
def _inlined_page(page: Path, mtime_ns: int) -> tuple[bytes, bytes]:
    """The page with its assets inside it, plain and gzip-compressed, once per build of the page
    (its assets' names carry their contents' hashes)."""
    body = inline_assets(page.read_text(encoding="utf-8"), page.parent).encode()
    return body, gzip.compress(body, compresslevel=6, mtime=0)


def _inlined_response(request: Request, dist: Path, name: str) -> Response:
    page = dist / name
    if not page.is_file():
        return _page(dist, name)
    plain, packed = _inlined_page(page, page.stat().st_mtime_ns)
    headers = {"Cache-Control": _PAGE_CACHE, "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(packed, media_type="text/html; charset=utf-8", headers=headers | {"Content-Encoding": "gzip"})
    return Response(plain, media_type="text/html; charset=utf-8", headers=headers)


@lru_cache(maxsize=512)
def _gzipped(path: Path, mtime_ns: int) -> bytes:
    """The file gzip-compressed (level 6), once per file version."""
    return gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)


def _asset_response(request: Request, path: Path) -> Response:
    headers = {"Cache-Control": _ASSET_CACHE, "Vary": "Accept-Encoding"}
    if path.suffix in _COMPRESSED and "gzip" in request.headers.get("accept-encoding", ""):
        body = _gzipped(path, path.stat().st_mtime_ns)
        return Response(body, media_type=_MEDIA_TYPES[path.suffix], headers=headers | {"Content-Encoding": "gzip"})
    return FileResponse(path, headers=headers)


def web_router(dist: Path) -> APIRouter:
    """The routes serving the built pages from `dist` (read on every request, so a rebuild shows)."""
    router = APIRouter(include_in_schema=False)
    assets_root = (dist / "assets").resolve()

    @router.get("/")
    async def root() -> RedirectResponse:
        return RedirectResponse("/admin", status_code=302)

    # Plain `def`: the file checks run in the thread pool, off the event loop.
    @router.get("/admin")
    @router.get("/admin/{rest:path}")
    def admin_page(rest: str = "") -> Response:
        return _page(dist, "admin.html")

    @router.get("/m")
    @router.get("/m/{rest:path}")
    def mobile_page(request: Request, rest: str = "") -> Response:
        if rest.strip("/") in INLINED_MOBILE_PATHS:
            return _inlined_response(request, dist, "m.html")
        return _page(dist, "m.html")

    @router.get("/assets/{name:path}")
    def asset(name: str, request: Request) -> Response:
        path = (assets_root / name).resolve()
        # Never outside dist/assets (no ../ escapes), and only files that exist.
        if not path.is_relative_to(assets_root) or not path.is_file():
            return not_found_response()
        return _asset_response(request, path)

    return router


def install_web(app: FastAPI, dist: Path | None = None) -> None:
    """Serve the built pages; included last so it never shadows an API route."""
    app.include_router(web_router(dist if dist is not None else default_dist()))
