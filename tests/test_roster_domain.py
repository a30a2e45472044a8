"""Pure roster rules: normalisation, ID numbers, phones, free time, skills, headers, dates."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from domain.roster import (
    MemberRowParser,
    clean_name,
    clean_text,
    detect_kind,
    id_check_digit,
    map_headers,
    parse_date,
    parse_free_time,
    parse_gender,
    parse_id_number,
    parse_phone,
    split_skills,
)
from schemas.roster import RosterKind

GOOD_ID = "11010519491231002X"   # the textbook example of GB 11643
MALE_ID = "110105199001011233"[:17] + id_check_digit("11010519900101123")


def test_textbook_check_digit() -> None:
    """The GB 11643 check digit of the standard's own example is X."""
    assert id_check_digit(GOOD_ID[:17]) == "X"


@pytest.mark.parametrize(
    ("cell", "expected", "error_part"),
    [
        (GOOD_ID, GOOD_ID, None),
        (GOOD_ID.lower(), GOOD_ID, None),                                      # x → X
        ("１１０１０５１９４９１２３１００２ｘ", GOOD_ID, None),                  # full-width digits and ｘ
        (f"\u00a0{GOOD_ID[:6]} {GOOD_ID[6:]}\u200b ", GOOD_ID, None),           # NBSP, spaces, zero-width
        (int(MALE_ID), MALE_ID, None),                                         # stored as a number, exact
        (f"{MALE_ID}.0", MALE_ID, None),                                       # a float rendered as text
        (1.10105199001011e17, "", "科学计数法"),                              # a float: digits lost
        ("1.10105E+17", "", "文本"),                                           # scientific notation text
        (GOOD_ID[:17] + "1", "", "校验码不符"),                                # wrong check digit
        (int(MALE_ID[:15] + "000"), "", "文本"),                               # an int whose tail Excel zeroed
        ("110105491231002", "", "15位"),
        ("1101051949123100", "", "18位"),
        ("11010519491331002X", "", "出生日期"),                               # month 13
        ("١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", "", "17位数字"),                               # other scripts' digits
        ("", "", "不能为空"),
        (None, "", "不能为空"),
    ],
)
def test_id_numbers(cell: object, expected: str, error_part: str | None) -> None:
    """ID numbers are normalised from spreadsheet forms, and lost or wrong digits are reported, not guessed."""
    value, error = parse_id_number(cell)
    assert value == expected
    if error_part is None:
        assert error is None
    else:
        assert error is not None and error_part in error


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("13800138000", "13800138000"),
        (13800138000, "13800138000"),
        (13800138000.0, "13800138000"),
        ("13800138000.0", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        (" 138-0013-8000 ", "13800138000"),
        ("+86 13800138000", "13800138000"),
        ("12800138000", None),      # second digit 2
        ("1380013800", None),       # 10 digits
        ("", None),
    ],
)
def test_phones(cell: object, expected: str | None) -> None:
    """Mainland mobiles are 11 digits 1[3-9]…; floats, full-width digits and +86 are normalised."""
    value, error = parse_phone(cell)
    if expected is None:
        assert error is not None and value == ""
    else:
        assert (value, error) == (expected, None)


@pytest.mark.parametrize(
    ("cell", "slots"),
    [
        ("周六上午、周日全天", [15, 18, 19, 20]),
        ("工作日晚上", [2, 5, 8, 11, 14]),
        ("周末", [15, 16, 17, 18, 19, 20]),
        ("每天晚上", [2, 5, 8, 11, 14, 17, 20]),
        ("星期三下午", [7]),
        ("周一至周五晚上", [2, 5, 8, 11, 14]),
        ("周六日上午", [15, 18]),
        ("周二下午，周四晚上", [4, 11]),
        ("晚上", [2, 5, 8, 11, 14, 17, 20]),
        ("周日", [18, 19, 20]),
        ("不限", list(range(21))),
        ("", []),
        (None, []),
    ],
)
def test_free_time(cell: object, slots: list[int]) -> None:
    """Free time becomes weekday*3+part slots for the usual Chinese wordings."""
    assert parse_free_time(cell) == (slots, None)


@pytest.mark.parametrize("cell", ["有空就来", "周八上午", "周五至周一", "下周"])
def test_free_time_unparseable(cell: str) -> None:
    """A free-time text that is not understood is an error quoting the text, never a guess."""
    slots, error = parse_free_time(cell)
    assert slots == [] and error is not None and cell in error


def test_skills_split() -> None:
    """Skills split on 、,，;； and spaces, duplicates dropped."""
    assert split_skills("法律咨询、医疗,心理疏导；水电维修 驾驶、医疗") == ["法律咨询", "医疗", "心理疏导", "水电维修", "驾驶"]
    assert split_skills(None) == []


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (32874, date(1990, 1, 1)),            # Excel serial
        (32874.0, date(1990, 1, 1)),
        ("32874", date(1990, 1, 1)),
        (datetime(1990, 1, 1, 0, 0), date(1990, 1, 1)),
        ("1990-01-01", date(1990, 1, 1)),
        ("1990/1/1", date(1990, 1, 1)),
        ("1990年1月1日", date(1990, 1, 1)),
        ("19900101", date(1990, 1, 1)),
        ("", None),
    ],
)
def test_dates(cell: object, expected: date | None) -> None:
    """Date cells come as Excel serials, real dates or Chinese/ISO text."""
    assert parse_date(cell) == (expected, None)


def test_bad_date() -> None:
    """An impossible date is an error with the expected format."""
    _, error = parse_date("1990-02-30")
    assert error is not None and "1990-01-31" in error


def test_names_lose_stray_spaces() -> None:
    """Names lose padding spaces, NBSP, zero-width and full-width spaces."""
    assert clean_name(" 张\u3000 三\u200b\u00a0") == "张三"
    assert clean_name("幸福社区 ") == "幸福社区"
    assert clean_name("张\x00三") == "张三" and clean_text("\x00幸福社区\x00") == "幸福社区"   # NUL: invisible, unstorable


def test_gender_words() -> None:
    """Gender accepts 男/女 (and 男性/女性); anything else is an error."""
    assert parse_gender("女性") == ("女", None)
    assert parse_gender("")[0] is None
    assert parse_gender("未知")[1] is not None


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        (["序号", "姓名", "性别", "手机号", "身份证号码", "所在单位", "报到社区", "网格", "技能", "空闲时间"], RosterKind.members),
        (["姓名 ", "公民身份号码*", "联系电话（必填）", "单位", "居住 社区"], RosterKind.members),
        (["姓名", "身份证", "手机号码（必填）", "工作单位", "社区"], RosterKind.members),
        (["单位名称", "单位党组织", "单位类型", "所在社区", "联系人", "联系电话"], RosterKind.units),
        (["区", "街道", "社区", "网格", "相邻网格"], RosterKind.hierarchy),
        (["某某", "其他"], None),
    ],
)
def test_detect_kind(header: list[str], kind: RosterKind | None) -> None:
    """The roster kind is recognised from header variants with stray spaces, `*` and (notes)."""
    assert detect_kind(header) == kind


def test_header_variants_map_to_columns() -> None:
    """Common spellings of each member column map to the same canonical key."""
    columns = map_headers(RosterKind.members, ["姓 名", "手机", "公民身份号码", "所在单位", "居住社区", "所在网格", "专长", "服务时间"])
    assert columns == {
        "name": 0, "phone": 1, "id_number": 2, "unit": 3, "community": 4, "grid": 5, "skills": 6, "free_time": 7,
    }


def test_member_row_parser_reports_every_bad_cell_and_duplicates() -> None:
    """One row can carry several errors; a repeated ID number names the first row."""
    parser = MemberRowParser({"name": 0, "gender": 1, "phone": 2, "id_number": 3, "unit": 4, "community": 5, "free_time": 6})
    record, errors = parser.parse(2, ["张三", "女", "13800138000", MALE_ID, "某单位", "某社区", "周六上午"])
    assert record is None
    assert [e.column for e in errors] == ["gender"]          # the ID says 男
    record, errors = parser.parse(3, ["李四", "", "13800138001", GOOD_ID, "某单位", "某社区", ""])
    assert record is not None and record[2] == "女"           # gender taken from the ID
    record, errors = parser.parse(4, ["", "", "123", GOOD_ID, "", "", "随便"])
    assert record is None
    assert sorted(e.column for e in errors) == sorted(["name", "id_number", "phone", "unit", "community", "free_time"])
    assert any("第3行" in e.message for e in errors)


def test_total_rows_are_recognised() -> None:
    """合计/小计/总计 in the first filled cell, or a 共N人 cell, make a total row; records do not."""
    from domain.roster import is_total_row

    assert is_total_row(["合计", "共5人"])
    assert is_total_row([None, " 小 计：", 3, 4])
    assert is_total_row(["", "总计"])
    assert is_total_row(["", "", "", "共 12 人"])
    assert is_total_row(["某社区", "共12名"])
    assert not is_total_row(["1", "张合计", "男", "13800138000"])
    assert not is_total_row(["合计人员", "x"])
    assert not is_total_row([5.0, "小计"])            # 小计 only counts in the first filled cell
    assert not is_total_row(["", "", "共建单位"])
