"""Which way dependencies point: every top-level package imports only the layers below it.

The table is the code layout of README.md ("Layers") as a check: a new import that points the
wrong way (a pure rule reaching for the database, a query module calling a service, a workflow
importing I/O) fails here, naming the file and the import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package -> the packages it may import (besides itself, the standard library and third parties)
ALLOWED: dict[str, set[str]] = {
    "schemas": set(),                                   # wire types: nothing of ours
    "domain": {"schemas"},                              # pure rules
    "ingest": {"domain", "schemas"},                    # reading spreadsheets
    "channels": {"domain", "schemas"},                  # external message formats
    "reports": {"domain", "schemas"},                   # documents: .xlsx, printable HTML
    "db": {"domain", "schemas"},                        # SQL, one module per table
    "telemetry": {"db", "domain", "schemas"},           # logs, metrics, health
    "activities": {"channels", "db", "domain", "reports", "schemas", "telemetry"},
    "workflows": {"activities", "domain", "schemas"},   # deterministic orchestration
    "services": {"activities", "channels", "db", "domain", "ingest", "reports", "schemas", "telemetry",
                 "workflows"},
    "api": {"db", "domain", "schemas", "services", "telemetry"},
    "workers": {"activities", "db", "domain", "schemas", "services", "telemetry", "workflows"},
    "stack": {"api", "db", "domain", "schemas", "telemetry", "workers"},
    "demo": {"db", "domain", "reports", "schemas", "services", "stack"},
    "cli": {"api", "db", "demo", "domain", "ingest", "reports", "schemas", "services", "stack", "telemetry",
            "workers"},
    "bench": {"activities", "api", "db", "demo", "domain", "schemas", "services", "stack", "telemetry",
              "workers", "workflows"},
}
# The API's one reach into db/: the pool type it is handed by its entrypoint.
EXCEPTIONS = {("api", "db.pool")}


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_every_package_is_in_the_table() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages == set(ALLOWED), "a new top-level package needs its row in ALLOWED (and README)"


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_down(package: str) -> None:
    wrong = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in _imports(path):
            top = module.split(".")[0]
            if top in ALLOWED and top != package and top not in ALLOWED[package] and (
                    package, module) not in EXCEPTIONS and (package, top) not in EXCEPTIONS:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not wrong, f"{package} may import only {sorted(ALLOWED[package])}:\n" + "\n".join(wrong)
