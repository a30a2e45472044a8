"""Personal data never reaches a log line (个人信息保护法).

This module's name sorts last, so it runs after every other test of the run and scans all that
they logged (the capture file written by tests/conftest.py's logging setup).
"""

from __future__ import annotations

import logging
import re

import structlog

from domain.pii import mask_id_number, mask_phone, mask_text
from tests.conftest import LOG_CAPTURE

_RAW_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_RAW_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")


def test_masking_functions_hide_the_middle_digits() -> None:
    """Phone and ID numbers keep only what a person needs to recognise them."""
    assert mask_phone("13812345678") == "138****5678"
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_text("电话13812345678 身份证11010519491231002X 第12345行") == (
        "电话138****5678 身份证110105********002X 第12345行"
    )


def test_structlog_and_stdlib_lines_are_masked() -> None:
    """A log call that carries a phone or ID number (as value, nested or in text) is masked."""
    structlog.get_logger("scan").info(
        "probe_event", phone="13912345678", nested={"id": "11010519491231002X"}, n=13712345678
    )
    logging.getLogger("scan.stdlib").warning("stdlib probe 13612345678")
    text = LOG_CAPTURE.read_text(encoding="utf-8")
    assert "probe_event" in text and "stdlib probe" in text
    for raw in ("13912345678", "11010519491231002X", "13712345678", "13612345678"):
        assert raw not in text


def test_no_personal_data_in_the_whole_runs_logs() -> None:
    """Scan every line every test logged: not one raw phone or ID number."""
    lines = LOG_CAPTURE.read_text(encoding="utf-8").splitlines()
    assert lines, "the log capture is empty: logging is not wired to the capture file"
    leaks = [line for line in lines if _RAW_PHONE.search(line) or _RAW_ID.search(line)]
    assert leaks == [], f"{len(leaks)} log lines carry personal data, e.g. {mask_text(leaks[0])}"
