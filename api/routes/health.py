"""Liveness, readiness and metrics for the API process (unauthenticated: probes carry no token)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api.deps import ClientDep, PoolDep
from telemetry import metrics
from telemetry.health_server import database_ready, temporal_ready

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers. Says nothing about its dependencies, on purpose: a
    database outage must not make the orchestrator restart every API replica."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(pool: PoolDep, client: ClientDep) -> JSONResponse:
    """Readiness: Postgres answers `SELECT 1` and the Temporal frontend is healthy."""
    database_ok, temporal_ok = await asyncio.gather(database_ready(pool), temporal_ready(client))
    checks = {"database": database_ok, "temporal": temporal_ok}
    if database_ok and temporal_ok:
        return JSONResponse({"status": "ready", "checks": checks})
    down = [name for name, ok in (("数据库", database_ok), ("Temporal", temporal_ok)) if not ok]
    return JSONResponse(
        {
            "status": "not_ready",
            "checks": checks,
            "message": f"服务未就绪: {'、'.join(down)} 不可用, 请稍后重试",
        },
        status_code=503,
    )


@router.get("/metrics")
async def prometheus_metrics() -> Response:
    """The app's Prometheus metrics (the Temporal SDK's own are exported by workers)."""
    body, content_type = metrics.render()
    return Response(content=body, media_type=content_type)
