"""Reading clerks' files: encodings, header search, blank rows, broken files."""

from __future__ import annotations

import pytest

from domain.errors import InvalidInput
from ingest.spreadsheet import read_sheet

HEADER = "姓名,身份证号,手机号码,工作单位,居住社区\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_encodings(encoding: str) -> None:
    """UTF-8 with or without BOM and GBK/GB18030 CSVs read to the same cells."""
    sheet = read_sheet((HEADER + "张三,1,2,某单位,幸福社区\n").encode(encoding), "a.csv")
    assert sheet.header[0] == "姓名"
    assert [cells for _, cells in sheet.rows] == [["张三", "1", "2", "某单位", "幸福社区"]]


def test_header_found_below_title_rows_and_blank_rows_skipped() -> None:
    """Title rows above the header are skipped; blank rows are skipped but keep the numbering."""
    text = "某区在职党员花名册,,,,\n填报单位: 组织部,,,,\n" + HEADER + "张三,1,2,3,4\n,,,,\n\n李四,1,2,3,4\n"
    sheet = read_sheet(text.encode(), "a.csv")
    assert sheet.header_row == 3
    assert [row_no for row_no, _ in sheet.rows] == [4, 7]


def test_no_header_is_a_clear_error() -> None:
    """A file without known column names is refused with a message naming the expected columns."""
    with pytest.raises(InvalidInput) as caught:
        read_sheet(b"a,b,c\n1,2,3\n", "a.csv")
    assert "表头" in caught.value.message


def test_broken_csv_is_an_input_error() -> None:
    """A cell beyond the csv module's limit is an input error naming the row, not a crash."""
    data = (HEADER + "张三,1,2,3,4\n" + '"' + "x" * 200_000 + '",1,2,3,4\n').encode()
    with pytest.raises(InvalidInput) as caught:
        list(read_sheet(data, "a.csv").rows)
    assert "第3行" in caught.value.message


def test_old_xls_is_refused_with_advice() -> None:
    """Old binary .xls files are refused with advice to save as .xlsx or CSV."""
    with pytest.raises(InvalidInput) as caught:
        read_sheet(b"\xd0\xcf\x11\xe0" + bytes(100), "a.xls")
    assert ".xlsx" in caught.value.message
