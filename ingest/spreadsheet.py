"""Reading a clerk's .csv or .xlsx into rows of cells with the row numbers the clerk sees.

CSV: UTF-8 (with or without BOM) or GB18030 (what Chinese Excel writes when it "saves as CSV").
XLSX: python-calamine (numbers stay numbers, dates become dates).
The header row is found among the first rows by matching known column names, so merged title
rows above it ("XX区在职党员花名册") are skipped. Blank rows are skipped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from python_calamine import CalamineError, CalamineWorkbook

from domain.errors import InvalidInput
from domain.roster import header_score

HEADER_SEARCH_ROWS = 10


@dataclass
class Sheet:
    """A table: its header cells, the header's row number and an iterator over the data rows."""

    header: list[object]
    header_row: int
    rows: Iterator[tuple[int, Sequence[object]]]
    total_rows_hint: int | None = None
    file_format: str = "csv"


def decode_csv(data: bytes) -> str:
    """The text of a CSV file: UTF-8 (BOM or not), else GB18030 (a superset of GBK)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise InvalidInput("无法识别文件编码: 请在 Excel 中另存为「CSV UTF-8」或「.xlsx」后重新导入") from exc


def _is_blank(cells: Sequence[object]) -> bool:
    for cell in cells:
        if cell is None:
            continue
        if isinstance(cell, str):
            if cell.strip(" \u00a0\u200b\u3000\ufeff\t\r\n"):
                return False
        else:
            return False
    return True


def _find_header(
    head: list[tuple[int, Sequence[object]]],
) -> tuple[int, Sequence[object]]:
    best: tuple[int, Sequence[object]] | None = None
    best_score = 1  # one matching cell is a title like "社区", not a header
    for row_no, cells in head:
        score = header_score(cells)
        if score > best_score:
            best, best_score = (row_no, cells), score
    if best is None:
        raise InvalidInput(
            f"在前{HEADER_SEARCH_ROWS}行中没有找到表头: 请确认表格含有「姓名」「身份证号」「居住社区」"
            "或「单位名称」「单位党组织」或「区」「街道」「社区」「网格」等列名"
        )
    return best


def _table(numbered: Iterator[tuple[int, Sequence[object]]]) -> tuple[int, Sequence[object], list[
        tuple[int, Sequence[object]]]]:
    head: list[tuple[int, Sequence[object]]] = []
    for row_no, cells in numbered:
        head.append((row_no, cells))
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    header_row, header = _find_header(head)
    after = [(n, c) for n, c in head if n > header_row]
    return header_row, header, after


def _data_rows(
    after: list[tuple[int, Sequence[object]]], rest: Iterator[tuple[int, Sequence[object]]]
) -> Iterator[tuple[int, Sequence[object]]]:
    for row_no, cells in after:
        if not _is_blank(cells):
            yield row_no, cells
    for row_no, cells in rest:
        # fast path: a first cell with visible text means the row is not blank
        first = cells[0] if cells else None
        if (isinstance(first, str) and first and not first.isspace()) or not _is_blank(cells):
            yield row_no, cells


def _csv_records(text: str) -> Iterator[tuple[int, Sequence[object]]]:
    reader = csv.reader(io.StringIO(text))
    row_no = 0
    try:
        for row_no, cells in enumerate(reader, start=1):
            yield row_no, cells
    except csv.Error as exc:
        # NUL bytes, an unterminated quote, a giant cell: not a table a clerk could have saved
        raise InvalidInput(
            f"CSV 文件第{row_no + 1}行无法读取 (格式损坏或不是表格文件): 请在 Excel 中重新另存为 CSV 或 .xlsx"
        ) from exc


def read_csv(data: bytes) -> Sheet:
    text = decode_csv(data)
    numbered = _csv_records(text)
    header_row, header, after = _table(numbered)
    total = text.count("\n") + (0 if text.endswith("\n") else 1)
    return Sheet(
        header=list(header), header_row=header_row, rows=_data_rows(after, numbered),
        total_rows_hint=max(total - header_row, 0), file_format="csv",
    )


def read_xlsx(data: bytes) -> Sheet:
    """The first sheet of an .xlsx, via calamine (Rust; ~10x openpyxl's read-only mode).

    Numbers arrive as floats (13800138000.0; an ID number typed as a number is already lossy
    in the file, and is reported as such), date cells as dates, empty cells as "". Rows are
    yielded from A1, so the enumeration is the row number the clerk sees.
    """
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheet = workbook.get_sheet_by_index(0)
    except CalamineError as exc:
        raise InvalidInput("无法打开该 .xlsx 文件: 请确认文件没有损坏、没有设置密码, 或在 Excel 中重新另存为 .xlsx") from exc
    numbered: Iterator[tuple[int, Sequence[object]]] = enumerate(sheet.iter_rows(), start=1)
    header_row, header, after = _table(numbered)
    return Sheet(
        header=list(header), header_row=header_row, rows=_data_rows(after, numbered),
        total_rows_hint=max(sheet.total_height - header_row, 0), file_format="xlsx",
    )


def read_sheet(data: bytes, file_name: str) -> Sheet:
    """The first sheet of an .xlsx, or a .csv; the format comes from the content, then the name."""
    if data[:4] == b"PK\x03\x04":
        return read_xlsx(data)
    suffix = Path(file_name).suffix.lower()
    if suffix in {".xls", ".et"}:
        raise InvalidInput("不支持旧版 .xls 文件: 请在 Excel 中另存为 .xlsx 或 CSV 后重新导入")
    return read_csv(data)
