"""A value as a spreadsheet cell: the one rule every .xlsx and .csv writer applies to its cells.

Text that a spreadsheet program would read as a formula is stored as text instead (OWASP, "CSV
Injection"): a cell starting with = + - @, a tab or a carriage return (and their full-width forms,
which some spreadsheet programs also accept) gets a leading apostrophe, so a member named
`=HYPERLINK(...)` shows as that text and never becomes a live formula or link. Characters that
an .xlsx cannot hold (control characters other than tab, newline and carriage return) are dropped
rather than failing the whole export. Numbers, dates and None pass unchanged.
"""

from __future__ import annotations

import re
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def cell_value(value: Any) -> Any:
    """`value` as it may be written to a cell: text neutralised, everything else unchanged."""
    if not isinstance(value, str):
        return value
    if _ILLEGAL_XML.search(value):
        value = _ILLEGAL_XML.sub("", value)
    if value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def row_values(values: list[Any]) -> list[Any]:
    """A row of cells, each through `cell_value`."""
    return [cell_value(v) for v in values]
