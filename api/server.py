"""The HTTP server of the API (uvicorn), as `serve` and `up` run it: one home for how it stops.

The caller owns SIGINT/SIGTERM (uvicorn would re-raise a captured SIGTERM after shutdown and kill
the process before the pool closes) and asks the server to exit. In-flight requests then get
`settings.graceful_shutdown_seconds` to finish; past that uvicorn cancels them, so a request that
waits on something that never comes cannot hold the stop.

An idle keep-alive connection stays open KEEP_ALIVE_SECONDS, longer than the clients and reverse
proxies in front keep one idle (nginx 75 s, a load balancer 60 s, a phone's browser): the server
must not be the side that closes. uvicorn's 5 s default closed connections just as clients sent
their next request on them (a member acting every few seconds), which then failed with a reset
connection and no answer (bench.live_load; 108 of 600 requests sent 4.98-5.02 s after the last).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import uvicorn
from fastapi import FastAPI

from schemas.settings import Settings


class ApiServer(uvicorn.Server):
    """uvicorn without its own signal capture."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


KEEP_ALIVE_SECONDS = 75


def api_server(app: FastAPI, settings: Settings, *, host: str, port: int, **options: Any) -> ApiServer:
    """The server for `app`; `options` are further uvicorn.Config settings."""
    return ApiServer(uvicorn.Config(
        app, host=host, port=port,
        # Our stdlib handler (JSON, personal data masked) stays in charge of uvicorn's logs.
        log_config=None,
        timeout_graceful_shutdown=max(1, round(settings.graceful_shutdown_seconds)),
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        **options,
    ))
