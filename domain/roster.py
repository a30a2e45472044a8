"""Roster rules: how a clerk's spreadsheet cells become clean values, or a message saying why not.

Pure: no I/O. Cells arrive as the spreadsheet reader produced them (str, int, float, datetime,
None). Everything here is on the hot path of a 1,000,000-row import, so the per-cell work is
kept to precompiled regexes, `str.isascii()` fast paths and small memo dicts.

Messages are Chinese and name what the clerk should do; the caller attaches row and column.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from operator import mul

from schemas.roster import RosterKind

# ---------------------------------------------------------------------------------------------
# Text normalisation
# ---------------------------------------------------------------------------------------------

# Full-width ASCII (！..～) to half-width, and the ideographic space to a plain space.
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20
# Characters that are invisible in a spreadsheet cell but break equality.
_INVISIBLE = "\u00a0\u200b\u200c\u200d\u2060\ufeff\u3000\t\r\n "
_INVISIBLE_RE = re.compile("[\u00a0\u200b\u200c\u200d\u2060\ufeff\u3000\\s]+")
_ID_SPACE_RE = re.compile("[\u00a0\u200b\u200c\u200d\u2060\ufeff\u3000\\s\\-]+")


def clean_text(value: object) -> str:
    """A cell as text: full-width ASCII made half-width, invisible characters trimmed."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    if not value.isascii():
        value = value.translate(_FULLWIDTH)
    if "\x00" in value:
        # NUL: invisible in a cell (an .xlsx can spell it _x0000_) and not storable in Postgres
        value = value.replace("\x00", "")
    return value.strip(_INVISIBLE)


_NAME_MEMO: dict[object, str] = {}


def clean_name(value: object) -> str:
    """A name of a person or place: also removes spaces inside (clerks pad 2-character names)."""
    # place and unit names repeat on every row of a roster: remember the cleaned form
    known = _NAME_MEMO.get(value)
    if known is not None:
        return known
    text = _clean_name(value)
    if len(_NAME_MEMO) < 200_000 and isinstance(value, str):
        _NAME_MEMO[value] = text
    return text


def _clean_name(value: object) -> str:
    text = clean_text(value)
    if not text.isascii() and _INVISIBLE_RE.search(text):
        text = _INVISIBLE_RE.sub("", text)
    elif " " in text:
        text = " ".join(text.split())
    return text


# ---------------------------------------------------------------------------------------------
# Headers
# ---------------------------------------------------------------------------------------------

_HEADER_NOISE_RE = re.compile(r"[\s*＊:：]+|[(（\[【].*?[)）\]】]")

# canonical key -> accepted header spellings, per kind. A spelling means different things in
# different kinds (联系电话 is the member's phone in a member roster, the contact's in a unit list).
_ALIASES: dict[RosterKind, dict[str, tuple[str, ...]]] = {
    RosterKind.hierarchy: {
        "district": ("区", "区县", "所属区", "所在区", "区名称", "区(县)"),
        "subdistrict": ("街道", "街道办", "街道办事处", "所属街道", "所在街道", "街道(乡镇)", "乡镇街道", "街道名称"),
        "community": ("社区", "社区名称", "所属社区", "所在社区", "社区(村)"),
        "grid": ("网格", "网格名称", "所在网格", "网格(小区)", "小区"),
        "branch": ("网格党支部", "党支部", "支部名称", "网格党组织"),
        "adjacent": ("相邻网格", "邻近网格", "相邻网格名称", "毗邻网格"),
    },
    RosterKind.units: {
        "unit_name": ("单位名称", "单位全称", "报到单位", "单位"),
        "party_org": ("单位党组织", "党组织", "党组织名称", "单位党组织名称"),
        "unit_kind": ("单位类型", "单位性质", "类型"),
        "community": ("所在社区", "社区", "报到社区", "所属社区"),
        "subdistrict": ("街道", "所在街道", "所属街道", "街道办事处"),
        "district": ("区", "所在区", "所属区", "区县"),
        "contact_name": ("联系人", "联系人姓名", "负责人"),
        "contact_phone": ("联系电话", "联系人电话", "电话", "手机", "手机号", "手机号码", "联系方式"),
    },
    RosterKind.members: {
        "name": ("姓名", "党员姓名"),
        "gender": ("性别",),
        "phone": ("手机号码", "手机", "手机号", "联系电话", "电话", "联系方式", "移动电话"),
        "id_number": ("身份证号", "身份证", "身份证号码", "公民身份号码", "公民身份证号", "证件号码"),
        "unit": ("工作单位", "单位", "所在单位", "单位名称", "报到单位"),
        "community": ("居住社区", "社区", "报到社区", "所在社区", "居住地社区"),
        "subdistrict": ("街道", "居住街道", "所在街道", "所属街道"),
        "district": ("区", "居住区", "所在区", "区县"),
        "grid": ("所在网格", "网格", "居住网格", "网格名称", "小区"),
        "skills": ("特长", "技能", "专长", "个人特长"),
        "free_time": ("可服务时间", "服务时间", "空闲时间", "可参加活动时间"),
        "birth_date": ("出生日期", "出生年月"),
        "join_date": ("入党日期", "入党时间"),
    },
}

REQUIRED: dict[RosterKind, tuple[str, ...]] = {
    RosterKind.hierarchy: ("district", "subdistrict", "community", "grid"),
    RosterKind.units: ("unit_name", "party_org", "community"),
    RosterKind.members: ("name", "id_number", "phone", "unit", "community"),
}

# Chinese names of the canonical columns, for "missing column" messages.
COLUMN_TITLES: dict[str, str] = {
    "district": "区", "subdistrict": "街道", "community": "社区", "grid": "网格", "branch": "网格党支部",
    "adjacent": "相邻网格", "unit_name": "单位名称", "party_org": "单位党组织", "unit_kind": "单位类型",
    "contact_name": "联系人", "contact_phone": "联系电话", "name": "姓名", "gender": "性别",
    "phone": "手机号码", "id_number": "身份证号", "unit": "工作单位", "skills": "特长",
    "free_time": "可服务时间", "birth_date": "出生日期", "join_date": "入党日期",
}

_ALIAS_INDEX: dict[RosterKind, dict[str, str]] = {
    kind: {spelling: key for key, spellings in table.items() for spelling in spellings}
    for kind, table in _ALIASES.items()
}


def normalise_header(value: object) -> str:
    """A header cell as compared with the aliases: no spaces, no `*`, no (notes)."""
    return _HEADER_NOISE_RE.sub("", clean_text(value))


def map_headers(kind: RosterKind, cells: Sequence[object]) -> dict[str, int]:
    """canonical key -> column index, for the header cells this kind recognises (first wins)."""
    index = _ALIAS_INDEX[kind]
    mapped: dict[str, int] = {}
    for position, cell in enumerate(cells):
        key = index.get(normalise_header(cell))
        if key is not None and key not in mapped:
            mapped[key] = position
    return mapped


def detect_kind(cells: Sequence[object]) -> RosterKind | None:
    """The kind whose required columns this header row has; members first (the most specific)."""
    for kind in (RosterKind.members, RosterKind.units, RosterKind.hierarchy):
        mapped = map_headers(kind, cells)
        if all(key in mapped for key in REQUIRED[kind]):
            return kind
    return None


def header_score(cells: Sequence[object]) -> int:
    """How many cells of a row are known column names of any kind (finds the header row)."""
    best = 0
    for kind in RosterKind:
        best = max(best, len(map_headers(kind, cells)))
    return best


# ---------------------------------------------------------------------------------------------
# Total rows
# ---------------------------------------------------------------------------------------------

# Words a clerk puts in the first filled cell of a total or subtotal row.
TOTAL_WORDS = frozenset({"合计", "小计", "总计", "共计", "总合计", "累计"})
_TOTAL_WORD_NOISE_RE = re.compile(r"[\s:：]+")
# A cell that counts people: 共5人, 共 5 人, 合计5人, 计12名
_HEADCOUNT_RE = re.compile(r"^(?:共|合计|总计|小计|共计)?\s*[:：]?\s*\d+\s*(?:人|名)$")


def _is_total_word(cell: object) -> bool:
    return isinstance(cell, str) and _TOTAL_WORD_NOISE_RE.sub("", clean_text(cell)) in TOTAL_WORDS


def _is_headcount(cell: object) -> bool:
    return isinstance(cell, str) and ("人" in cell or "名" in cell) and bool(_HEADCOUNT_RE.match(clean_text(cell)))


def is_total_row(cells: Sequence[object]) -> bool:
    """A total or subtotal row, not a record: 合计/小计/总计 in its first filled cell, or a cell
    counting people (共5人). Such rows are skipped by the import, and the result lists them."""
    for cell in cells:
        if cell is None or (isinstance(cell, str) and not clean_text(cell)):
            continue
        if _is_total_word(cell):
            return True
        break
    return any(_is_headcount(cell) for cell in cells)


# ---------------------------------------------------------------------------------------------
# Identity numbers (GB 11643), phones, gender, dates
# ---------------------------------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$", re.ASCII)
_SCIENTIFIC_RE = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$", re.ASCII)
_FLOAT_INT_RE = re.compile(r"^(\d+)\.0+$", re.ASCII)
_PHONE_RE = re.compile(r"^1[3-9]\d{9}$", re.ASCII)
_PHONE_PREFIX_RE = re.compile(r"^(\+?86)")
_PHONE_NOISE_RE = re.compile(r"[\s\-\u00a0\u200b()（）]+")

SCIENTIFIC_ID_MESSAGE = (
    "身份证号被表格保存成了数值/科学计数法 ({shown}), 后几位已经丢失, 无法还原: "
    "请把该列设置为「文本」格式后重新录入完整的18位号码"
)


_ID_WEIGHT_OFFSET = 48 * sum(_ID_WEIGHTS)


def id_check_digit(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    # bytes iterate as code points: sum(w * (code - 48)) without a Python-level loop
    total = sum(map(mul, first17.encode("ascii"), _ID_WEIGHTS)) - _ID_WEIGHT_OFFSET
    return _ID_CHECK[total % 11]


def parse_id_number(value: object) -> tuple[str, str | None]:
    """(normalised ID number, error message or None). Never guesses lost digits."""
    if type(value) is str and len(value) == 18 and _ID_RE.match(value):
        return _check_id(value, from_number=False)   # the common, clean case
    if isinstance(value, float):
        # a float cannot hold 18 digits: Excel kept 15 significant ones at most
        return "", SCIENTIFIC_ID_MESSAGE.format(shown=f"{value:.6g}")
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
        from_number = True
    else:
        text = clean_text(value)
        from_number = False
        if not text.isascii():
            text = text.translate(_FULLWIDTH)
        if " " in text or "-" in text or not text.isascii():
            text = _ID_SPACE_RE.sub("", text)
        if _SCIENTIFIC_RE.match(text):
            return "", SCIENTIFIC_ID_MESSAGE.format(shown=text)
        float_int = _FLOAT_INT_RE.match(text)
        if float_int:
            text = float_int.group(1)
            from_number = True
        text = text.upper()
    if not text:
        return "", "身份证号不能为空"
    if len(text) == 15 and text.isdigit():
        return "", "这是15位旧身份证号: 请填写18位公民身份号码"
    if len(text) != 18:
        return "", f"身份证号应为18位, 这里是{len(text)}位: 请核对后重新填写"
    if not _ID_RE.match(text):
        return "", "身份证号只能是17位数字加最后一位数字或X: 请核对后重新填写"
    return _check_id(text, from_number=from_number)


def _check_id(text: str, *, from_number: bool) -> tuple[str, str | None]:
    month = text[10:12]
    day = text[12:14]
    if not ("01" <= month <= "12" and "01" <= day <= "31"):
        return "", "身份证号中的出生日期不存在: 请核对后重新填写"
    if id_check_digit(text[:17]) != text[17]:
        if from_number:
            return "", (
                "身份证号校验码不符: 该单元格是数值格式, 后几位可能已被表格改动; "
                "请把该列设置为「文本」格式后重新录入完整号码"
            )
        return "", "身份证号校验码不符 (某一位填错了): 请对照身份证逐位核对"
    return text, None


def parse_phone(value: object) -> tuple[str, str | None]:
    """(11-digit mainland mobile, error or None). Accepts floats like 13800138000.0 and +86."""
    if type(value) is str and len(value) == 11 and _PHONE_RE.match(value):
        return value, None   # the common, clean case
    if isinstance(value, float):
        if value.is_integer():
            value = int(value)
        else:
            return "", "手机号码应为11位数字: 请核对后重新填写"
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    else:
        text = clean_text(value)
        if not _PHONE_RE.match(text):
            text = _PHONE_NOISE_RE.sub("", text)
            float_int = _FLOAT_INT_RE.match(text)
            if float_int:
                text = float_int.group(1)
            if len(text) > 11:
                text = _PHONE_PREFIX_RE.sub("", text)
    if not text:
        return "", "手机号码不能为空"
    if not _PHONE_RE.match(text):
        return "", f"手机号码「{mask_middle(text)}」不是有效的11位手机号 (1开头, 第二位3-9): 请核对后重新填写"
    return text, None


def mask_middle(text: str) -> str:
    """Keep a bad value recognisable in a report without spelling it out in full."""
    if len(text) <= 7:
        return text
    return text[:3] + "*" * (len(text) - 7) + text[-4:]


_GENDERS = {"男": "男", "女": "女", "男性": "男", "女性": "女", "M": "男", "F": "女", "m": "男", "f": "女"}


def parse_gender(value: object) -> tuple[str | None, str | None]:
    text = clean_name(value)
    if not text:
        return None, None
    gender = _GENDERS.get(text)
    if gender is None:
        return None, f"性别「{text}」无法识别: 请填写「男」或「女」"
    return gender, None


def gender_from_id(id_number: str) -> str:
    """GB 11643: the 17th digit is odd for men, even for women."""
    return "男" if (ord(id_number[16]) - 48) % 2 else "女"


_EXCEL_EPOCH = date(1899, 12, 30)
_DATE_RE = re.compile(r"^(\d{4})[-/.年](\d{1,2})(?:[-/.月](\d{1,2})日?)?$")
_COMPACT_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def parse_date(value: object) -> tuple[date | None, str | None]:
    """A date cell: a real date, an Excel serial number (1900 system), or 1990-01-31 / 1990年1月."""
    if value is None:
        return None, None
    if isinstance(value, datetime):
        return value.date(), None
    if isinstance(value, date):
        return value, None
    serial: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        serial = float(value)
    else:
        text = clean_text(value)
        if not text:
            return None, None
        match = _DATE_RE.match(text) or _COMPACT_DATE_RE.match(text)
        if match:
            try:
                return date(int(match.group(1)), int(match.group(2)), int(match.group(3) or 1)), None
            except ValueError:
                return None, f"日期「{text}」不存在: 请按 1990-01-31 的格式填写"
        try:
            serial = float(text)
        except ValueError:
            return None, f"日期「{text}」无法识别: 请按 1990-01-31 的格式填写"
    if not 1 <= serial < 2958466:
        return None, f"日期「{value}」无法识别: 请按 1990-01-31 的格式填写"
    return _EXCEL_EPOCH + timedelta(days=int(serial)), None


# ---------------------------------------------------------------------------------------------
# Free time and skills
# ---------------------------------------------------------------------------------------------

_DAY_CHARS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6,
              "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
_PARTS: dict[str, tuple[int, ...]] = {
    "上午": (0,), "早上": (0,), "早晨": (0,), "中午": (1,), "下午": (1,), "晚上": (2,), "晚间": (2,),
    "夜间": (2,), "傍晚": (2,), "晚": (2,), "全天": (0, 1, 2), "整天": (0, 1, 2), "白天": (0, 1),
    "全日": (0, 1, 2),
}
_ALL_DAYS = (0, 1, 2, 3, 4, 5, 6)
_DAY_WORDS: dict[str, tuple[int, ...]] = {
    "工作日": (0, 1, 2, 3, 4), "周末": (5, 6), "双休日": (5, 6), "节假日": (5, 6), "每天": _ALL_DAYS,
    "每日": _ALL_DAYS, "天天": _ALL_DAYS, "全周": _ALL_DAYS, "周一至周日": _ALL_DAYS,
}
_ANYTIME = {"不限", "随时", "均可", "都可以", "任意时间", "全部"}
_DAY = "[一二三四五六日天七1-7]"
_PIECE_RE = re.compile(
    rf"(?P<range>(?:周|星期|礼拜)({_DAY})\s*(?:至|到|-|~|—|－|～)\s*(?:周|星期|礼拜)?({_DAY}))"
    rf"|(?P<days>(?:周|星期|礼拜)((?:{_DAY})+))"
    r"|(?P<word>" + "|".join(sorted(_DAY_WORDS, key=len, reverse=True)) + ")"
    r"|(?P<part>" + "|".join(sorted(_PARTS, key=len, reverse=True)) + ")"
    r"|(?P<gap>[\s和及与+＋&]+)"
)
_TOKEN_SPLIT_RE = re.compile(r"[、,，;；/／|\n]+")
_SKILL_SPLIT_RE = re.compile(r"[、,，;；/／\s\u3000]+")

_FREE_TIME_MEMO: dict[str, tuple[tuple[int, ...], bool]] = {}
_SKILLS_MEMO: dict[str, list[str]] = {}


def _parse_free_token(token: str) -> set[int] | None:
    days: set[int] = set()
    parts: set[int] = set()
    position = 0
    for match in _PIECE_RE.finditer(token):
        if match.start() != position:
            return None
        position = match.end()
        kind = match.lastgroup
        if kind == "range":
            start, end = _DAY_CHARS[match.group(2)], _DAY_CHARS[match.group(3)]
            if end < start:
                return None
            days.update(range(start, end + 1))
        elif kind == "days":
            days.update(_DAY_CHARS[char] for char in match.group(5))
        elif kind == "word":
            days.update(_DAY_WORDS[match.group("word")])
        elif kind == "part":
            parts.update(_PARTS[match.group("part")])
    if position != len(token) or not (days or parts):
        return None
    return {day * 3 + part for day in (days or _ALL_DAYS) for part in (parts or (0, 1, 2))}


def parse_free_time(value: object) -> tuple[list[int], str | None]:
    """Free-time slots (weekday*3 + part; 0 上午, 1 下午, 2 晚上), sorted; or an error message.

    Accepts 周一..周日, 星期X, 工作日, 周末, 每天, 上午/下午/晚上/全天 and combinations such as
    「周六上午、周日全天」 or 「周一至周五晚上」. A day without a part means the whole day; a part
    without a day means every day.
    """
    # the memo is keyed by the raw cell too: rosters repeat a few dozen wordings a million times
    memo = _FREE_TIME_MEMO.get(value) if type(value) is str else None
    if memo is not None and memo[1]:
        return list(memo[0]), None
    text = clean_text(value)
    if not text:
        return [], None
    memo = _FREE_TIME_MEMO.get(text)
    if memo is None:
        slots: set[int] = set()
        ok = True
        if text in _ANYTIME:
            slots = set(range(21))
        else:
            for token in _TOKEN_SPLIT_RE.split(text):
                token = token.strip()
                if not token:
                    continue
                found = _parse_free_token(token)
                if found is None:
                    ok = False
                    break
                slots |= found
        memo = (tuple(sorted(slots)), ok)
        if len(_FREE_TIME_MEMO) < 100_000:
            _FREE_TIME_MEMO[text] = memo
            if type(value) is str:
                _FREE_TIME_MEMO[value] = memo
    if not memo[1]:
        return [], (
            f"可服务时间「{text}」无法识别: 请按「周六上午、周日全天」「工作日晚上」「周末」的写法填写"
        )
    return list(memo[0]), None


def split_skills(value: object) -> list[str]:
    """Skills split on 、,，;； and spaces, duplicates dropped, order kept."""
    if type(value) is str:
        known = _SKILLS_MEMO.get(value)
        if known is not None:
            return known
    text = clean_text(value)
    if not text:
        return []
    memo = _SKILLS_MEMO.get(text)
    if memo is None:
        memo = list(dict.fromkeys(s for s in _SKILL_SPLIT_RE.split(text) if s))
        if len(_SKILLS_MEMO) < 100_000:
            _SKILLS_MEMO[text] = memo
            if type(value) is str:
                _SKILLS_MEMO[value] = memo
    return memo


def split_names(value: object) -> list[str]:
    """A list of names in one cell (相邻网格), split like skills."""
    return [clean_name(name) for name in split_skills(value)]


_UNIT_KINDS = {
    "机关": "agency", "党政机关": "agency", "机关单位": "agency", "agency": "agency",
    "企业": "enterprise", "国有企业": "enterprise", "国企": "enterprise", "民营企业": "enterprise",
    "非公企业": "enterprise", "enterprise": "enterprise",
    "事业单位": "institution", "事业": "institution", "学校": "institution", "医院": "institution",
    "institution": "institution",
}


def parse_unit_kind(value: object) -> tuple[str, str | None]:
    text = clean_name(value)
    if not text:
        return "agency", None
    kind = _UNIT_KINDS.get(text)
    if kind is None:
        return "", f"单位类型「{text}」无法识别: 请填写「机关」「企业」或「事业单位」"
    return kind, None


# ---------------------------------------------------------------------------------------------
# Member rows
# ---------------------------------------------------------------------------------------------

# What a good member row becomes, exactly as the import stages it (no second copy per row):
# row_no, name, gender, phone, id_number, unit_name, community_name, subdistrict_name,
# district_name, grid_name ('' when not given: the staging joins hash on it, unlike NULL),
# skills joined by SKILL_SEPARATOR, free slots joined by ",".
MemberRecord = tuple[int, str, str | None, str, str, str, str, str, str, str, str, str]

# \x1f (unit separator) counts as whitespace (str.isspace), so split_skills never leaves it
# inside a skill: joining on it and splitting again gives the same list.
SKILL_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class CellError:
    """One bad cell: spreadsheet row (1-based, as the clerk sees it), canonical column, message."""

    row: int
    column: str
    message: str


class MemberRowParser:
    """Validates member rows of one file: columns located once, one call per row."""

    def __init__(self, columns: dict[str, int]) -> None:
        self.columns = columns
        # a missing column reads the sentinel slot appended after the last real one
        self.width = max(columns.values(), default=-1) + 1
        sentinel = self.width
        self.at = {key: columns.get(key, sentinel) for key in COLUMN_TITLES}
        self.seen_ids: dict[str, int] = {}
        # skills and free-time cells repeat a few dozen wordings: join each wording once
        self.skills_text: dict[object, str] = {}
        self.slots_text: dict[object, str] = {}

    def parse(self, row_no: int, cells: Sequence[object]) -> tuple[MemberRecord | None, list[CellError]]:
        at = self.at
        width = self.width
        if len(cells) > width:
            cells = cells[:width]
        cells = [*cells, *([None] * (width + 1 - len(cells)))]
        errors: list[CellError] = []

        name = clean_name(cells[at["name"]])
        if not name:
            errors.append(CellError(row_no, "name", "姓名不能为空"))
        id_number, id_error = parse_id_number(cells[at["id_number"]])
        if id_error is not None:
            errors.append(CellError(row_no, "id_number", id_error))
        else:
            first = self.seen_ids.get(id_number)
            if first is not None:
                errors.append(CellError(
                    row_no, "id_number", f"与第{first}行的身份证号重复: 同一人只能出现一次, 请删除重复的行"
                ))
            else:
                self.seen_ids[id_number] = row_no
        phone, phone_error = parse_phone(cells[at["phone"]])
        if phone_error is not None:
            errors.append(CellError(row_no, "phone", phone_error))
        gender, gender_error = parse_gender(cells[at["gender"]])
        if gender_error is not None:
            errors.append(CellError(row_no, "gender", gender_error))
        elif id_error is None:
            from_id = gender_from_id(id_number)
            if gender is None:
                gender = from_id
            elif gender != from_id:
                errors.append(CellError(
                    row_no, "gender", f"性别「{gender}」与身份证号不一致 (按身份证号应为「{from_id}」): 请核对"
                ))
        born_cell = cells[at["birth_date"]]
        if born_cell is not None:
            born, date_error = parse_date(born_cell)
            if date_error is not None:
                errors.append(CellError(row_no, "birth_date", date_error))
            elif born is not None and id_error is None and born.strftime("%Y%m%d") != id_number[6:14]:
                errors.append(CellError(row_no, "birth_date", "出生日期与身份证号中的出生日期不一致: 请核对"))
        joined_cell = cells[at["join_date"]]
        if joined_cell is not None:
            _, date_error = parse_date(joined_cell)
            if date_error is not None:
                errors.append(CellError(row_no, "join_date", date_error))
        unit = clean_name(cells[at["unit"]])
        if not unit:
            errors.append(CellError(row_no, "unit", "工作单位不能为空"))
        community = clean_name(cells[at["community"]])
        if not community:
            errors.append(CellError(row_no, "community", "居住社区不能为空"))
        free_cell = cells[at["free_time"]]
        slots_text = self.slots_text.get(free_cell) if type(free_cell) is str else None
        if slots_text is None:
            slots, time_error = parse_free_time(free_cell)
            if time_error is not None:
                errors.append(CellError(row_no, "free_time", time_error))
            else:
                slots_text = ",".join(map(str, slots))
                if type(free_cell) is str and len(self.slots_text) < 100_000:
                    self.slots_text[free_cell] = slots_text
        if errors:
            return None, errors
        skills_cell = cells[at["skills"]]
        skills_text = self.skills_text.get(skills_cell) if type(skills_cell) is str else None
        if skills_text is None:
            skills_text = SKILL_SEPARATOR.join(split_skills(skills_cell))
            if type(skills_cell) is str and len(self.skills_text) < 100_000:
                self.skills_text[skills_cell] = skills_text
        assert slots_text is not None
        return (
            row_no, name, gender, phone, id_number, unit, community,
            clean_name(cells[at["subdistrict"]]), clean_name(cells[at["district"]]),
            clean_name(cells[at["grid"]]), skills_text, slots_text,
        ), errors


def missing_columns(kind: RosterKind, columns: Iterable[str]) -> list[str]:
    """Chinese titles of the required columns a header row lacks."""
    present = set(columns)
    return [COLUMN_TITLES[key] for key in REQUIRED[kind] if key not in present]
