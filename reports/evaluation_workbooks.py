"""Evaluation results as .xlsx workbooks with Chinese headers (openpyxl write-only mode, so a
city's million member rows stream to disk without holding a worksheet in memory).

Every cell goes through reports.cells.cell_value (text that would be a formula stays text).
Phone numbers are masked by the one rule for evaluation results (domain.privacy.evaluation_phone),
the same as the JSON results: a workbook travels (e-mail, USB sticks).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from domain.privacy import evaluation_phone
from domain.registration_rules import MEMBER_STATUS_LABELS
from reports.cells import cell_value
from schemas.registration import MemberRegistrationStatus


class Row(Protocol):
    """A result row by column name: an asyncpg Record or a dict."""

    def __getitem__(self, key: str, /) -> Any: ...

Column = tuple[str, Callable[[Row], Any]]


def _num(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _pct(value: Any) -> str:
    return "" if value is None else f"{float(value) * 100:.2f}%"


def _yes(value: Any) -> str:
    return "是" if value else "否"


def registration_label(status: str) -> str:
    if status == "none":
        return "未报到"
    try:
        return MEMBER_STATUS_LABELS[MemberRegistrationStatus(status)]
    except ValueError:
        return status


def _stars(value: Any) -> str:
    return "" if value is None else "★" * int(value)


# The per-unit feedback workbook 单位反馈表: a unit's members' records.
UNIT_FEEDBACK_COLUMNS: list[Column] = [
    ("姓名", lambda r: r["name"]),
    ("手机号码", lambda r: evaluation_phone(r["phone"]) or ""),
    ("报到状态", lambda r: registration_label(r["registration_status"])),
    ("服务次数", lambda r: r["services"]),
    ("服务时长(小时)", lambda r: _num(r["hours"])),
    ("积分", lambda r: _num(r["evaluation_points"])),
    ("平均评价", lambda r: _num(r["avg_rating"]) if r["avg_rating"] is not None else ""),
    ("是否达标", lambda r: _yes(r["quota_met"])),
    ("等次", lambda r: r["grade"]),
]

MEMBER_COLUMNS: list[Column] = [
    ("党员编号", lambda r: r["member_id"]),
    *UNIT_FEEDBACK_COLUMNS[:1],
    ("单位编号", lambda r: r["unit_id"]),
    ("居住社区编号", lambda r: r["community_id"]),
    *UNIT_FEEDBACK_COLUMNS[1:],
    ("综合得分", lambda r: _num(r["score"])),
]

# Columns more than one level's table shows, each defined once.
_RANK: Column = ("排名", lambda r: r["rank"])
_MEMBERS: Column = ("党员人数", lambda r: r["members"])
_REGISTERED: Column = ("已报到人数", lambda r: r["registered"])
_REGISTRATION_RATE: Column = ("报到率", lambda r: _pct(r["registration_rate"]))
_NEEDS: Column = ("需求数", lambda r: r["needs"])
_STARS: Column = ("星级", lambda r: _stars(r["stars"]))
_NEED_RATES: list[Column] = [
    ("响应率", lambda r: _pct(r["response_rate"])),
    ("解决率", lambda r: _pct(r["resolution_rate"])),
    ("满意率", lambda r: _pct(r["satisfaction_rate"])),
]
_COVERAGE: list[Column] = [
    ("网格数", lambda r: r["grids"]),
    ("支部覆盖率", lambda r: _pct(r["branch_coverage"])),
    ("党员覆盖率", lambda r: _pct(r["member_coverage"])),
    _STARS,
]


def _by_rank(name_label: str, *columns: Column) -> list[Column]:
    """A unit's or a community's table: rank, name, members and registered lead, then `columns`."""
    return [_RANK, (name_label, lambda r: r["name"]), _MEMBERS, _REGISTERED, *columns]


UNIT_COLUMNS: list[Column] = _by_rank(
    "单位名称",
    _REGISTRATION_RATE,
    ("达标人数", lambda r: r["quota_met"]),
    ("完成率", lambda r: _pct(r["completion_rate"])),
    ("人均服务次数", lambda r: _num(r["services_per_member"])),
    ("评优资格", lambda r: "有" if r["eligible"] else "无(报到率或完成率低于标准)"),
    ("等次", lambda r: r["grade"]),
    _STARS,
)

COMMUNITY_COLUMNS: list[Column] = _by_rank(
    "社区",
    _NEEDS,
    *_NEED_RATES,
    ("平均响应时长(小时)", lambda r: _num(r["avg_hours_to_respond"]) if r["avg_hours_to_respond"] is not None else ""),
    *_COVERAGE,
)

AREA_COLUMNS: list[Column] = [
    _RANK,
    ("区域", lambda r: r["name"]),
    ("社区数", lambda r: r["communities"]),
    _MEMBERS,
    _REGISTRATION_RATE,
    _NEEDS,
    *_NEED_RATES,
    *_COVERAGE,
]


class WorkbookStream:
    """A one-sheet write-only workbook filled chunk by chunk (pages of rows from the database):
    a caption line, the header, then the rows."""

    def __init__(self, *, title: str, caption: str, columns: list[Column]) -> None:
        self._columns = columns
        self._wb = Workbook(write_only=True)
        self._ws = self._wb.create_sheet(title=title[:31])
        bold = Font(bold=True)
        caption_cell = WriteOnlyCell(self._ws, value=cell_value(caption))
        caption_cell.font = bold
        self._ws.append([caption_cell])
        header = []
        for name, _ in columns:
            cell = WriteOnlyCell(self._ws, value=name)
            cell.font = bold
            header.append(cell)
        self._ws.append(header)
        self.rows = 0

    def append(self, rows: Iterable[Row]) -> None:
        for row in rows:
            # every value through the one cell rule: a name like =HYPERLINK(...) stays text
            self._ws.append([cell_value(get(row)) for _, get in self._columns])
            self.rows += 1

    def save(self, target: Path | BinaryIO) -> None:
        self._wb.save(target)

    def to_bytes(self) -> bytes:
        buffer = BytesIO()
        self._wb.save(buffer)
        return buffer.getvalue()


def write_workbook(
    target: Path | BinaryIO, *, title: str, caption: str, columns: list[Column], rows: Iterable[Row]
) -> int:
    """All `rows` into a workbook at `target`; the number of data rows."""
    stream = WorkbookStream(title=title, caption=caption, columns=columns)
    stream.append(rows)
    stream.save(target)
    return stream.rows
