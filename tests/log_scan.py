"""The scan for personal data in logs: one rule, used by the session's scan (tests/conftest.py)
and by the tests that prove the scan sees what it must (tests/test_log_scan.py).

Deliberately not the masking code's own patterns (domain/pii.py): a hole in those must not hide
itself from the scan.
"""

from __future__ import annotations

import re
from pathlib import Path

from domain.pii import mask_text

_RAW_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_RAW_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")


def lines_with_personal_data(path: Path) -> list[str]:
    """Every line of the log file `path` that carries a raw phone or ID number."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line for line in lines if _RAW_PHONE.search(line) or _RAW_ID.search(line)]


def leak_report(path: Path, leaks: list[str]) -> str:
    """What a failed scan says: how many lines, and the first few (masked, so the report does not
    leak what it found)."""
    examples = "\n".join(mask_text(line)[:500] for line in leaks[:5])
    return f"{len(leaks)} log lines in {path} carry a raw phone or ID number, e.g.:\n{examples}"
