"""The app's Prometheus metrics, and the Temporal SDK runtime that exports the SDK's own.

The app metrics live in one `CollectorRegistry` owned by this module (not prometheus_client's
global default registry), so a process exports exactly what it declares and tests can read the
values back. Defining the metric objects at import is the only side effect; nothing listens on a
port until an entrypoint asks (`api/routes/health.py` serves `/metrics` for the API,
`telemetry/health_server.py` for workers).

Increment these in activities, services and front doors, never inside workflow code: a workflow
is replayed, and a counter bumped during replay would count the same offer twice. Where each
belongs (after the write committed, and only for rows actually written, so a retried activity
does not count twice):

- `OFFERS_SENT.inc(n)`: the activity that inserts offers (`dispatch_find_candidates`).
- `OFFERS_ACCEPTED.inc()`: the activity recording an accepted answer (`dispatch_record_answer`).
- `ESCALATIONS.inc()`: the activity telling a higher level (`dispatch_notify_level`, topic escalated).
- `REMINDERS_SENT.labels(ladder=..., step=...).inc(n)`: each reminder activity, n = rows inserted.
- `NOTIFICATION_FAILURES.labels(channel=...).inc()`: the notifier, on a failed send.
- `IMPORT_ROWS.labels(kind=...).inc(n)`: the roster import, n = rows committed.
- `REGISTRATIONS.labels(status=...).inc(n)`: the registration use cases, per status reached.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

_NAMESPACE = "shuangbaodao"


def _new_registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


REGISTRY = _new_registry()

OFFERS_SENT = Counter(
    "offers_sent",
    "Task offers sent to members (派单/邀约已发出)",
    namespace=_NAMESPACE,
    registry=REGISTRY,
)
OFFERS_ACCEPTED = Counter(
    "offers_accepted",
    "Task offers a member accepted (党员接单)",
    namespace=_NAMESPACE,
    registry=REGISTRY,
)
ESCALATIONS = Counter(
    "escalations",
    "Tasks or disputes that climbed one level of the escalation ladder (逐级上报)",
    namespace=_NAMESPACE,
    registry=REGISTRY,
)
REMINDERS_SENT = Counter(
    "reminders_sent",
    "Reminders sent, by ladder and step (督促: remind / urge / supervise / public_notice)",
    ["ladder", "step"],
    namespace=_NAMESPACE,
    registry=REGISTRY,
)
NOTIFICATION_FAILURES = Counter(
    "notification_failures",
    "Notification attempts that failed, by channel (sms, wechat, ...)",
    ["channel"],
    namespace=_NAMESPACE,
    registry=REGISTRY,
)
IMPORT_ROWS = Counter(
    "import_rows",
    "Roster rows imported, by kind (member, unit, ...)",
    ["kind"],
    namespace=_NAMESPACE,
    registry=REGISTRY,
)
REGISTRATIONS = Counter(
    "registrations",
    "Registrations (单位报到 / 个人报到) reaching a status (submitted, confirmed, rejected, ...)",
    ["status"],
    namespace=_NAMESPACE,
    registry=REGISTRY,
)


def render() -> tuple[bytes, str]:
    """The app registry in Prometheus text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def temporal_runtime(metrics_bind: str | None) -> Runtime:
    """A Temporal runtime whose SDK metrics (task latencies, slots, polls) are exported.

    `metrics_bind` is `host:port` for the SDK's own Prometheus endpoint, e.g. `0.0.0.0:9465`;
    None keeps the SDK's metrics off. Pass the runtime to `Client.connect(..., runtime=...)`
    in worker processes; create one per process.
    """
    if metrics_bind is None:
        return Runtime(telemetry=TelemetryConfig(metrics=None))
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=metrics_bind)))
