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

Waits, observed where they happen (so a load test can read them back from /metrics):

- `DB_POOL_WAIT_SECONDS`: each acquire from the database pool (db.pool's `on_wait`, passed by
  the entrypoints that open the pool).
- `TEMPORAL_CALL_SECONDS`, `TEMPORAL_CALLS_HOLDING_CONNECTION`: telemetry/temporal_calls.py.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
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

# Waits: from 0.5 ms (a free pooled connection) to 10 s (a starved pool, a stuck workflow).
_WAIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DB_POOL_WAIT_SECONDS = Histogram(
    "db_pool_wait_seconds",
    "Time spent acquiring a connection from the database pool (queueing for one, or opening one)",
    namespace=_NAMESPACE,
    registry=REGISTRY,
    buckets=_WAIT_BUCKETS,
)
TEMPORAL_CALL_SECONDS = Histogram(
    "temporal_call_seconds",
    "Time the app waited on a call to Temporal, by call (an update includes its handler's activity)",
    ["call"],
    namespace=_NAMESPACE,
    registry=REGISTRY,
    buckets=_WAIT_BUCKETS,
)
TEMPORAL_CALLS_HOLDING_CONNECTION = Counter(
    "temporal_calls_holding_connection",
    "Calls to Temporal made while the caller held a pooled database connection (should stay 0)",
    ["call"],
    namespace=_NAMESPACE,
    registry=REGISTRY,
)


def observe_pool_wait(seconds: float) -> None:
    """db.pool's `on_wait`: one acquire's wait."""
    DB_POOL_WAIT_SECONDS.observe(seconds)


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
