"""Personal data never reaches a log line (个人信息保护法).

The scan itself runs once at the end of every session, whatever tests it ran and in whatever
order (`_no_personal_data_in_the_sessions_logs` in tests/conftest.py), over the capture file that
this process and every process it starts append to (SBD_LOG_ALSO_TO). These tests prove that the
masking holds, that a subprocess's lines reach the capture, and that the scan's rule
(tests/log_scan.py) finds a phone or ID number that a subprocess leaked.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import uuid
from pathlib import Path

import structlog

from domain.pii import mask_id_number, mask_phone, mask_text
from telemetry.logging import LOG_ALSO_TO_ENV
from tests.conftest import LOG_CAPTURE, env_without_settings
from tests.log_scan import lines_with_personal_data

REPO = Path(__file__).parents[1]

# A process that configures logging the way every entrypoint does and logs a phone and an ID
# number; with "leak" as its argument, its masking is switched off first (a hole in it).
_LOGGING_CHILD = """
import sys
import structlog
import telemetry.logging
if sys.argv[2] == "leak":
    telemetry.logging.mask_text = lambda text: text
telemetry.logging.configure_logging(json=True)
structlog.get_logger("child").info("child_logged", marker=sys.argv[1], phone="13912345678",
                                   note="身份证11010519491231002X")
"""


def _run_logging_child(marker: str, mode: str, capture: Path | None) -> None:
    env = env_without_settings({} if capture is None else {LOG_ALSO_TO_ENV: str(capture)})
    subprocess.run([sys.executable, "-c", _LOGGING_CHILD, marker, mode], env=env, cwd=REPO,
                   check=True, capture_output=True, timeout=60)


def test_masking_functions_hide_the_middle_digits() -> None:
    """Phone and ID numbers keep only what a person needs to recognise them."""
    assert mask_phone("13812345678") == "138****5678"
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_text("电话13812345678 身份证11010519491231002X 第12345行") == (
        "电话138****5678 身份证110105********002X 第12345行"
    )


def test_structlog_and_stdlib_lines_are_masked() -> None:
    """A log call that carries a phone or ID number (as value, nested or in text) is masked."""
    marker = f"probe-{uuid.uuid4().hex[:8]}"
    structlog.get_logger("scan").info(
        "probe_event", marker=marker, phone="13912345678", nested={"id": "11010519491231002X"}, n=13712345678
    )
    logging.getLogger("scan.stdlib").warning("stdlib probe %s 13612345678", marker)
    lines = [line for line in LOG_CAPTURE.read_text(encoding="utf-8").splitlines() if marker in line]
    assert len(lines) == 2 and "probe_event" in lines[0] and "stdlib probe" in lines[1], lines
    text = "\n".join(lines)
    for raw in ("13912345678", "11010519491231002X", "13712345678", "13612345678"):
        assert raw not in text
    assert "139****5678" in text and "110105********002X" in text and "136****5678" in text


def test_a_subprocess_logs_into_the_sessions_capture_masked() -> None:
    """A process a test starts inherits SBD_LOG_ALSO_TO: its lines reach the capture the session
    scans, masked."""
    marker = f"child-{uuid.uuid4().hex[:8]}"
    _run_logging_child(marker, "mask", capture=None)   # the session's own setting, inherited
    lines = [line for line in LOG_CAPTURE.read_text(encoding="utf-8").splitlines() if marker in line]
    assert len(lines) == 1, lines
    assert "139****5678" in lines[0] and "110105********002X" in lines[0]


def test_the_scan_catches_a_phone_a_subprocess_leaked(tmp_path: Path) -> None:
    """The session's scan rule finds the phone and the ID number in the line of a subprocess whose
    masking has a hole, and finds nothing in the same line masked."""
    leaked, masked = tmp_path / "leaked.jsonl", tmp_path / "masked.jsonl"
    _run_logging_child("leaky-child", "leak", capture=leaked)
    _run_logging_child("masked-child", "mask", capture=masked)
    found = lines_with_personal_data(leaked)
    assert len(found) == 1 and "leaky-child" in found[0], leaked.read_text(encoding="utf-8")
    assert "13912345678" in found[0] and "11010519491231002X" in found[0]
    assert "masked-child" in masked.read_text(encoding="utf-8")
    assert lines_with_personal_data(masked) == []
