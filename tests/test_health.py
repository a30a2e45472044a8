"""Health, readiness and metrics endpoints of the API and of worker processes."""

from __future__ import annotations

import asyncio
import socket

import httpx
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.routes import health
from db.pool import Pool, open_pool
from telemetry import metrics
from telemetry.health_server import dependencies_ready, serve_worker_health


def _api(pool: Pool, client: Client) -> httpx.AsyncClient:
    app = FastAPI()
    app.state.pool = pool
    app.state.temporal_client = client
    app.include_router(health.router)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_api_ready_when_postgres_and_temporal_answer(pool: Pool, client: Client) -> None:
    """/healthz and /readyz answer 200 when Postgres and Temporal are both reachable."""
    async with _api(pool, client) as http:
        live = await http.get("/healthz")
        ready = await http.get("/readyz")
    assert live.status_code == 200
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "temporal": True}


async def test_api_not_ready_names_the_dependency_that_is_down(_migrated: str, client: Client) -> None:
    """/readyz answers 503 with a Chinese message naming the database when the pool is unusable."""
    closed = await open_pool(_migrated, min_size=1, max_size=1)
    await closed.close()
    async with _api(closed, client) as http:
        ready = await http.get("/readyz")
        live = await http.get("/healthz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["checks"] == {"database": False, "temporal": True}
    assert "数据库" in body["message"]
    assert live.status_code == 200


async def test_api_not_ready_when_temporal_is_unreachable(pool: Pool) -> None:
    """/readyz answers 503 naming Temporal when no frontend listens at the configured address."""
    unreachable = await Client.connect(f"127.0.0.1:{_free_port()}", lazy=True)
    async with _api(pool, unreachable) as http:
        ready = await http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": True, "temporal": False}
    assert "Temporal" in ready.json()["message"]


async def test_api_metrics_exposes_app_counters(pool: Pool, client: Client) -> None:
    """/metrics serves the app registry in Prometheus text, with the value a counter reached."""
    metrics.REMINDERS_SENT.labels(ladder="campaign_deadline", step="urge").inc()
    expected = metrics.REMINDERS_SENT.labels(ladder="campaign_deadline", step="urge")._value.get()
    async with _api(pool, client) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    line = f'shuangbaodao_reminders_sent_total{{ladder="campaign_deadline",step="urge"}} {expected}'
    assert line in response.text
    for name in ("offers_sent", "offers_accepted", "escalations", "notification_failures",
                 "import_rows", "registrations"):
        assert f"# TYPE shuangbaodao_{name}_total counter" in response.text


async def test_worker_health_server_answers_probes() -> None:
    """The worker's HTTP responder serves liveness, readiness from its callback, and metrics."""
    state = {"ready": True}

    async def ready() -> bool:
        return state["ready"]

    server = await serve_worker_health(0, ready, host="127.0.0.1")
    assert isinstance(server, asyncio.Server)
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            metrics.OFFERS_SENT.inc()
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get("/readyz")).status_code == 200
            state["ready"] = False
            not_ready = await http.get("/readyz")
            assert not_ready.status_code == 503
            assert "未就绪" in not_ready.json()["message"]
            scraped = await http.get("/metrics")
            assert "shuangbaodao_offers_sent_total" in scraped.text
            assert (await http.get("/nope")).status_code == 404
            assert (await http.post("/readyz")).status_code == 405
    finally:
        server.close()
        await server.wait_closed()


async def test_temporal_runtime_exports_sdk_metrics(temporal_env: WorkflowEnvironment) -> None:
    """A client on `temporal_runtime(bind)` exports the SDK's own metrics at that address."""
    port = _free_port()
    runtime = metrics.temporal_runtime(f"127.0.0.1:{port}")
    target = temporal_env.client.service_client.config.target_host
    sdk_client = await Client.connect(target, runtime=runtime)
    await sdk_client.service_client.check_health()
    await sdk_client.count_workflows()
    async with httpx.AsyncClient() as http:
        for _ in range(50):
            try:
                scraped = await http.get(f"http://127.0.0.1:{port}/metrics")
            except httpx.ConnectError:
                await asyncio.sleep(0.1)
                continue
            if "temporal_request" in scraped.text:
                break
            await asyncio.sleep(0.1)
    assert "temporal_request" in scraped.text


async def test_app_factory_serves_the_probes_without_a_token(pool: Pool, client: Client) -> None:
    """The real API app (`create_app`) answers /healthz, /readyz and /metrics with no bearer token."""
    from api.app import create_app

    app = create_app(pool=pool, temporal_client=client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 200
        assert "shuangbaodao_offers_sent_total" in (await http.get("/metrics")).text


async def test_worker_readiness_follows_its_dependencies(_migrated: str, client: Client) -> None:
    """`dependencies_ready` is True with Postgres and Temporal up, False once the pool is closed."""
    own_pool = await open_pool(_migrated, min_size=1, max_size=1)
    ready = dependencies_ready(own_pool, client)
    assert await ready() is True
    await own_pool.close()
    assert await ready() is False
