"""Optional OpenTelemetry tracing (issue 5): one trace from an API request through the workflow to
its activity, exported over OTLP/HTTP to a real local receiver, and off without a trace when unset.

Tracing's provider is process-global, so every traced process here is a subprocess: a real
`shuangbaodao worker`, a real `shuangbaodao api`, and a probe process (this module run with
`python -m tests.test_tracing probe`) that serves the real API app with one extra route starting
the delivery dispatcher. The pytest process never turns tracing on.

The batch processor's timer is set to a minute in those processes, so every span the receiver
gets within the test was flushed when the process stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from db.pool import Pool
from schemas.delivery import Channel, OwnerKind
from tests.conftest import env_without_settings, unique
from tests.receivers import (
    WECOM_PATH,
    Receiver,
    add_endpoint,
    cleanup,
    owner_id,
    queue,
    receiver,
    row,
)
from workflows.delivery import DISPATCHER_WORKFLOW_ID

__all__ = ["cleanup", "receiver"]   # fixtures used by name

REPO = Path(__file__).parents[1]
CLI = Path(sys.executable).parent / "shuangbaodao"
TRACES_PATH = "/v1/traces"
# The caller's trace: the API honours its `traceparent`, so every span must carry this id.
CALLER_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"
START_TIMEOUT = 30.0


# ---- the OTLP/HTTP receiver ---------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, object]


@dataclass
class OtlpReceiver:
    """A local OTLP/HTTP traces endpoint: decodes every export request and keeps its spans."""

    url: str = ""
    spans: list[Span] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def accept(self, headers: dict[str, str], body: bytes) -> None:
        from google.protobuf.message import DecodeError
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        if headers.get("content-type") != "application/x-protobuf":
            self.problems.append(f"content-type {headers.get('content-type')!r}, not protobuf")
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest()
        try:
            request.ParseFromString(body)
        except DecodeError as exc:
            self.problems.append(f"undecodable export request: {exc}")
            return
        found = []
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes: dict[str, object] = {
                        a.key: a.value.string_value or a.value.int_value for a in span.attributes
                    }
                    found.append(Span(
                        service=resource.get("service.name", ""), name=span.name,
                        trace_id=span.trace_id.hex(), span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(), attributes=attributes,
                    ))
        with self._lock:
            self.spans.extend(found)

    def named(self, name: str) -> list[Span]:
        with self._lock:
            return [s for s in self.spans if s.name == name]


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    """An OTLP/HTTP receiver on a free local port for this test."""
    state = OtlpReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path != TRACES_PATH:
                state.problems.append(f"export to {self.path}")
                self.send_response(404)
            else:
                state.accept({k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            del format, args   # quiet: the test reads what was received, not an access log

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}{TRACES_PATH}"
    yield state
    server.shutdown()
    server.server_close()


# ---- processes ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _traced_env(tmp_path: Path, otlp: OtlpReceiver, **extra: str) -> dict[str, str]:
    """A deployment-like environment with tracing pointed at the receiver."""
    base = {k: v for k, v in env_without_settings().items() if not k.startswith("OTEL_")}
    return {
        **base,
        "SBD_DATA_DIR": str(tmp_path / "unused"),
        "SBD_LOG_JSON": "true",
        "SBD_OTEL_ENDPOINT": otlp.url,
        # Only the flush at shutdown can deliver spans within the test.
        "OTEL_BSP_SCHEDULE_DELAY": "60000",
        **extra,
    }


def _tail(log: Path) -> str:
    return log.read_text("utf-8", errors="replace")[-3000:]


def _json_lines(path: Path) -> list[dict[str, object]]:
    lines = []
    for text in path.read_text("utf-8", errors="replace").splitlines():
        if text.startswith("{"):
            lines.append(json.loads(text))
    return lines


async def _wait_ready(proc: asyncio.subprocess.Process, url: str, log: Path) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    async with httpx.AsyncClient() as http:
        while True:
            assert proc.returncode is None, _tail(log)
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert loop.time() < deadline, _tail(log)
            await asyncio.sleep(0.1)


async def _stop(proc: asyncio.subprocess.Process, log: Path) -> None:
    """SIGTERM, and the process must exit 0 (after flushing its spans)."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.wait_for(proc.wait(), timeout=30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert code == 0, _tail(log)


async def _stop_boot_dispatcher(client: Client, task_queue: str) -> None:
    """End the dispatcher the worker started at boot if it runs on this test's queue, which no
    worker polls any more; the next worker process of the session then starts its own."""
    handle = client.get_workflow_handle(DISPATCHER_WORKFLOW_ID)
    try:
        described = await handle.describe()
        if described.task_queue == task_queue and described.status == WorkflowExecutionStatus.RUNNING:
            await handle.terminate("tracing test done")
    except RPCError:
        pass   # not started, or already ended


# ---- the probe process ------------------------------------------------------------------------------


async def _probe() -> None:
    """The API app as `create_app` builds it, plus a route that starts the dispatcher; one request
    carrying the caller's `traceparent` goes through it in process."""
    import structlog
    from fastapi import FastAPI

    from api.app import create_app
    from db.pool import open_pool
    from schemas.delivery import DispatcherInput
    from schemas.settings import Settings
    from services.delivery import kick_dispatcher
    from stack.temporal import connect_client

    settings = Settings()
    assert settings.database_url and settings.temporal_address
    workflow_id, endpoint_id = os.environ["PROBE_WORKFLOW_ID"], int(os.environ["PROBE_ENDPOINT_ID"])
    client = await connect_client(settings.temporal_address, namespace=settings.temporal_namespace)
    pool = await open_pool(settings.database_url, min_size=1, max_size=2)
    try:
        app: FastAPI = create_app(pool=pool, temporal_client=client)

        async def probe(name: str) -> dict[str, str]:
            await kick_dispatcher(client, settings.task_queue, reason=name, workflow_id=workflow_id,
                                  dispatcher_input=DispatcherInput(endpoint_ids=[endpoint_id]))
            structlog.get_logger("tracing_probe").info("tracing_probe_kicked", workflow_id=workflow_id)
            return {"workflow_id": workflow_id}

        app.add_api_route("/probe/{name}", probe, methods=["POST"])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://probe") as http:
            answer = await http.post("/probe/wave", headers={
                "traceparent": f"00-{CALLER_TRACE_ID}-{CALLER_SPAN_ID}-01"})
        assert answer.status_code == 200, answer.text
    finally:
        await pool.close()


def _probe_main() -> None:
    from schemas.settings import Settings
    from telemetry.logging import configure_logging
    from telemetry.tracing import configure_tracing

    settings = Settings()
    configure_logging(json=True)
    tracing = configure_tracing(settings, role="probe")
    assert tracing is not None, "the probe runs only with tracing on"
    try:
        asyncio.run(_probe())
    finally:
        tracing.shutdown()


# ---- the tests -----------------------------------------------------------------------------------


async def test_api_request_workflow_and_activity_share_one_trace_exported_over_otlp(
    pool: Pool, client: Client, task_queue: str, _migrated: str, tmp_path: Path,
    otlp: OtlpReceiver, receiver: Receiver, cleanup: list[str],
) -> None:
    """An API request carrying a traceparent starts the dispatcher on a traced `shuangbaodao worker`;
    the request span, SignalWithStart, RunWorkflow, HandleSignal, StartActivity and RunActivity all
    reach the OTLP receiver in that one trace, and the log lines inside them carry its ids."""
    prefix = unique("trace:")
    cleanup.append(prefix)
    unit = owner_id()
    endpoint_id = await add_endpoint(pool, owner_kind=OwnerKind.unit, owner_id=unit, channel=Channel.wecom,
                                     url=receiver.url(WECOM_PATH, key="k"), rate_per_minute=1000)
    await queue(pool, [row(Channel.wecom, OwnerKind.unit, unit, f"{prefix}0")])
    workflow_id = unique("delivery-dispatcher-trace-")
    temporal_address = client.service_client.config.target_host
    port = _free_port()
    worker_log, probe_log = tmp_path / "worker.log", tmp_path / "probe.log"
    worker_env = _traced_env(tmp_path, otlp, DATABASE_URL=_migrated, TEMPORAL_ADDRESS=temporal_address,
                             SBD_TASK_QUEUE=task_queue, SBD_METRICS_PORT=str(port))
    with worker_log.open("wb") as out:
        worker = await asyncio.create_subprocess_exec(str(CLI), "worker", stdout=out, stderr=out, env=worker_env)
    try:
        await _wait_ready(worker, f"http://127.0.0.1:{port}/readyz", worker_log)
        probe_env = _traced_env(tmp_path, otlp, DATABASE_URL=_migrated, TEMPORAL_ADDRESS=temporal_address,
                                SBD_TASK_QUEUE=task_queue, SBD_OTEL_SERVICE_NAME="sbd-probe-api",
                                PROBE_WORKFLOW_ID=workflow_id, PROBE_ENDPOINT_ID=str(endpoint_id))
        with probe_log.open("wb") as out:
            probe = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.test_tracing", "probe", stdout=out, stderr=out,
                env=probe_env, cwd=REPO)
        assert await asyncio.wait_for(probe.wait(), 60) == 0, _tail(probe_log)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while not receiver.of("wecom"):
            assert loop.time() < deadline, f"nothing delivered: {_tail(worker_log)}"
            await asyncio.sleep(0.1)
        await _stop(worker, worker_log)
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
        with contextlib.suppress(RPCError):   # never started (the probe failed): nothing to stop
            await client.get_workflow_handle(workflow_id).terminate("tracing test done")
        await _stop_boot_dispatcher(client, task_queue)

    assert otlp.problems == []
    expected = {
        "POST /probe/{name}": "sbd-probe-api",
        "SignalWithStartWorkflow:DeliveryDispatcherWorkflow": "sbd-probe-api",
        "RunWorkflow:DeliveryDispatcherWorkflow": "shuangbaodao-worker",
        "HandleSignal:kick": "shuangbaodao-worker",
        "StartActivity:deliver_pending": "shuangbaodao-worker",
        "RunActivity:deliver_pending": "shuangbaodao-worker",
    }
    # The worker also starts the city-wide dispatcher at boot (a trace of its own): only the spans
    # of the probe process and of the probe's workflow belong to this request.
    seen = {name: [s for s in otlp.named(name) if s.service == "sbd-probe-api"
                   or s.attributes.get("temporalWorkflowID") == workflow_id] for name in expected}
    assert all(seen.values()), f"missing {[n for n, s in seen.items() if not s]} in {otlp.spans}"
    for name, spans in seen.items():
        assert {(s.service, s.trace_id) for s in spans} == {(expected[name], CALLER_TRACE_ID)}, name
    server = seen["POST /probe/{name}"][0]
    assert server.parent_span_id == CALLER_SPAN_ID and server.attributes.get("http.route") == "/probe/{name}"
    start = seen["SignalWithStartWorkflow:DeliveryDispatcherWorkflow"][0]
    assert start.parent_span_id == server.span_id
    run_activity = seen["RunActivity:deliver_pending"][0]
    assert run_activity.parent_span_id in {s.span_id for s in seen["StartActivity:deliver_pending"]}
    assert not otlp.named("GET /readyz"), "probes are not traced"

    # Logs join the trace: the probe's line inside the request span, the worker's inside RunActivity.
    kicked = next(line for line in _json_lines(probe_log) if line.get("event") == "tracing_probe_kicked")
    assert (kicked["trace_id"], kicked["span_id"]) == (CALLER_TRACE_ID, server.span_id)
    # Whichever dispatcher sent the row (the probe's, or the boot one if it looked first), its line
    # names the trace and span of the RunActivity it was logged in.
    run_activities = {(s.attributes.get("temporalWorkflowID"), s.trace_id, s.span_id)
                      for s in otlp.named("RunActivity:deliver_pending")}
    dispatched = [line for line in _json_lines(worker_log) if line.get("event") == "deliveries_dispatched"]
    assert dispatched, _tail(worker_log)
    for line in dispatched:
        assert (line["workflow_id"], line["trace_id"], line["span_id"]) in run_activities, line
    started = [line for line in _json_lines(worker_log) if line.get("event") == "worker_started"]
    assert started and "trace_id" not in started[0], "no trace ids outside a span"


async def test_api_command_traces_requests_by_route_and_flushes_on_sigterm(
    _migrated: str, client: Client, tmp_path: Path, otlp: OtlpReceiver
) -> None:
    """`shuangbaodao api` with SBD_OTEL_ENDPOINT exports a server span per request, named by route
    template with its status and without the query string, skips health probes, and flushes them
    when SIGTERM stops it."""
    port = _free_port()
    log = tmp_path / "api.log"
    env = _traced_env(tmp_path, otlp, DATABASE_URL=_migrated,
                      TEMPORAL_ADDRESS=client.service_client.config.target_host)
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            str(CLI), "api", "--host", "127.0.0.1", "--port", str(port), stdout=out, stderr=out, env=env)
    try:
        await _wait_ready(proc, f"http://127.0.0.1:{port}/readyz", log)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            # no token: 401, still a traced request; the query string stays out of the span
            refused = await http.get("/units/4242", params={"q": "13812345678"})
        assert refused.status_code == 401
        assert otlp.spans == [], "nothing is exported before the flush at shutdown"
        await _stop(proc, log)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert otlp.problems == []
    assert [(s.name, s.service) for s in otlp.spans] == [("GET /units/{unit_id}", "shuangbaodao-api")]
    span = otlp.spans[0]
    assert span.attributes.get("http.route") == "/units/{unit_id}"
    assert span.attributes.get("http.url") == f"http://127.0.0.1:{port}/units/4242"
    assert "13812345678" not in repr(span.attributes)
    status = span.attributes.get("http.response.status_code", span.attributes.get("http.status_code"))
    assert status == 401


def test_tracing_is_inert_when_unset_and_refuses_loudly_without_its_packages() -> None:
    """Without SBD_OTEL_ENDPOINT the app builds with no OpenTelemetry SDK loaded and no interceptor;
    with it set but the `tracing` packages missing, `configure_tracing` raises a message naming the extra."""
    import subprocess

    script = """
import sys
for name in ("opentelemetry.sdk", "opentelemetry.exporter", "opentelemetry.instrumentation",
             "temporalio.contrib.opentelemetry"):
    sys.modules[name] = None   # as if the `tracing` extra were not installed
import cli.main
from api.app import create_app
from schemas.settings import Settings
from telemetry.tracing import TracingUnavailable, configure_tracing, temporal_interceptors
assert configure_tracing(Settings(otel_endpoint=""), role="worker") is None
assert [type(i).__name__ for i in temporal_interceptors()] == ["TemporalCallTiming"]   # no tracing one
app = create_app(pool=None, temporal_client=None)
assert not app.user_middleware, app.user_middleware
try:
    configure_tracing(Settings(otel_endpoint="http://127.0.0.1:4318/v1/traces"), role="worker")
except TracingUnavailable as exc:
    print("REFUSED", exc)
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SBD_", "OTEL_"))}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "REFUSED" in done.stdout and "shuangbaodao[tracing]" in done.stdout, done.stdout


if __name__ == "__main__" and sys.argv[1:] == ["probe"]:
    _probe_main()
