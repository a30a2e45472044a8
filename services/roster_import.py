"""Roster import (花名册导入): a clerk's .xlsx/.csv of the hierarchy, units or members, all or nothing.

Every row is checked first; a file with any bad row imports nothing and the error lists every
bad row (row number as the clerk sees it, the column header, a Chinese message). A good file
goes in inside one transaction. Importing the same file again changes nothing: members are
matched by ID number, units by name, places by their names under their parent.

Members are bulk registrations (个人报到): each member without an open registration gets one
in `submitted` in the home community (home grid proposed), all in one new registration cohort
whose workflow is started after commit.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog
from temporalio.client import Client

from db import hierarchy as hierarchy_db
from db import import_batch as batch_db
from db import member as member_db
from db import reporting_unit as unit_db
from db.pool import Conn, Pool
from db.registration_cohort import create_cohort, set_cohort_workflow_id
from domain.errors import Conflict, Forbidden, InvalidInput
from domain.roster import (
    COLUMN_TITLES,
    CellError,
    MemberRecord,
    MemberRowParser,
    clean_name,
    clean_text,
    detect_kind,
    is_total_row,
    map_headers,
    missing_columns,
    parse_phone,
    parse_unit_kind,
    split_names,
)
from ingest.spreadsheet import Sheet, read_sheet
from schemas.auth import Actor, Role, ScopeKind
from schemas.roster import ImportResult, RosterKind, RowError
from services.registration import start_cohort
from telemetry import metrics
from workflows.member_registration import cohort_workflow_id

log = structlog.get_logger(__name__)

Progress = Callable[[int, int | None], None]
"""Called with (rows read so far, expected total or None) while a file is read."""

CHUNK_ROWS = 50_000
MAX_REPORTED_ERRORS = 100_000


class RosterInvalid(InvalidInput):
    """The file has bad rows (or no usable header): nothing was imported."""

    code = "roster_invalid"

    def __init__(self, message: str, errors: list[RowError]) -> None:
        super().__init__(message)
        self.errors = errors


@dataclass
class _File:
    data: bytes
    name: str
    sha256: str


def _load(source: Path | str | bytes, file_name: str | None) -> _File:
    if isinstance(source, bytes):
        data = source
        name = file_name or "upload"
    else:
        path = Path(source)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"无法读取文件「{path}」: 请确认路径正确且有读取权限") from exc
        name = file_name or path.name
    return _File(data=data, name=name, sha256=hashlib.sha256(data).hexdigest())


def _column_titles(sheet: Sheet, columns: dict[str, int]) -> dict[str, str]:
    """canonical key → the header text as written in the file (what the clerk looks for)."""
    titles = dict(COLUMN_TITLES)
    for key, position in columns.items():
        text = clean_text(sheet.header[position])
        if text:
            titles[key] = text
    return titles


def _report(errors: list[CellError], titles: dict[str, str], columns: dict[str, int]) -> list[RowError]:
    # row by row, left to right as the columns stand in the file
    errors.sort(key=lambda e: (e.row, columns.get(e.column, 1 << 20)))
    return [RowError(row=e.row, column=titles.get(e.column, ""), message=e.message) for e in errors]


def _reject(errors: list[CellError], titles: dict[str, str], columns: dict[str, int], rows: int) -> RosterInvalid:
    bad_rows = len({e.row for e in errors})
    report = _report(errors[:MAX_REPORTED_ERRORS], titles, columns)
    return RosterInvalid(
        f"文件中有{bad_rows}行有误 (共{rows}行), 未导入任何数据: 请按错误清单逐行修改后重新导入", report
    )


def check_may_import(actor: Actor) -> None:
    """Members never import: refused before the file is even read."""
    if actor.role is Role.member or actor.scope_kind is ScopeKind.member:
        raise Forbidden("党员个人不能导入名册: 请联系所在单位或社区")


def _check_role(actor: Actor, kind: RosterKind) -> None:
    check_may_import(actor)
    if kind is not RosterKind.members and actor.scope_kind is ScopeKind.unit:
        raise Forbidden("单位管理员只能导入本单位党员名册, 区划和单位名册由组织部门或街道、社区导入")


async def import_roster(
    pool: Pool,
    source: Path | str | bytes,
    *,
    kind: RosterKind | None = None,
    actor: Actor,
    client: Client | None = None,
    progress: Progress | None = None,
    file_name: str | None = None,
    dry_run: bool = False,
    task_queue: str | None = None,
) -> ImportResult:
    """Validate and import one roster file; raises RosterInvalid listing every bad row.

    `client`: when given and a members import submitted registrations, the cohort workflow is
    started after commit (services.registration.start_cohort, on `task_queue` if given); its id
    is recorded on the cohort in the import's transaction, so a failed start can be retried by
    starting the same id. `dry_run` validates everything,
    including the names against the database, and then rolls back.
    """
    file = await asyncio.to_thread(_load, source, file_name)
    sheet = await asyncio.to_thread(read_sheet, file.data, file.name)
    if kind is None:
        kind = detect_kind(sheet.header)
        if kind is None:
            raise RosterInvalid(
                "无法判断名册类型: 表头需含有「姓名」「身份证号」「手机号码」「工作单位」「居住社区」(党员), "
                "或「单位名称」「单位党组织」「所在社区」(单位), 或「区」「街道」「社区」「网格」(区划)",
                [RowError(row=sheet.header_row, column="", message="表头缺少必需的列")],
            )
    _check_role(actor, kind)
    columns = map_headers(kind, sheet.header)
    missing = missing_columns(kind, columns)
    if missing:
        raise RosterInvalid(
            f"表头缺少必需的列: {'、'.join(missing)}",
            [RowError(row=sheet.header_row, column=title, message=f"缺少「{title}」列: 请在表头中添加")
             for title in missing],
        )
    titles = _column_titles(sheet, columns)
    log.info("roster_import_started", kind=kind.value, file=file.name, actor=actor.audit_name)
    match kind:
        case RosterKind.members:
            result = await _import_members(pool, file, sheet, columns, titles, actor, progress, dry_run)
        case RosterKind.units:
            result = await _import_units(pool, file, sheet, columns, titles, actor, dry_run)
        case RosterKind.hierarchy:
            result = await _import_hierarchy(pool, file, sheet, columns, titles, actor, dry_run)
    if client is not None and result.cohort_id is not None and not dry_run:
        await _start_cohort(client, result.cohort_id, task_queue)
        result.workflow_started = True
    if not dry_run:
        metrics.IMPORT_ROWS.labels(kind=kind.value).inc(result.inserted)
        metrics.REGISTRATIONS.labels(status="submitted").inc(result.registrations)
    log.info(
        "roster_import_finished", kind=kind.value, rows=result.rows, inserted=result.inserted,
        registrations=result.registrations, cohort_id=result.cohort_id, dry_run=dry_run,
    )
    return result


async def _start_cohort(client: Client, cohort_id: int, task_queue: str | None) -> None:
    if task_queue is None:
        await start_cohort(client, cohort_id=cohort_id)
    else:
        await start_cohort(client, cohort_id=cohort_id, task_queue=task_queue)


class _Rolledback(Exception):
    """Raised inside a transaction to undo it (dry run, or a savepoint with nothing in it)."""


# ---------------------------------------------------------------------------------------------
# Members
# ---------------------------------------------------------------------------------------------


def _member_chunks(
    sheet: Sheet, parser: MemberRowParser, errors: list[CellError], progress: Progress | None,
    counter: list[int], totals: list[int],
) -> Iterator[list[MemberRecord]]:
    rows = sheet.rows
    parse = parser.parse
    total = sheet.total_rows_hint
    while True:
        chunk: list[MemberRecord] = []
        append = chunk.append
        read = 0
        for row_no, cells in rows:
            record, row_errors = parse(row_no, cells)
            if record is None:
                # a total row never parses as a member: only rows that failed are looked at
                if is_total_row(cells):
                    totals.append(row_no)
                    continue
                if len(errors) < MAX_REPORTED_ERRORS:
                    errors.extend(row_errors)
            else:
                append(record)
            read += 1
            if read >= CHUNK_ROWS:
                break
        counter[0] += read
        if progress is not None:
            progress(counter[0], total)
        if read == 0:
            return
        yield chunk
        if read < CHUNK_ROWS:
            return


async def _import_members(
    pool: Pool, file: _File, sheet: Sheet, columns: dict[str, int], titles: dict[str, str],
    actor: Actor, progress: Progress | None, dry_run: bool,
) -> ImportResult:
    parser = MemberRowParser(columns)
    errors: list[CellError] = []
    counter = [0]
    totals: list[int] = []
    chunks = _member_chunks(sheet, parser, errors, progress, counter, totals)
    scope_kind = actor.scope_kind.value
    started = time.perf_counter()
    try:
        async with pool.acquire() as conn, conn.transaction():
            await member_db.create_member_stage(conn)
            # Parse the next chunk in a thread while Postgres ingests this one: the event loop
            # stays responsive (an API upload) and the server's work overlaps ours.
            pending = asyncio.ensure_future(asyncio.to_thread(_next_chunk, chunks))
            while True:
                records = await pending
                if records is None:
                    break
                pending = asyncio.ensure_future(asyncio.to_thread(_next_chunk, chunks))
                await member_db.copy_member_stage(conn, records=records)
            staged_at = time.perf_counter()
            await member_db.resolve_member_stage(conn)
            for problem in await member_db.select_stage_problems(
                conn, scope_kind=scope_kind, scope_id=actor.scope_id
            ):
                errors.extend(_problem_errors(problem, scope_kind))
            rows = counter[0]   # total rows not counted
            if errors:
                raise _reject(errors, titles, columns, rows)
            if rows == 0:
                raise RosterInvalid("文件中没有数据行: 请在表头下方填写党员信息", [])
            resolved_at = time.perf_counter()
            result = await _load_members(conn, file, rows, actor)
            result.skipped_total_rows = totals
            log.info(
                "roster_members_phases", read_validate_stage_s=round(staged_at - started, 2),
                resolve_s=round(resolved_at - staged_at, 2), load_s=round(time.perf_counter() - resolved_at, 2),
            )
            if dry_run:
                raise _Rolledback
    except _Rolledback:
        result.cohort_id = None
        result.batch_id = None
    return result


def _next_chunk(chunks: Iterator[list[MemberRecord]]) -> list[MemberRecord] | None:
    return next(chunks, None)


async def _load_members(conn: Conn, file: _File, rows: int, actor: Actor) -> ImportResult:
    started = time.perf_counter()
    cohort_id: int | None
    inserted = submitted = 0
    try:
        async with conn.transaction():  # a savepoint: no empty cohort when nothing is submitted
            cohort_id = await create_cohort(conn, source="import", size=0)
            references_locked = False
            if await member_db.fk_triggers_replaceable(conn):
                references_locked = await member_db.lock_stage_references(conn, cohort_id=cohort_id)
                if not references_locked:
                    raise Conflict("导入期间有社区、网格、单位或党员被删除: 未导入任何数据, 请重新导入")
            inserted, submitted = await member_db.insert_members_and_registrations_from_stage(
                conn, cohort_id=cohort_id, actor=actor.audit_name, reason=f"名册导入: {file.name}",
                references_locked=references_locked,
            )
            if submitted == 0:
                # every new member is registered, so nothing was inserted either
                raise _Rolledback
            await set_cohort_workflow_id(conn, cohort_id=cohort_id, workflow_id=cohort_workflow_id(cohort_id))
    except _Rolledback:
        cohort_id = None
    log.info(
        "roster_members_inserted", inserted=inserted, registrations=submitted,
        seconds=round(time.perf_counter() - started, 2),
    )
    return await _finish(conn, RosterKind.members, file, rows, inserted, actor, cohort_id, submitted)


async def _finish(
    conn: Conn, kind: RosterKind, file: _File, rows: int, inserted: int, actor: Actor,
    cohort_id: int | None, submitted: int, *, unchanged: int | None = None,
) -> ImportResult:
    earlier = await batch_db.select_batch_id_by_sha(conn, kind=kind.value, file_sha256=file.sha256)
    batch_id = earlier
    if inserted or submitted or earlier is None:
        batch_id = await batch_db.insert_import_batch(
            conn, kind=kind.value, file_sha256=file.sha256, file_name=file.name, row_count=rows,
            inserted=inserted, actor=actor.audit_name, cohort_id=cohort_id,
        )
    return ImportResult(
        kind=kind, file_name=file.name, file_sha256=file.sha256, rows=rows, inserted=inserted,
        unchanged=rows - inserted if unchanged is None else unchanged, registrations=submitted, cohort_id=cohort_id, batch_id=batch_id,
        already_imported=earlier is not None,
    )


def _problem_errors(problem: member_db.StageProblem, scope_kind: str) -> list[CellError]:
    row = problem.row_no
    if problem.out_of_scope:
        # A row about someone outside the caller's scope says only that, the same whether or not
        # that person is registered: no "already registered but different" (which would confirm
        # a guessed ID number, phone or unit of anyone in the city), nor any other check.
        if scope_kind == ScopeKind.unit.value:
            return [CellError(row, "unit", "该党员的工作单位不是您管理的单位: 只能导入本单位的党员")]
        return [CellError(row, "community", f"社区「{problem.community_name}」不在您的管辖范围内: 只能导入本辖区的党员")]
    errors: list[CellError] = []
    place = "".join(p for p in (problem.district_name, problem.subdistrict_name) if p)
    if problem.community_matches == 0:
        where = f"在「{place}」下" if place else ""
        errors.append(CellError(row, "community", (
            f"居住社区「{problem.community_name}」{where}不存在: 请核对社区名称, 或先导入区划名册 (--kind hierarchy)"
        )))
    elif problem.community_matches > 1:
        errors.append(CellError(row, "community", (
            f"有{problem.community_matches}个名为「{problem.community_name}」的社区: "
            "请增加「街道」列 (必要时再加「区」列) 注明是哪个街道的社区"
        )))
    if problem.grid_missing:
        errors.append(CellError(row, "grid", (
            f"网格「{problem.grid_name}」不属于社区「{problem.community_name}」: 请核对网格名称或所在社区"
        )))
    if problem.unit_missing:
        errors.append(CellError(row, "unit", (
            f"工作单位「{problem.unit_name}」尚未登记: 党员名册不会自动新建单位, "
            "请先导入单位名册 (--kind units), 或核对单位名称与已登记的名称完全一致"
        )))
    if problem.differs:
        errors.append(CellError(row, "id_number", (
            "该身份证号的党员已经登记, 但本行的姓名/性别/手机/单位/社区/网格/特长/服务时间与登记信息不同: "
            "导入不会修改已登记的党员, 请核对本行, 或在系统中修改该党员的信息"
        )))
    return errors


# ---------------------------------------------------------------------------------------------
# Places (hierarchy and units resolve names in Python: such files have thousands of rows)
# ---------------------------------------------------------------------------------------------


class _Places:
    """Name lookups over the existing hierarchy."""

    def __init__(self, rows: list[hierarchy_db.PlaceRow]) -> None:
        self.rows = rows
        self.communities: dict[str, list[hierarchy_db.PlaceRow]] = defaultdict(list)
        self.district_names: dict[int, str] = {}
        self.subdistrict_paths: dict[int, tuple[str, str]] = {}
        self.community_paths: dict[int, tuple[str, str, str]] = {}
        for row in rows:
            self.district_names[row.district_id] = row.district_name
            if row.subdistrict_id is not None and row.subdistrict_name is not None:
                self.subdistrict_paths[row.subdistrict_id] = (row.district_name, row.subdistrict_name)
            if row.community_id is not None and row.community_name is not None:
                self.communities[row.community_name].append(row)
                self.community_paths[row.community_id] = (
                    row.district_name, row.subdistrict_name or "", row.community_name
                )

    def community(
        self, name: str, subdistrict: str, district: str
    ) -> tuple[hierarchy_db.PlaceRow | None, str | None]:
        found = [
            row for row in self.communities.get(name, ())
            if (not subdistrict or row.subdistrict_name == subdistrict)
            and (not district or row.district_name == district)
        ]
        if len(found) == 1:
            return found[0], None
        if not found:
            where = f"在「{district}{subdistrict}」下" if (district or subdistrict) else ""
            return None, f"社区「{name}」{where}不存在: 请核对社区名称, 或先导入区划名册 (--kind hierarchy)"
        return None, f"有{len(found)}个名为「{name}」的社区: 请增加「街道」列注明是哪个街道的社区"


def _in_scope(actor: Actor, *, district_id: int | None, subdistrict_id: int | None,
              community_id: int | None) -> bool:
    match actor.scope_kind:
        case ScopeKind.city:
            return True
        case ScopeKind.district:
            return district_id == actor.scope_id
        case ScopeKind.subdistrict:
            return subdistrict_id == actor.scope_id
        case ScopeKind.community:
            return community_id == actor.scope_id
        case _:
            return False


def _cells_getter(columns: dict[str, int]) -> Callable[[Sequence[object], str], object]:
    def cell(cells: Sequence[object], key: str) -> object:
        position = columns.get(key)
        if position is None or position >= len(cells):
            return None
        return cells[position]
    return cell


# ---------------------------------------------------------------------------------------------
# Units
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _UnitRow:
    row: int
    name: str
    party_org: str
    kind: str
    community_id: int
    contact_name: str | None
    contact_phone: str | None


async def _import_units(
    pool: Pool, file: _File, sheet: Sheet, columns: dict[str, int], titles: dict[str, str],
    actor: Actor, dry_run: bool,
) -> ImportResult:
    cell = _cells_getter(columns)
    errors: list[CellError] = []
    good: list[_UnitRow] = []
    seen: dict[str, int] = {}
    totals: list[int] = []
    rows = 0
    try:
        async with pool.acquire() as conn, conn.transaction():
            places = _Places(await hierarchy_db.select_places(conn))
            for row_no, cells in sheet.rows:
                if is_total_row(cells):
                    totals.append(row_no)
                    continue
                rows += 1
                before = len(errors)
                name = clean_name(cell(cells, "unit_name"))
                if not name:
                    errors.append(CellError(row_no, "unit_name", "单位名称不能为空"))
                elif name in seen:
                    errors.append(CellError(row_no, "unit_name", f"与第{seen[name]}行的单位名称重复: 请删除重复的行"))
                else:
                    seen[name] = row_no
                party_org = clean_name(cell(cells, "party_org"))
                if not party_org:
                    errors.append(CellError(row_no, "party_org", "单位党组织不能为空"))
                unit_kind, kind_error = parse_unit_kind(cell(cells, "unit_kind"))
                if kind_error:
                    errors.append(CellError(row_no, "unit_kind", kind_error))
                community_name = clean_name(cell(cells, "community"))
                place = None
                if not community_name:
                    errors.append(CellError(row_no, "community", "所在社区不能为空"))
                else:
                    place, place_error = places.community(
                        community_name, clean_name(cell(cells, "subdistrict")), clean_name(cell(cells, "district"))
                    )
                    if place_error:
                        errors.append(CellError(row_no, "community", place_error))
                    elif place is not None and not _in_scope(
                        actor, district_id=place.district_id, subdistrict_id=place.subdistrict_id,
                        community_id=place.community_id,
                    ):
                        errors.append(CellError(row_no, "community", (
                            f"社区「{community_name}」不在您的管辖范围内: 只能导入本辖区的单位"
                        )))
                contact_phone: str | None = None
                raw_phone = cell(cells, "contact_phone")
                if clean_text(raw_phone):
                    phone, phone_error = parse_phone(raw_phone)
                    if phone_error is None:
                        contact_phone = phone
                    else:
                        landline = clean_text(raw_phone).replace(" ", "")
                        if landline.replace("-", "").isdigit() and 7 <= len(landline.replace("-", "")) <= 12:
                            contact_phone = landline  # a landline such as 010-12345678
                        else:
                            errors.append(CellError(row_no, "contact_phone", (
                                "联系电话应为11位手机号或带区号的座机号 (如 010-12345678): 请核对"
                            )))
                if len(errors) == before and place is not None and place.community_id is not None:
                    good.append(_UnitRow(
                        row=row_no, name=name, party_org=party_org, kind=unit_kind,
                        community_id=place.community_id,
                        contact_name=clean_name(cell(cells, "contact_name")) or None,
                        contact_phone=contact_phone,
                    ))
            existing = await unit_db.select_units_by_name(conn, names=[u.name for u in good])
            new: list[_UnitRow] = []
            for unit in good:
                known = existing.get(unit.name)
                if known is None:
                    new.append(unit)
                elif (known.unit_party_org, known.kind, known.community_id, known.contact_name,
                      known.contact_phone) != (unit.party_org, unit.kind, unit.community_id,
                                               unit.contact_name, unit.contact_phone):
                    errors.append(CellError(unit.row, "unit_name", (
                        f"单位「{unit.name}」已经登记, 但本行的党组织/类型/所在社区/联系人/电话与登记信息不同: "
                        "导入不会修改已登记的单位, 请核对本行, 或在系统中修改该单位的信息"
                    )))
            if errors:
                raise _reject(errors, titles, columns, rows)
            if rows == 0:
                raise RosterInvalid("文件中没有数据行: 请在表头下方填写单位信息", [])
            inserted = await unit_db.insert_units(
                conn,
                names=[u.name for u in new], party_orgs=[u.party_org for u in new],
                kinds=[u.kind for u in new], community_ids=[u.community_id for u in new],
                contact_names=[u.contact_name for u in new], contact_phones=[u.contact_phone for u in new],
            )
            result = await _finish(conn, RosterKind.units, file, rows, inserted, actor, None, 0)
            result.skipped_total_rows = totals
            if dry_run:
                raise _Rolledback
    except _Rolledback:
        result.batch_id = None
    return result


# ---------------------------------------------------------------------------------------------
# Hierarchy
# ---------------------------------------------------------------------------------------------

GridPath = tuple[str, str, str, str]   # district, subdistrict, community, grid names


@dataclass(frozen=True)
class _GridLine:
    row: int
    path: GridPath
    branch: str | None
    neighbours: list[str]


def _hierarchy_scope_error(actor: Actor, places: _Places, path: GridPath) -> str | None:
    district, subdistrict, community, _ = path
    match actor.scope_kind:
        case ScopeKind.city:
            return None
        case ScopeKind.district:
            mine = places.district_names.get(actor.scope_id or 0)
            if mine == district:
                return None
            return f"「{district}」不在您的管辖范围内: 只能导入「{mine}」的区划"
        case ScopeKind.subdistrict:
            sub = places.subdistrict_paths.get(actor.scope_id or 0)
            if sub == (district, subdistrict):
                return None
            return f"「{district}{subdistrict}」不在您的管辖范围内: 只能导入本街道的社区和网格"
        case ScopeKind.community:
            own = places.community_paths.get(actor.scope_id or 0)
            if own == (district, subdistrict, community):
                return None
            return f"「{subdistrict}{community}」不在您的管辖范围内: 只能导入本社区的网格"
        case _:
            return "无权导入区划"


def _resolve_neighbour(
    name: str, path: GridPath, by_community: dict[tuple[str, str, str], set[str]],
    by_subdistrict: dict[tuple[str, str], dict[str, list[GridPath]]],
) -> tuple[GridPath | None, str | None]:
    district, subdistrict, community, grid = path
    if name == grid:
        return None, f"相邻网格「{name}」就是本网格: 请删除"
    if name in by_community.get((district, subdistrict, community), ()):
        return (district, subdistrict, community, name), None
    candidates = by_subdistrict.get((district, subdistrict), {}).get(name, [])
    if len(candidates) == 1:
        return candidates[0], None
    if not candidates:
        return None, f"相邻网格「{name}」在「{subdistrict}」中找不到: 请核对名称, 或在本文件中增加该网格的行"
    return None, f"「{subdistrict}」有{len(candidates)}个名为「{name}」的网格: 请改为与本网格同社区的网格名称"


async def _import_hierarchy(
    pool: Pool, file: _File, sheet: Sheet, columns: dict[str, int], titles: dict[str, str],
    actor: Actor, dry_run: bool,
) -> ImportResult:
    cell = _cells_getter(columns)
    errors: list[CellError] = []
    lines: list[_GridLine] = []
    totals: list[int] = []
    rows = 0
    try:
        async with pool.acquire() as conn, conn.transaction():
            places = _Places(await hierarchy_db.select_places(conn))
            grids = await hierarchy_db.select_grids(conn)
            for row_no, cells in sheet.rows:
                if is_total_row(cells):
                    totals.append(row_no)
                    continue
                rows += 1
                names = {}
                for key in ("district", "subdistrict", "community", "grid"):
                    names[key] = clean_name(cell(cells, key))
                    if not names[key]:
                        errors.append(CellError(row_no, key, f"{COLUMN_TITLES[key]}不能为空"))
                if not all(names.values()):
                    continue
                path: GridPath = (names["district"], names["subdistrict"], names["community"], names["grid"])
                scope_error = _hierarchy_scope_error(actor, places, path)
                if scope_error:
                    errors.append(CellError(row_no, "district", scope_error))
                    continue
                lines.append(_GridLine(
                    row=row_no, path=path, branch=clean_name(cell(cells, "branch")) or None,
                    neighbours=split_names(cell(cells, "adjacent")),
                ))
            # every grid known by name: the existing ones and this file's
            by_community: dict[tuple[str, str, str], set[str]] = defaultdict(set)
            by_subdistrict: dict[tuple[str, str], dict[str, list[GridPath]]] = defaultdict(lambda: defaultdict(list))
            known: set[GridPath] = set()
            for g in grids:
                district_name, subdistrict_name, community_name = places.community_paths[g.community_id]
                known.add((district_name, subdistrict_name, community_name, g.name))
            known.update(line.path for line in lines)
            for d, s, c, g_name in known:
                by_community[(d, s, c)].add(g_name)
                by_subdistrict[(d, s)][g_name].append((d, s, c, g_name))
            pairs: list[tuple[GridPath, GridPath]] = []
            for line in lines:
                for neighbour in line.neighbours:
                    other, neighbour_error = _resolve_neighbour(neighbour, line.path, by_community, by_subdistrict)
                    if neighbour_error:
                        errors.append(CellError(line.row, "adjacent", neighbour_error))
                    elif other is not None:
                        pairs.append((line.path, other))
            if errors:
                raise _reject(errors, titles, columns, rows)
            if rows == 0:
                raise RosterInvalid("文件中没有数据行: 请在表头下方填写区、街道、社区、网格", [])
            inserted, new_grids = await _upsert_hierarchy(conn, lines, pairs)
            # A hierarchy row is one grid; it is unchanged when its grid existed already. The
            # places and links counted in `inserted` are more than the rows (districts,
            # subdistricts, communities and adjacency are new too).
            result = await _finish(conn, RosterKind.hierarchy, file, rows, inserted, actor, None, 0,
                                   unchanged=max(rows - new_grids, 0))
            result.skipped_total_rows = totals
            if dry_run:
                raise _Rolledback
    except _Rolledback:
        result.batch_id = None
    return result


async def _upsert_hierarchy(
    conn: Conn, lines: list[_GridLine], pairs: list[tuple[GridPath, GridPath]]
) -> tuple[int, int]:
    """Upsert level by level (one statement each); returns how many places and links are new,
    and how many of them are grids."""
    paths = {line.path for line in lines} | {other for _, other in pairs}
    district_ids, new_districts = await hierarchy_db.upsert_districts(
        conn, names=sorted({p[0] for p in paths})
    )
    sub_keys = sorted({(district_ids[p[0]], p[1]) for p in paths})
    sub_ids, new_subs = await hierarchy_db.upsert_subdistricts(
        conn, district_ids=[k[0] for k in sub_keys], names=[k[1] for k in sub_keys]
    )

    def sub_id(p: GridPath) -> int:
        return sub_ids[(district_ids[p[0]], p[1])]

    community_keys = sorted({(sub_id(p), p[2]) for p in paths})
    community_ids, new_communities = await hierarchy_db.upsert_communities(
        conn, subdistrict_ids=[k[0] for k in community_keys], names=[k[1] for k in community_keys]
    )

    def community_id(p: GridPath) -> int:
        return community_ids[(sub_id(p), p[2])]

    branches: dict[tuple[int, str], str | None] = {}
    for line in lines:
        key = (community_id(line.path), line.path[3])
        branches[key] = line.branch or branches.get(key)
    for _, other in pairs:
        branches.setdefault((community_id(other), other[3]), None)
    grid_keys = sorted(branches)
    grid_ids, new_grids = await hierarchy_db.upsert_grids(
        conn, community_ids=[k[0] for k in grid_keys], names=[k[1] for k in grid_keys],
        branch_names=[branches[k] for k in grid_keys],
    )

    def grid_id(p: GridPath) -> int:
        return grid_ids[(community_id(p), p[3])]

    new_links = await hierarchy_db.insert_grid_adjacency(
        conn, grid_ids=[grid_id(a) for a, _ in pairs], neighbour_ids=[grid_id(b) for _, b in pairs]
    )
    return new_districts + new_subs + new_communities + new_grids + new_links, new_grids
