#!/usr/bin/env python3
"""Bootstrap for a fresh clone: create or reuse .venv, install the project, then run.

    python3 dev.py up --demo     # start the whole embedded system with a demo city
    python3 dev.py test          # lint, type-check and run the whole test suite

Anything else is passed to the `shuangbaodao` command inside the virtual environment.
Only the standard library is used here, because nothing else exists yet on a fresh clone.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed-from"


def _requirements_digest() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this file must speak on an older Python too
        sys.exit("需要 Python 3.11 或更高版本 (Python 3.11+ is required)")
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except (OSError, subprocess.CalledProcessError) as exc:
            # Debian/Ubuntu ship venv's pip bootstrap separately.
            sys.exit(
                f"无法创建虚拟环境 (cannot create .venv: {exc}); "
                "Debian/Ubuntu 请先安装 python3-venv (apt install python3-venv)"
            )
    digest = _requirements_digest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    print("installing dependencies into .venv (first run only) ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(digest)


def run_tests(extra: list[str]) -> int:
    steps = [
        [str(BIN / "ruff"), "check", "."],
        [str(BIN / "mypy"), "."],
        [str(BIN / "python"), "-m", "pytest", *extra],
    ]
    for step in steps:
        print("$", " ".join(step[-3:] if "pytest" in step else step[-2:]), flush=True)
        code = subprocess.run(step, cwd=ROOT).returncode
        if code != 0:
            return code
    return 0


def main(argv: list[str]) -> int:
    ensure_venv()
    if argv[:1] == ["test"]:
        return run_tests(argv[1:])
    os.chdir(ROOT)
    os.execv(str(BIN / "shuangbaodao"), [str(BIN / "shuangbaodao"), *argv])
    return 0  # unreachable: execv replaces this process


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
