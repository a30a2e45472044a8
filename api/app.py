"""The HTTP API: one FastAPI app over the pool and the Temporal client the entrypoint opened."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from temporalio.client import Client

from api.deps import system_clock
from api.errors import document_error_responses, install_error_handlers
from api.rate_limits import RATE_LIMITED_ROUTES, PublicBrakes
from api.routes import (
    accounts,
    auth,
    campaigns,
    certificates,
    deliveries,
    directory,
    dispatch,
    evaluations,
    exchange,
    health,
    inbox,
    me,
    rates,
    registrations,
    resident,
    roster,
    service_records,
    statistics,
    tokens,
    unit_transfers,
    whistles,
    work_queues,
)
from api.web import install_web
from db.pool import Pool
from telemetry.tracing import instrument_asgi


def create_app(
    *, pool: Pool, temporal_client: Client, clock: Callable[[], datetime] = system_clock
) -> FastAPI:
    """The app; `clock` is the time sign-in rules use (tests move it instead of sleeping)."""
    app = FastAPI(
        title="双报到 API",
        description="在职党员进社区: 单位报到与个人报到、名录检索、需求与派单、活动与考核、消息、报到率统计。"
        "除居民入口 `/resident/*` (凭社区发放的点单码、评价码)、报到证核验 `/certificates/{编号}` 和健康检查外, "
        "每个请求都需要 `Authorization: Bearer <令牌>` (程序调用), 或登录后的会话 Cookie `sbd_session` "
        "(人员使用; 此时修改数据的请求须带请求头 `X-CSRF-Token`, 值同 Cookie `sbd_csrf`)。",
        version="0.1.0",
        docs_url="/docs",
    )
    app.state.pool = pool
    app.state.temporal_client = temporal_client
    app.state.clock = clock
    app.state.public_brakes = PublicBrakes()
    install_error_handlers(app)
    for module in (health, auth, accounts, directory, inbox, statistics, tokens, registrations, roster, dispatch, deliveries,
                   evaluations, campaigns, resident, service_records, unit_transfers, certificates, whistles,
                   work_queues, me, exchange, rates):
        app.include_router(module.router)
    _document_errors(app)
    install_web(app)  # the built console and mobile pages, after every API route
    instrument_asgi(app)  # request spans when the entrypoint turned tracing on
    return app


def _document_errors(app: FastAPI) -> None:
    """/openapi.json names the error answers each operation can give (api/errors.py)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_error_responses(generate(), rate_limited=RATE_LIMITED_ROUTES)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
