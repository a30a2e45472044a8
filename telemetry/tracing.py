"""Optional OpenTelemetry tracing: off unless `SBD_OTEL_ENDPOINT` names an OTLP/HTTP traces URL.

When an entrypoint (`worker`, `api`, `up`) turns it on, one trace follows a piece of work across
processes: the API request's server span, the client's `StartWorkflow:`/`SignalWorkflow:` span,
then in the worker `RunWorkflow:`, `StartActivity:` and `RunActivity:`, carried between them in
Temporal headers by `temporalio.contrib.opentelemetry.TracingInterceptor`. Spans leave in batches
over OTLP/HTTP (protobuf) and the rest is flushed when the process stops. Every structlog line
written inside a span carries its `trace_id` and `span_id`, so a log line leads to its trace.

The OpenTelemetry packages are the `tracing` extra and are imported only when tracing is turned
on, so a process without them (or without the setting) never loads them. The tracer provider is
process-global in OpenTelemetry, and so is this module's state: `configure_tracing` once per
process, before the Temporal client is created; the client constructors ask
`temporal_interceptors()` and the API factory calls `instrument_asgi(app)`, both no-ops when off.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from temporalio.client import Interceptor

from schemas.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Probes and scrapes run every few seconds; a span each would drown the real requests.
_UNTRACED_PATHS = "/healthz,/readyz,/metrics"


class TracingUnavailable(RuntimeError):
    """Tracing was asked for but cannot start; the message says what to do."""


@dataclass(frozen=True)
class Tracing:
    """Tracing as one process runs it: where spans go, under which service name."""

    provider: TracerProvider
    endpoint: str
    service_name: str

    def shutdown(self) -> None:
        """Export the spans still queued, then stop (blocks up to the exporter's timeout)."""
        self.provider.shutdown()


_active: Tracing | None = None


def active_tracing() -> Tracing | None:
    """The tracing this process configured, or None when it is off."""
    return _active


def configure_tracing(settings: Settings, *, role: str) -> Tracing | None:
    """Turn tracing on for this process when `settings.otel_endpoint` is set; None when it is not.

    `role` names the process (`worker`, `api`, `up`); the service name is
    `settings.otel_service_name` or `shuangbaodao-<role>`. Call once, after `configure_logging`
    and before any Temporal client or API app is built. Raises `TracingUnavailable` when the
    endpoint is set but the `tracing` extra is not installed: a setting that silently did
    nothing would look like a broken collector.
    """
    global _active
    if not settings.otel_endpoint:
        return None
    if _active is not None:
        return _active
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise TracingUnavailable(
            f"已设置 SBD_OTEL_ENDPOINT, 但未安装追踪组件 ({exc.name}): "
            "请安装 `pip install 'shuangbaodao[tracing]'`, 或清空 SBD_OTEL_ENDPOINT 关闭追踪"
        ) from exc
    service_name = settings.otel_service_name or f"shuangbaodao-{role}"
    # Resource.create also reads OTEL_RESOURCE_ATTRIBUTES (deployment.environment, host, ...).
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otel_endpoint)))
    trace.set_tracer_provider(provider)
    _active = Tracing(provider=provider, endpoint=settings.otel_endpoint, service_name=service_name)
    _log_trace_ids()
    structlog.get_logger(__name__).info(
        "tracing_enabled", endpoint=settings.otel_endpoint, service_name=service_name
    )
    return _active


def temporal_interceptors() -> list[Interceptor]:
    """Interceptors for `Client.connect`: the timing of every call (telemetry/temporal_calls.py),
    and the tracing one when tracing is on.

    On the client the tracing one traces starts, signals, updates and queries and puts the span
    context in the Temporal headers; a `Worker` built on that client takes it over and continues
    the trace in workflows and activities.
    """
    from telemetry.temporal_calls import TemporalCallTiming

    timing: list[Interceptor] = [TemporalCallTiming()]
    if _active is None:
        return timing
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [*timing, TracingInterceptor()]


def instrument_asgi(app: FastAPI) -> None:
    """Give every API request a server span (named `METHOD /route/{param}`) when tracing is on.

    The incoming `traceparent` header is honoured, so a caller's trace continues into the API.
    """
    if _active is None:
        return
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    # Added first, so it runs inside the OpenTelemetry middleware, within the server span.
    app.add_middleware(_RouteNamedSpan)
    app.add_middleware(
        OpenTelemetryMiddleware, excluded_urls=_UNTRACED_PATHS, exclude_spans=["receive", "send"],
        server_request_hook=_drop_query,
    )


def _drop_query(span: Any, scope: dict[str, Any]) -> None:
    """Keep the query string out of the span: searches put names (and could put phone numbers)
    there, and the trace store is not where personal data goes."""
    if not scope.get("query_string") or not span.is_recording():
        return
    scheme, path = scope.get("scheme", "http"), scope.get("path", "")
    host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), "")
    span.set_attribute("http.url", f"{scheme}://{host}{path}")
    span.set_attribute("url.query", "[removed]")


class _RouteNamedSpan:
    """Renames the request's span after routing: `GET /units/{unit_id}`, not `GET /units/4242`,
    so spans group by endpoint and no record id ends up in a span name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_renaming(message: Message) -> None:
            # At the response start routing is done (Starlette's router wrote the matched route
            # into this same scope dict) and the span is still open: the OpenTelemetry
            # middleware ends it with the last body chunk.
            if message["type"] == "http.response.start":
                template = getattr(scope.get("route"), "path", None)
                if isinstance(template, str):
                    from opentelemetry import trace

                    span = trace.get_current_span()
                    span.update_name(f"{scope.get('method', 'HTTP')} {template}")
                    span.set_attribute("http.route", template)
            await send(message)

        await self.app(scope, receive, send_renaming)


def add_trace_ids(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: `trace_id` and `span_id` (hex, as trace viewers show them) of the
    span current when the line was logged; nothing outside a span."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict


def _log_trace_ids() -> None:
    """Add `add_trace_ids` to the logging `configure_logging` set up, structlog's and stdlib's.

    It goes after the personal-data mask: a hex id may hold eleven digits in a row, which the
    mask would take for a phone number.
    """
    processors = list(structlog.get_config()["processors"])
    if add_trace_ids not in processors:
        at = next(
            (i for i, p in enumerate(processors) if p is structlog.processors.format_exc_info),
            max(len(processors) - 1, 0),
        )
        processors.insert(at, add_trace_ids)
        structlog.configure(processors=processors)
    for handler in logging.getLogger().handlers:
        formatter = handler.formatter
        if isinstance(formatter, structlog.stdlib.ProcessorFormatter):
            chain = list(formatter.foreign_pre_chain or ())
            if add_trace_ids not in chain:
                formatter.foreign_pre_chain = [*chain, add_trace_ids]
