"""Roster import against the real Postgres: all-or-nothing, every bad row reported, idempotent.

Imports commit (the use case owns its transaction), so every test builds its own small city with
unique names and its own ID-number region, and counts only its own rows.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import datetime

import asyncpg
import pytest
from openpyxl import Workbook

from bench.import_roster import (
    MEMBER_HEADER,
    SyntheticCity,
    hierarchy_csv,
    member_rows,
    synthetic_city,
    units_csv,
)
from db import member as member_db
from db.pool import Conn, Pool
from db.registration_cohort import create_cohort
from domain.errors import Forbidden
from domain.roster import MemberRowParser, map_headers
from schemas.auth import SYSTEM_ACTOR, Actor, Role, ScopeKind
from schemas.roster import RosterKind
from services.roster_import import RosterInvalid, import_roster
from tests.conftest import unique


async def _city(pool: Pool, **sizes: int) -> SyntheticCity:
    city = synthetic_city(unique("测"), **sizes)
    await import_roster(pool, hierarchy_csv(city), actor=SYSTEM_ACTOR, file_name="hierarchy.csv")
    await import_roster(pool, units_csv(city), actor=SYSTEM_ACTOR, file_name="units.csv")
    return city


def _csv(rows: list[list[object]], header: tuple[str, ...] = MEMBER_HEADER, *, before: list[list[str]] | None = None,
         encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for line in before or []:
        writer.writerow(line)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


async def _counts(pool: Pool, city: SyntheticCity) -> tuple[int, int, int, int]:
    """(members, registrations, registration events, cohorts) belonging to this city's units."""
    row = await pool.fetchrow(
        """
        WITH m AS (
            SELECT m.id FROM member m JOIN reporting_unit u ON u.id = m.unit_id WHERE u.name = ANY($1::text[])
        ), r AS (SELECT r.id, r.cohort_id FROM member_registration r JOIN m ON m.id = r.member_id)
        SELECT (SELECT count(*) FROM m) AS members, (SELECT count(*) FROM r) AS registrations,
               (SELECT count(*) FROM registration_event e JOIN r ON r.id = e.registration_id
                 WHERE e.registration_kind = 'member') AS events,
               (SELECT count(DISTINCT cohort_id) FROM r) AS cohorts
        """,
        city.units,
    )
    assert row is not None
    return row["members"], row["registrations"], row["events"], row["cohorts"]


def _rows(city: SyntheticCity, count: int) -> list[list[object]]:
    return [list(r) for r in member_rows(city, count, seed=random.randrange(1 << 30))]


async def test_ten_thousand_rows_one_bad_then_fixed_then_again(pool: Pool) -> None:
    """A 10,000-row roster with one bad row imports nothing and names it; fixed it imports; again it changes nothing."""
    city = await _city(pool)
    rows = _rows(city, 10_000)
    good_id = rows[5000][4]
    assert isinstance(good_id, str)
    rows[5000][4] = good_id[:17] + ("0" if good_id[17] != "0" else "1")   # a wrong check digit
    with pytest.raises(RosterInvalid) as caught:
        await import_roster(pool, _csv(rows), actor=SYSTEM_ACTOR, file_name="党员.csv")
    errors = caught.value.errors
    assert [(e.row, e.column) for e in errors] == [(5002, "身份证号")]   # header is row 1
    assert "校验码" in errors[0].message
    assert await _counts(pool, city) == (0, 0, 0, 0)

    rows[5000][4] = good_id
    data = _csv(rows)
    seen: list[tuple[int, int | None]] = []
    result = await import_roster(
        pool, data, actor=SYSTEM_ACTOR, file_name="党员.csv", progress=lambda done, total: seen.append((done, total))
    )
    assert (result.rows, result.inserted, result.registrations) == (10_000, 10_000, 10_000)
    assert seen[-1] == (10_000, 10_000)                   # the progress bar reaches its total
    assert result.cohort_id is not None and not result.already_imported
    counts = await _counts(pool, city)
    assert counts == (10_000, 10_000, 10_000, 1)
    cohort = await pool.fetchrow("SELECT source, size FROM registration_cohort WHERE id = $1", result.cohort_id)
    assert cohort is not None and (cohort["source"], cohort["size"]) == ("import", 10_000)

    again = await import_roster(pool, data, actor=SYSTEM_ACTOR, file_name="党员.csv")
    assert (again.inserted, again.registrations, again.unchanged) == (0, 0, 10_000)
    assert again.cohort_id is None and again.already_imported
    assert await _counts(pool, city) == counts
    batches = await pool.fetchval("SELECT count(*) FROM import_batch WHERE file_sha256 = $1", result.file_sha256)
    assert batches == 1


async def test_registration_carries_home_community_and_proposed_grid(pool: Pool) -> None:
    """Each imported member gets one submitted registration in the home community with the home grid proposed."""
    city = await _city(pool, districts=1, subdistricts=1, communities=2, grids=2, units=2)
    rows = _rows(city, 4)
    result = await import_roster(pool, _csv(rows), actor=SYSTEM_ACTOR, file_name="m.csv")
    found = await pool.fetch(
        """
        SELECT m.name, m.home_community_id = r.community_id AS same_community, m.home_grid_id = r.grid_id AS same_grid,
               r.status, r.cohort_id, g.name AS grid_name, c.name AS community_name, m.skills, m.free_slots,
               e.to_status, e.actor, m.id_number
        FROM member m JOIN member_registration r ON r.member_id = m.id
        JOIN grid g ON g.id = m.home_grid_id JOIN community c ON c.id = m.home_community_id
        JOIN registration_event e ON e.registration_kind = 'member' AND e.registration_id = r.id
        WHERE r.cohort_id = $1 ORDER BY m.id
        """,
        result.cohort_id,
    )
    assert len(found) == 4
    by_id = {line["id_number"]: line for line in found}
    for row in rows:
        line = by_id[row[4]]
        assert line["same_community"] and line["same_grid"] and line["status"] == "submitted"
        assert (line["community_name"], line["grid_name"]) == (row[7], row[8])
        assert line["to_status"] == "submitted" and line["actor"] == SYSTEM_ACTOR.audit_name


async def test_every_bad_row_is_reported(pool: Pool) -> None:
    """Three bad rows (a cell error, an unknown unit, a grid of another community) give three errors, nothing imported."""
    city = await _city(pool, districts=1, subdistricts=1, communities=2, grids=2, units=2)
    rows = _rows(city, 6)
    rows[1][3] = "1380013800"                      # 10-digit phone (row 3)
    rows[3][5] = "不存在的单位"                     # unknown unit (row 5)
    rows[4][8] = "99号网格"                         # unknown grid (row 6)
    with pytest.raises(RosterInvalid) as caught:
        await import_roster(pool, _csv(rows), actor=SYSTEM_ACTOR, file_name="m.csv")
    errors = caught.value.errors
    assert [(e.row, e.column) for e in errors] == [(3, "手机号码"), (5, "工作单位"), (6, "所在网格")]
    assert "不存在的单位" in errors[1].message and "--kind units" in errors[1].message
    assert "99号网格" in errors[2].message
    assert await _counts(pool, city) == (0, 0, 0, 0)


async def test_same_person_with_different_data_is_an_error(pool: Pool) -> None:
    """A registered ID number with the same data is unchanged; with different data it is an error naming the row."""
    city = await _city(pool, districts=1, subdistricts=1, communities=1, grids=2, units=2)
    rows = _rows(city, 3)
    await import_roster(pool, _csv(rows), actor=SYSTEM_ACTOR, file_name="first.csv")
    changed = [list(r) for r in rows]
    changed[2][3] = "13999999999"
    with pytest.raises(RosterInvalid) as caught:
        await import_roster(pool, _csv(changed), actor=SYSTEM_ACTOR, file_name="second.csv")
    assert [(e.row, e.column) for e in caught.value.errors] == [(4, "身份证号")]
    assert "已经登记" in caught.value.errors[0].message
    # same rows under another file name: nothing new, and a batch row records this file
    result = await import_roster(pool, _csv(rows, before=[["花名册"]]), actor=SYSTEM_ACTOR, file_name="third.csv")
    assert (result.inserted, result.registrations) == (0, 0)


async def test_duplicate_id_within_file(pool: Pool) -> None:
    """The same ID number twice in one file is reported on the second row, naming the first."""
    city = await _city(pool, districts=1, subdistricts=1, communities=1, grids=1, units=1)
    rows = _rows(city, 3)
    rows[2][4] = rows[0][4]
    with pytest.raises(RosterInvalid) as caught:
        await import_roster(pool, _csv(rows), actor=SYSTEM_ACTOR, file_name="m.csv")
    assert [(e.row, e.column) for e in caught.value.errors] == [(4, "身份证号")]
    assert "第2行" in caught.value.errors[0].message


async def test_spreadsheet_realities_in_csv(pool: Pool) -> None:
    """GBK encoding, title rows above the header, blank rows, full-width digits and stray spaces import cleanly."""
    city = await _city(pool, districts=1, subdistricts=1, communities=1, grids=1, units=1)
    rows = _rows(city, 3)
    full = str.maketrans("0123456789", "０１２３４５６７８９")
    rows[0][3] = str(rows[0][3]).translate(full)                       # full-width phone
    rows[0][4] = "\u3000" + str(rows[0][4]).translate(full) + " \t"     # full-width ID, stray spaces
    name = str(rows[1][1])
    rows[1][1] = f" {name[0]}  {name[1:]}\u3000"                      # padded name
    rows[1][7] = f"{rows[1][7]} "                                     # trailing space in 社区
    blank: list[object] = [""] * len(MEMBER_HEADER)
    body: list[list[object]] = [rows[0], blank, rows[1], blank, rows[2]]
    data = _csv(body, before=[["某区在职党员花名册", "", ""], ["填报日期: 2024年"]], encoding="gbk")
    result = await import_roster(pool, data, actor=SYSTEM_ACTOR, file_name="花名册.csv")
    assert (result.rows, result.inserted) == (3, 3)
    stored = await pool.fetchrow(
        "SELECT name, phone FROM member WHERE id_number = $1", str(rows[2][4])
    )
    assert stored is not None
    padded = await pool.fetchval("SELECT name FROM member WHERE id_number = $1", str(rows[1][4]))
    assert padded == name
    # error row numbers count the title rows and blank rows as the clerk sees them
    body[4] = [*rows[2][:3], "123", *rows[2][4:]]
    with pytest.raises(RosterInvalid) as caught:
        await import_roster(pool, _csv(body, before=[["某区在职党员花名册"], ["填报日期"]], encoding="gbk"),
                            actor=SYSTEM_ACTOR, file_name="花名册.csv")
    assert [(e.row, e.column) for e in caught.value.errors] == [(8, "手机号码")]


async def test_xlsx_with_numbers_merged_title_and_dates(pool: Pool) -> None:
    """An .xlsx with a merged title row, numeric phone/ID cells and date serials imports; a float ID is reported."""
    city = await _city(pool, districts=1, subdistricts=1, communities=1, grids=1, units=1)
    rows = _rows(city, 3)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    header = [*MEMBER_HEADER, "出生日期"]
    sheet.append(["某区在职党员花名册"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    sheet.append(header)
    for row in rows:
        id_number = str(row[4])
        born = datetime.strptime(id_number[6:14], "%Y%m%d")
        serial = (born - datetime(1899, 12, 30)).days
        # numbers as numeric cells (序号, 手机号码); Excel cannot hold 18 digits, so the ID stays text
        sheet.append([int(str(row[0])), *row[1:3], int(str(row[3])), id_number, *row[5:], serial])
    sheet.cell(row=4, column=len(header)).value = datetime.strptime(str(rows[1][4])[6:14], "%Y%m%d")
    out = io.BytesIO()
    workbook.save(out)
    result = await import_roster(pool, out.getvalue(), actor=SYSTEM_ACTOR, file_name="花名册.xlsx")
    assert (result.rows, result.inserted) == (3, 3)
    assert await pool.fetchval("SELECT phone FROM member WHERE id_number = $1", str(rows[0][4])) == str(rows[0][3])

    # an ID number that became a float (scientific notation) is reported, never guessed
    bad = Workbook()
    bad_sheet = bad.active
    assert bad_sheet is not None
    bad_sheet.append(header)
    bad_sheet.append([])                                  # a blank row still counts in row numbers
    bad_sheet.append([1, "赵六", "男", 13800138000.0, 1.10105199001011e17, city.units[0], *rows[0][6:], None])
    out = io.BytesIO()
    bad.save(out)
    with pytest.raises(RosterInvalid) as caught:
        await import_roster(pool, out.getvalue(), actor=SYSTEM_ACTOR, file_name="bad.xlsx")
    assert [(e.row, e.column) for e in caught.value.errors] == [(3, "身份证号")]
    assert "文本" in caught.value.errors[0].message


async def test_birth_date_must_match_id(pool: Pool) -> None:
    """A 出生日期 (Excel serial) that disagrees with the ID number is an error of that row."""
    city = await _city(pool, districts=1, subdistricts=1, communities=1, grids=1, units=1)
    rows = [[*r, 1] for r in _rows(city, 2)]
    with pytest.raises(RosterInvalid) as caught:
        await import_roster(pool, _csv(rows, (*MEMBER_HEADER, "出生日期")), actor=SYSTEM_ACTOR, file_name="m.csv")
    assert [(e.row, e.column) for e in caught.value.errors] == [(2, "出生日期"), (3, "出生日期")]


async def test_community_scoped_actor_cannot_import_another_community(pool: Pool) -> None:
    """A community-scoped actor importing members of another community gets an error on each such row."""
    city = await _city(pool, districts=1, subdistricts=1, communities=2, grids=1, units=1)
    rows = _rows(city, 4)   # rows alternate between the two communities
    own = await pool.fetchval("SELECT id FROM community WHERE name = $1", city.communities[0][2])
    actor = Actor(role=Role.community_staff, scope_kind=ScopeKind.community, scope_id=own, label="社区书记")
    with pytest.raises(RosterInvalid) as caught:
        await import_roster(pool, _csv(rows), actor=actor, file_name="m.csv")
    assert [(e.row, e.column) for e in caught.value.errors] == [(3, "居住社区"), (5, "居住社区")]
    assert "管辖范围" in caught.value.errors[0].message
    result = await import_roster(pool, _csv(rows[::2]), actor=actor, file_name="own.csv")
    assert result.inserted == 2


async def test_member_actor_is_refused(pool: Pool) -> None:
    """A member may not import rosters at all."""
    actor = Actor(role=Role.member, scope_kind=ScopeKind.member, scope_id=1, label="党员")
    with pytest.raises(Forbidden):
        await import_roster(pool, _csv([]), actor=actor, file_name="m.csv")


async def test_dry_run_writes_nothing(pool: Pool) -> None:
    """A dry run validates against the database and reports the counts, then rolls back."""
    city = await _city(pool, districts=1, subdistricts=1, communities=1, grids=1, units=1)
    result = await import_roster(pool, _csv(_rows(city, 5)), actor=SYSTEM_ACTOR, file_name="m.csv", dry_run=True)
    assert (result.inserted, result.registrations, result.cohort_id) == (5, 5, None)
    assert await _counts(pool, city) == (0, 0, 0, 0)


async def test_hierarchy_and_units_are_idempotent_and_validated(pool: Pool) -> None:
    """Hierarchy (with adjacency both ways) and units import once; again nothing changes; bad rows are listed."""
    city = synthetic_city(unique("层"), districts=1, subdistricts=1, communities=1, grids=3, units=2)
    first = await import_roster(pool, hierarchy_csv(city), actor=SYSTEM_ACTOR, file_name="h.csv")
    assert first.inserted == 1 + 1 + 1 + 3 + 4          # places, and 2 neighbour pairs both ways
    assert (first.rows, first.unchanged) == (3, 0)      # a row is a grid: all three were new
    again = await import_roster(pool, hierarchy_csv(city), actor=SYSTEM_ACTOR, file_name="h.csv")
    assert (again.inserted, again.unchanged) == (0, 3)
    units = await import_roster(pool, units_csv(city), actor=SYSTEM_ACTOR, file_name="u.csv")
    assert units.inserted == 2
    assert (await import_roster(pool, units_csv(city), actor=SYSTEM_ACTOR, file_name="u.csv")).inserted == 0

    district, subdistrict, community, _ = city.communities[0]
    bad_hierarchy = _csv(
        [[district, subdistrict, community, "4号网格", "不存在网格"], [district, "", community, "5号网格", ""]],
        ("区", "街道", "社区", "网格", "相邻网格"),
    )
    with pytest.raises(RosterInvalid) as caught:
        await import_roster(pool, bad_hierarchy, actor=SYSTEM_ACTOR, file_name="h2.csv")
    assert [(e.row, e.column) for e in caught.value.errors] == [(2, "相邻网格"), (3, "街道")]

    bad_units = _csv(
        [["新单位", "新单位党委", "外星机构", community, "", ""], ["另一单位", "", "企业", "没有的社区", "", ""]],
        ("单位名称", "单位党组织", "单位类型", "所在社区", "联系人", "联系电话"),
    )
    with pytest.raises(RosterInvalid) as caught:
        await import_roster(pool, bad_units, actor=SYSTEM_ACTOR, file_name="u2.csv")
    assert [(e.row, e.column) for e in caught.value.errors] == [(2, "单位类型"), (3, "单位党组织"), (3, "所在社区")]


async def test_missing_columns_are_named(pool: Pool) -> None:
    """A members file without the 身份证号 column names the missing column on the header row."""
    data = _csv([["张三", "13800138000", "某单位", "某社区"]], ("姓名", "手机号码", "工作单位", "居住社区"))
    with pytest.raises(RosterInvalid) as caught:
        await import_roster(pool, data, actor=SYSTEM_ACTOR, file_name="m.csv", kind=None)
    assert caught.value.errors[0].row == 1


async def test_subdistrict_actor_hierarchy_and_units_stay_in_scope(pool: Pool) -> None:
    """A subdistrict-scoped actor may add grids and units in its own subdistrict only; other rows are errors."""
    city = synthetic_city(unique("域"), districts=1, subdistricts=2, communities=1, grids=1, units=2)
    await import_roster(pool, hierarchy_csv(city), actor=SYSTEM_ACTOR, file_name="h.csv")
    own = await pool.fetchval("SELECT id FROM subdistrict WHERE name = $1", city.communities[0][1])
    actor = Actor(role=Role.subdistrict, scope_kind=ScopeKind.subdistrict, scope_id=own, label="街道")
    (d1, s1, c1, _), (d2, s2, c2, _) = city.communities
    grids = _csv([[d1, s1, c1, "新网格", ""], [d2, s2, c2, "新网格", ""]], ("区", "街道", "社区", "网格", "相邻网格"))
    with pytest.raises(RosterInvalid) as caught:
        await import_roster(pool, grids, actor=actor, file_name="h.csv")
    assert [(e.row, e.column) for e in caught.value.errors] == [(3, "区")]
    units = _csv([["甲" + c1, "党支部", "企业", c1, s1], ["乙" + c2, "党支部", "企业", c2, s2]],
                 ("单位名称", "单位党组织", "单位类型", "所在社区", "街道"))
    with pytest.raises(RosterInvalid) as caught:
        await import_roster(pool, units, actor=actor, file_name="u.csv")
    assert [(e.row, e.column) for e in caught.value.errors] == [(3, "所在社区")]


async def test_reimport_registers_members_whose_registration_closed(pool: Pool) -> None:
    """Importing a file again submits a new registration only for a known member whose last one was closed."""
    city = await _city(pool, districts=1, subdistricts=1, communities=1, grids=2, units=2)
    rows = _rows(city, 3)
    data = _csv(rows)
    first = await import_roster(pool, data, actor=SYSTEM_ACTOR, file_name="m.csv")
    await pool.execute(
        """
        UPDATE member_registration SET status = 'withdrawn'
        WHERE cohort_id = $1 AND member_id = (SELECT id FROM member WHERE id_number = $2)
        """,
        first.cohort_id, rows[1][4],
    )
    again = await import_roster(pool, data, actor=SYSTEM_ACTOR, file_name="m.csv")
    assert (again.inserted, again.registrations) == (0, 1)
    assert again.cohort_id is not None and again.cohort_id != first.cohort_id
    reregistered = await pool.fetchval(
        """
        SELECT m.id_number FROM member_registration r JOIN member m ON m.id = r.member_id
        JOIN registration_event e ON e.registration_kind = 'member' AND e.registration_id = r.id
        WHERE r.cohort_id = $1 AND r.status = 'submitted' AND e.to_status = 'submitted'
        """,
        again.cohort_id,
    )
    assert reregistered == rows[1][4]
    assert await _counts(pool, city) == (3, 4, 4, 2)


async def _stage_one(conn: Conn, city: SyntheticCity) -> None:
    """One good roster row of the city, staged and resolved in the caller's transaction."""
    parser = MemberRowParser(map_headers(RosterKind.members, list(MEMBER_HEADER)))
    record, errors = parser.parse(2, _rows(city, 1)[0])
    assert record is not None and not errors
    await member_db.create_member_stage(conn)
    await member_db.copy_member_stage(conn, records=[record])
    await member_db.resolve_member_stage(conn)


async def test_set_based_reference_check_writes_rows_and_leaves_fk_triggers_on(pool: Pool, conn: Conn) -> None:
    """With the references locked the rows go in without per-row FK triggers, which are on again right after."""
    city = await _city(pool, districts=1, subdistricts=1, communities=1, grids=1, units=1)
    await _stage_one(conn, city)
    cohort_id = await create_cohort(conn, source="import", size=0)
    assert await member_db.fk_triggers_replaceable(conn)   # the test database runs as its superuser
    assert await member_db.lock_stage_references(conn, cohort_id=cohort_id)
    written = await member_db.insert_members_and_registrations_from_stage(
        conn, cohort_id=cohort_id, actor="测试", reason="名册导入", references_locked=True
    )
    assert written == (1, 1)
    assert await conn.fetchval("SHOW session_replication_role") == "origin"
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await conn.execute("INSERT INTO member (name, unit_id) VALUES ('无单位', -1)")


async def test_set_based_reference_check_notices_a_deleted_unit(pool: Pool, conn: Conn) -> None:
    """A unit deleted after the rows were resolved fails the reference check instead of being pointed at."""
    city = await _city(pool, districts=1, subdistricts=1, communities=1, grids=1, units=1)
    await _stage_one(conn, city)
    cohort_id = await create_cohort(conn, source="import", size=0)
    await conn.execute("DELETE FROM reporting_unit WHERE name = $1", city.units[0])
    assert not await member_db.lock_stage_references(conn, cohort_id=cohort_id)


async def test_own_trigger_on_member_keeps_per_row_fk_checks(conn: Conn) -> None:
    """A trigger of our own on member would be switched off with the FK triggers, so the shortcut is not taken."""
    assert await member_db.fk_triggers_replaceable(conn)
    await conn.execute(
        """
        CREATE FUNCTION pg_temp.roster_noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
        CREATE TRIGGER roster_noop BEFORE INSERT ON member FOR EACH ROW EXECUTE FUNCTION pg_temp.roster_noop();
        """
    )
    assert not await member_db.fk_triggers_replaceable(conn)


async def test_total_rows_are_skipped_and_reported(pool: Pool) -> None:
    """A clerk's workbook with a 小计 row and ending in `合计 | 共5人` imports its five members; the
    result names the skipped rows. The same file without the total words would be rejected."""
    city = await _city(pool, districts=1, subdistricts=1, communities=1, grids=1, units=1)
    rows = _rows(city, 5)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(MEMBER_HEADER))
    for row in rows[:3]:
        sheet.append(row)
    sheet.append(["小计", "共3人"])                          # row 5
    for row in rows[3:]:
        sheet.append(row)
    sheet.append([])
    sheet.append(["合计", "共5人"])                          # row 9
    out = io.BytesIO()
    workbook.save(out)
    result = await import_roster(pool, out.getvalue(), actor=SYSTEM_ACTOR, file_name="带合计.xlsx")
    assert (result.rows, result.inserted, result.skipped_total_rows) == (5, 5, [5, 9])
    assert (await _counts(pool, city))[0] == 5

    # a units list with a 合计 row in the first column and a 共N人 count elsewhere
    district, subdistrict, community, _ = city.communities[0]
    units = _csv(
        [[unique("单位"), "某党支部", "企业", community, "", ""], ["", "", "", "", "", "共1个单位 共1人"],
         ["总 计：", "", "", "", "", ""]],
        ("单位名称", "单位党组织", "单位类型", "所在社区", "联系人", "联系电话"),
    )
    with pytest.raises(RosterInvalid) as caught:   # 共1个单位 共1人 is not a headcount cell
        await import_roster(pool, units, actor=SYSTEM_ACTOR, file_name="u.csv")
    assert {e.row for e in caught.value.errors} == {3}
    units = _csv(
        [[unique("单位"), "某党支部", "企业", community, "", ""], ["", "", "", "", "", "共1人"],
         ["总 计：", "", "", "", "", ""]],
        ("单位名称", "单位党组织", "单位类型", "所在社区", "联系人", "联系电话"),
    )
    result = await import_roster(pool, units, actor=SYSTEM_ACTOR, file_name="u.csv")
    assert (result.rows, result.inserted, result.skipped_total_rows) == (1, 1, [3, 4])


async def test_nul_in_a_cell_is_dropped_like_other_invisible_characters(pool: Pool) -> None:
    """A NUL inside a cell (an .xlsx can spell it _x0000_) never reaches Postgres, which cannot
    store it: it is dropped like a zero-width space, and the row imports."""
    city = await _city(pool, districts=1, subdistricts=1, communities=1, grids=1, units=1)
    rows = _rows(city, 2)
    name = str(rows[0][1])
    rows[0][1] = f"{name[:1]}\x00{name[1:]}"
    rows[1][6] = f"{rows[1][6]}\x00"
    result = await import_roster(pool, _csv(rows), actor=SYSTEM_ACTOR, file_name="nul.csv")
    assert (result.rows, result.inserted) == (2, 2)
    stored = await pool.fetchval("SELECT name FROM member WHERE id_number = $1", str(rows[0][4]))
    assert stored == name


@pytest.mark.parametrize("scope", ["community", "unit"])
async def test_a_row_outside_the_scope_says_only_that_whether_or_not_the_person_exists(
        pool: Pool, scope: str) -> None:
    """The dry run is no city-wide ID lookup: rows about a person of another community (or unit)
    get the same single 'outside your scope' error whether the ID number is registered with the
    same data, registered with other data (a guessed phone), or not registered at all."""
    city = await _city(pool, districts=1, subdistricts=1, communities=2, grids=1, units=2)
    rows = _rows(city, 8)
    await import_roster(pool, _csv(rows[:4]), actor=SYSTEM_ACTOR, file_name="registered.csv")
    if scope == "community":
        own = await pool.fetchval("SELECT id FROM community WHERE name = $1", city.communities[0][2])
        actor = Actor(role=Role.community_staff, scope_kind=ScopeKind.community, scope_id=own, label="社区书记")
    else:
        own = await pool.fetchval("SELECT id FROM reporting_unit WHERE name = $1", city.units[0])
        actor = Actor(role=Role.unit_admin, scope_kind=ScopeKind.unit, scope_id=own, label="单位")
    column = 5 if scope == "unit" else 7   # 工作单位 / 居住社区
    outside = [r for r in rows if (r[column] != city.units[0] if scope == "unit" else r[column] != city.communities[0][2])]
    registered_same = [r for r in outside if r in rows[:4]][0]
    registered_guess = list(registered_same)
    registered_guess[3] = "13999990000"
    unknown = [r for r in outside if r in rows[4:]][0]

    async def errors_for(row: list[object]) -> list[tuple[str, str]]:
        with pytest.raises(RosterInvalid) as caught:
            await import_roster(pool, _csv([row]), actor=actor, file_name="probe.csv", dry_run=True)
        return [(e.column, e.message.replace(str(row[column]), "…")) for e in caught.value.errors]

    answers = [await errors_for(r) for r in (registered_same, registered_guess, unknown)]
    assert answers[0] == answers[1] == answers[2], answers
    [(_, message)] = answers[0]
    assert "已经登记" not in message and ("管辖范围" in message or "不是您管理的单位" in message)
