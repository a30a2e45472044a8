"""Process settings, read from the environment (prefix SBD_) by entrypoints only."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The task queue every worker polls and every workflow starts on unless configured otherwise.
DEFAULT_TASK_QUEUE = "shuangbaodao"


class Settings(BaseSettings):
    """Everything a process may be configured with. Only entrypoints construct this."""

    model_config = SettingsConfigDict(env_prefix="SBD_", extra="ignore")

    data_dir: Path = Field(default=Path(".shuangbaodao"), description="embedded stack state")
    # Where the evaluation writes each unit's feedback workbook (env SBD_REPORTS_DIR).
    reports_dir: Path = Path(".shuangbaodao/reports")
    # DATABASE_URL / TEMPORAL_ADDRESS are the conventional unprefixed names; when set, the
    # embedded servers are not started and these servers are used instead.
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    temporal_address: str | None = Field(default=None, validation_alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = "default"
    task_queue: str = DEFAULT_TASK_QUEUE
    api_host: str = "127.0.0.1"
    api_port: int = 8700
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    metrics_port: int = 9464
    db_pool_min: int = 2
    db_pool_max: int = 10
    # `up` runs the worker in its own process (0) or this many `shuangbaodao worker` child
    # processes, each restarted if it dies.
    worker_processes: int = Field(default=0, ge=0, le=16)
    max_concurrent_activities: int = 50
    max_concurrent_workflow_tasks: int = 50
    graceful_shutdown_seconds: float = 30.0
    # Each worker makes sure the one delivery dispatcher (a fixed workflow id) runs on its task
    # queue at start; off for a worker that must not drain the whole outbox (tests, a worker
    # pool on a side queue).
    delivery_dispatcher: bool = True
    # Each worker makes sure the Temporal Schedule `exchange-redemption-sweep` (the backstop that
    # returns the points of redemptions whose expiry timer was lost) starts its runs on its task
    # queue; off for a worker on a side queue (and tests), like the dispatcher.
    exchange_sweep: bool = True
    log_json: bool | None = None
    # OpenTelemetry tracing (telemetry/tracing.py): off while unset or empty. An OTLP/HTTP traces
    # URL, e.g. http://otel-collector:4318/v1/traces; needs the `tracing` extra installed.
    otel_endpoint: str | None = None
    # Service name on the spans; default `shuangbaodao-<role>` (worker, api, up).
    otel_service_name: str | None = None
