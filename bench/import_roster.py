"""Import benchmark: a synthetic city and an N-row member roster (CSV), imported for real.

    .venv/bin/python -m bench.import_roster --rows 1000000 [--with-temporal]

Starts its own embedded Postgres in a temp dir, migrates, imports the city's hierarchy and units
through the roster import, then measures on the same member rows:
  (a) raw COPY of the CSV into an unlogged, unconstrained table (the baseline the issue names),
  (b) the full member import: parse + validate + stage + resolve + member, registration and
      status-history rows in one transaction; rows/s and `ratio_to_raw_copy` = (b) / (a).
  (b2) the cost of just writing the result: the rows (b) wrote to member, member_registration
      and registration_event are exported, the three tables emptied, and the same rows COPYed
      back into the real tables (every index, every foreign-key trigger) in one transaction;
      `ratio_to_copy_into_tables` = (b) / (b2). Afterwards the database holds exactly what (b)
      left, ids included, so the re-import below runs on the import's own result.
  --breakdown: the same exported rows COPYed into scratch copies of the three tables, unlogged
      without indexes, logged without indexes, logged with the same indexes (no FK triggers):
      where the time of (b2) goes, each step measured.
  (d) the same file imported again into emptied tables as `sbd_app`, a non-superuser role with
      the grants a city's production role has (APP_ROLE_GRANTS: connect and TEMP on the database,
      DML on the schema's tables, their sequences; it owns nothing and may not set
      session_replication_role): the import's ordinary path, each row's foreign keys checked by
      Postgres' per-row triggers. `path` and `app_path` print which path each import took;
      `ratio_nonsuperuser` = (d) / (b) (goal <= 2).
  (c) with --with-temporal: a second roster of N new people imported with a local Temporal dev
      server and a worker running: wall time from the start of the import until the cohort
      workflow has scheduled its first reminder timer (reminders are durable timers of that
      one workflow, so "every registration has its reminders scheduled" is that moment).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import io
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from db import aggregates as aggregates_db
from db import member as member_db
from db.migrate import migrate
from db.pool import Pool, connect, open_pool
from domain.roster import id_check_digit
from schemas.auth import SYSTEM_ACTOR

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬斌宇浩凯健俊帆帅旭宁"
_SKILLS = ("法律咨询", "医疗", "心理疏导", "水电维修", "教育辅导", "文艺", "摄影", "驾驶", "计算机", "财会",
           "理发", "书法", "翻译", "家电维修", "急救")
_FREE = ("周六上午、周日全天", "工作日晚上", "周末", "每天晚上", "周一至周五晚上", "周六全天", "周日下午",
         "周三晚上、周六上午", "", "星期二下午")
MEMBER_HEADER = ("序号", "姓名", "性别", "手机号码", "身份证号", "工作单位", "街道", "居住社区", "所在网格",
                 "特长", "可服务时间")


@dataclass(frozen=True)
class SyntheticCity:
    """Names of a generated city: (district, subdistrict, community, [grids]) and unit names."""

    communities: list[tuple[str, str, str, list[str]]]
    units: list[str]


def synthetic_city(
    prefix: str, *, districts: int = 2, subdistricts: int = 3, communities: int = 5, grids: int = 4,
    units: int = 20,
) -> SyntheticCity:
    """A small regular city; `prefix` keeps names apart from other data in the same database."""
    places = []
    for d in range(districts):
        district = f"{prefix}第{d + 1}区"
        for s in range(subdistricts):
            subdistrict = f"{prefix}{d + 1}-{s + 1}街道"
            for c in range(communities):
                community = f"{prefix}幸福{d + 1}{s + 1}{c + 1}社区"
                places.append((district, subdistrict, community, [f"{k + 1}号网格" for k in range(grids)]))
    unit_names = [f"{prefix}第{u + 1}单位" for u in range(units)]
    return SyntheticCity(communities=places, units=unit_names)


def hierarchy_csv(city: SyntheticCity) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("区", "街道", "社区", "网格", "网格党支部", "相邻网格"))
    for district, subdistrict, community, grids in city.communities:
        for i, grid in enumerate(grids):
            neighbours = "、".join(g for j, g in enumerate(grids) if abs(i - j) == 1)
            writer.writerow((district, subdistrict, community, grid, f"{community}{grid}党支部", neighbours))
    return out.getvalue().encode("utf-8")


def units_csv(city: SyntheticCity) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("单位名称", "单位党组织", "单位类型", "所在社区", "街道", "联系人", "联系电话"))
    for i, unit in enumerate(city.units):
        _, subdistrict, community, _ = city.communities[i % len(city.communities)]
        writer.writerow((unit, f"{unit}党委", ("机关", "企业", "事业单位")[i % 3], community, subdistrict,
                         "王主任", f"139{i:08d}"))
    return out.getvalue().encode("utf-8")


def id_number(region: int, born: date, seq: int) -> str:
    first17 = f"{region:06d}{born:%Y%m%d}{seq:03d}"
    return first17 + id_check_digit(first17)


def member_rows(city: SyntheticCity, rows: int, *, seed: int) -> Iterator[list[str]]:
    """`rows` valid member rows with distinct ID numbers (the seed picks region and phones)."""
    rng = random.Random(seed)
    region = rng.randrange(110000, 660000)
    phone_base = rng.randrange(0, 10**8)
    first_day = date(1960, 1, 1) + timedelta(days=rng.randrange(0, 3000))
    places = city.communities
    units = city.units
    skills_choices = ["、".join(rng.sample(_SKILLS, k)) for k in (0, 1, 2, 3) for _ in range(20)]
    for i in range(rows):
        _, subdistrict, community, grids = places[i % len(places)]
        seq = i % 1000
        born = first_day + timedelta(days=i // 1000)
        gender = "男" if seq % 2 else "女"
        yield [
            str(i + 1),
            _SURNAMES[i % len(_SURNAMES)] + _GIVEN[(i // 7) % len(_GIVEN)] + _GIVEN[(i // 3) % len(_GIVEN)],
            gender,
            f"1{3 + i % 7}{(phone_base + i) % 10**9:09d}",
            id_number(region, born, seq),
            units[i % len(units)],
            subdistrict,
            community,
            grids[(i // len(places)) % len(grids)],
            skills_choices[i % len(skills_choices)],
            _FREE[i % len(_FREE)],
        ]


def members_csv(city: SyntheticCity, rows: int, *, seed: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(MEMBER_HEADER)
    writer.writerows(member_rows(city, rows, seed=seed))
    return out.getvalue().encode("utf-8")


# ---------------------------------------------------------------------------------------------


async def _baseline_copy(pool: Pool, data: bytes) -> float:
    """Seconds for a raw COPY of the same file into an unconstrained table (CSV parsed by Postgres)."""
    async with pool.acquire() as conn:
        await conn.execute(
            """
            CREATE UNLOGGED TABLE IF NOT EXISTS bench_raw_copy (
                seq text, name text, gender text, phone text, id_number text, unit text,
                subdistrict text, community text, grid text, skills text, free_time text
            )
            """
        )
        await conn.execute("TRUNCATE bench_raw_copy")
        started = time.perf_counter()
        await conn.copy_to_table(
            "bench_raw_copy", source=io.BytesIO(data), format="csv", header=True
        )
        elapsed = time.perf_counter() - started
        await conn.execute("DROP TABLE bench_raw_copy")
    return elapsed


_WRITTEN_TABLES = ("member", "member_registration", "registration_event")


# Where the cost of writing the result goes (--breakdown): the same exported rows COPYed into
# scratch copies of the three tables, first unlogged without indexes (what the raw baseline is),
# then logged (WAL) without indexes, then logged with the real tables' indexes (no FK triggers).
_BREAKDOWN: dict[str, tuple[tuple[str, str], ...]] = {
    "unlogged_no_indexes": (
        ("bench_member", "CREATE UNLOGGED TABLE bench_member (LIKE member)"),
        ("bench_member_registration", "CREATE UNLOGGED TABLE bench_member_registration (LIKE member_registration)"),
        ("bench_registration_event", "CREATE UNLOGGED TABLE bench_registration_event (LIKE registration_event)"),
    ),
    "logged_no_indexes": (
        ("bench_member", "CREATE TABLE bench_member (LIKE member)"),
        ("bench_member_registration", "CREATE TABLE bench_member_registration (LIKE member_registration)"),
        ("bench_registration_event", "CREATE TABLE bench_registration_event (LIKE registration_event)"),
    ),
    "logged_indexes": (
        ("bench_member", "CREATE TABLE bench_member (LIKE member INCLUDING INDEXES)"),
        ("bench_member_registration",
         "CREATE TABLE bench_member_registration (LIKE member_registration INCLUDING INDEXES)"),
        ("bench_registration_event",
         "CREATE TABLE bench_registration_event (LIKE registration_event INCLUDING INDEXES)"),
    ),
}


async def _breakdown(pool: Pool, exported: dict[str, bytes], rows: int, figures: dict[str, Any]) -> None:
    """rows/s of COPYing the import's result into scratch tables of each kind (measured, not derived)."""
    async with pool.acquire() as conn:
        for variant, tables in _BREAKDOWN.items():
            for _, create in tables:
                await conn.execute(create)
            started = time.perf_counter()
            async with conn.transaction():
                for (scratch, _), source in zip(tables, _WRITTEN_TABLES, strict=True):
                    await conn.copy_to_table(scratch, source=io.BytesIO(exported[source]), format="binary")
            elapsed = time.perf_counter() - started
            await conn.execute("DROP TABLE bench_member, bench_member_registration, bench_registration_event")
            figures[f"copy_{variant}_s"] = round(elapsed, 2)
            figures[f"copy_{variant}_rows_per_s"] = round(rows / elapsed)


async def _baseline_copy_into_tables(
    pool: Pool, figures: dict[str, Any], *, rows: int, breakdown: bool
) -> float:
    """Seconds to COPY the import's own result back into the real tables (indexes, FKs and all).

    Only for the benchmark's own database, where those tables hold nothing but that result.
    """
    async with pool.acquire() as conn:
        exported: dict[str, bytes] = {}
        counts: dict[str, str] = {}
        for table in _WRITTEN_TABLES:
            out = io.BytesIO()
            counts[table] = await conn.copy_from_table(table, output=out, format="binary")
            exported[table] = out.getvalue()
        figures["copy_into_tables_table_rows"] = sum(int(c.split()[-1]) for c in counts.values())
        # CASCADE reaches only the (empty) tables that reference member in this fresh database
        await conn.execute("TRUNCATE member, member_registration, registration_event CASCADE")
        started = time.perf_counter()
        restored: dict[str, str] = {}
        async with conn.transaction():
            for table in _WRITTEN_TABLES:
                restored[table] = await conn.copy_to_table(
                    table, source=io.BytesIO(exported[table]), format="binary"
                )
        elapsed = time.perf_counter() - started
        assert restored == counts, (restored, counts)
        await conn.execute("ANALYZE member, member_registration, registration_event")
    if breakdown:
        await _breakdown(pool, exported, rows, figures)
    return elapsed


APP_ROLE = "sbd_app"
# What a city's production role is granted (documented in docs/benchmarks.md): no superuser, no
# ownership, no CREATE; DML on the application's tables and TEMP for the import's staging tables.
APP_ROLE_GRANTS = (
    f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE",
    f"GRANT CONNECT, TEMPORARY ON DATABASE {{database}} TO {APP_ROLE}",
    f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}",
    f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}",
    f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}",
)


def _path(superuser_replaceable: bool) -> str:
    if superuser_replaceable:
        return "set-based (superuser: per-row FK triggers replaced by one locking check)"
    return "ordinary (per-row FK triggers on)"


async def _import_path(pool: Pool) -> str:
    """Which write path the import takes on this pool's connections (the import's own test)."""
    async with pool.acquire() as conn:
        return _path(await member_db.fk_triggers_replaceable(conn))


async def _import_as_app_role(pool: Pool, dsn: str, data: bytes, figures: dict[str, Any], *,
                              aggregate_triggers: bool = False) -> None:
    """(d): the three tables emptied, the same file imported again as the non-superuser role.

    `aggregate_triggers` (--compare-trigger-skip, a second (d)): the import's statement runs with
    the maintained aggregates' triggers as they run for any other writer, instead of skipping them
    under shuangbaodao.bulk and settling once (migrations 0028/0029): the same import as before
    those migrations, for the figure of what the skip saves (`app_triggers_on_import_s`)."""
    from services.roster_import import import_roster

    async with pool.acquire() as conn:
        # CASCADE reaches only the (empty) tables that reference member in this fresh database
        await conn.execute("TRUNCATE member, member_registration, registration_event CASCADE")
        await aggregates_db.rebuild(conn)
        await conn.execute("VACUUM ANALYZE member, member_registration, registration_event")
        database = await conn.fetchval("SELECT current_database()")
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", APP_ROLE):
            for statement in APP_ROLE_GRANTS:
                await conn.execute(statement.format(database=database))
    app_dsn = dsn.replace("//postgres:@", f"//{APP_ROLE}:@", 1)   # trust auth on the local socket
    assert app_dsn != dsn, "the embedded server's URI names its superuser postgres"
    app_pool = await open_pool(app_dsn, min_size=1, max_size=4)
    bulk, settle = aggregates_db.bulk_statements, aggregates_db.settle
    try:
        if aggregate_triggers:
            async def no_settle(conn: Any) -> None:
                return None
            aggregates_db.bulk_statements = lambda conn: contextlib.nullcontext()  # type: ignore[assignment,return-value]
            aggregates_db.settle = no_settle
        started = time.perf_counter()
        result = await import_roster(app_pool, data, actor=SYSTEM_ACTOR, file_name="members.csv")
        elapsed = time.perf_counter() - started
        if not aggregate_triggers:
            figures["app_role_superuser"] = await app_pool.fetchval("SELECT current_setting('is_superuser')")
            figures["app_path"] = await _import_path(app_pool)
    finally:
        aggregates_db.bulk_statements, aggregates_db.settle = bulk, settle
        await app_pool.close()
    async with pool.acquire() as conn:
        differing = [a.table for a in aggregates_db.AGGREGATES if await aggregates_db.differences(conn, a, limit=1)]
    assert not differing, f"aggregates differ from their recomputation after the import: {differing}"
    if aggregate_triggers:
        figures["app_triggers_on_import_s"] = round(elapsed, 2)
        figures["trigger_skip_saved_s"] = round(elapsed - figures["app_import_s"], 2)
        return
    figures["app_import_s"] = round(elapsed, 2)
    figures["app_import_rows_per_s"] = round(figures["rows"] / elapsed)
    figures["app_inserted"] = result.inserted
    figures["app_registrations"] = result.registrations
    figures["ratio_nonsuperuser"] = round(elapsed / figures["import_s"], 3)


async def _timer_started(client: Client, workflow_id: str) -> None:
    """Wait until the workflow has scheduled its first durable timer (its first reminder)."""
    handle = client.get_workflow_handle(workflow_id)
    while True:
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
                return
        await asyncio.sleep(0.2)


async def _import_with_temporal(pool: Pool, data: bytes, figures: dict[str, Any]) -> None:
    """(c): the same import with a Temporal dev server and a worker; time until reminders are scheduled."""
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from services.roster_import import import_roster
    from stack.binaries import temporal_cli
    from workers.registry import all_activities, all_workflows
    from workflows.member_registration import cohort_workflow_id

    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter, dev_server_existing_path=str(temporal_cli()),
    )
    try:
        async with Worker(
            env.client, task_queue="bench-import", workflows=all_workflows(), activities=all_activities(pool),
        ):
            started = time.perf_counter()
            result = await import_roster(
                pool, data, actor=SYSTEM_ACTOR, file_name="members-temporal.csv", client=env.client,
                task_queue="bench-import",
            )
            figures["temporal_import_s"] = round(time.perf_counter() - started, 2)
            assert result.cohort_id is not None
            await asyncio.wait_for(_timer_started(env.client, cohort_workflow_id(result.cohort_id)), 600)
            figures["temporal_until_reminders_scheduled_s"] = round(time.perf_counter() - started, 2)
    finally:
        await env.shutdown()


async def run(
    rows: int, *, with_temporal: bool, keep: Path | None, breakdown: bool = False, app_role: bool = True,
    paths_only: bool = False, compare_trigger_skip: bool = False,
) -> dict[str, Any]:
    from services.roster_import import import_roster
    from stack.postgres import start_embedded_postgres

    figures: dict[str, Any] = {"rows": rows}
    with tempfile.TemporaryDirectory(prefix="sbd-bench-") as tmp:
        base = keep or Path(tmp)
        server = start_embedded_postgres(base / "pg")
        try:
            dsn = server.get_uri()
            conn = await connect(dsn)
            await migrate(conn)
            await conn.close()
            pool = await open_pool(dsn, min_size=1, max_size=4)
            try:
                city = synthetic_city(
                    "基准", districts=2, subdistricts=6, communities=25, grids=10, units=2000
                )
                await import_roster(pool, hierarchy_csv(city), actor=SYSTEM_ACTOR, file_name="hierarchy.csv")
                await import_roster(pool, units_csv(city), actor=SYSTEM_ACTOR, file_name="units.csv")
                started = time.perf_counter()
                data = members_csv(city, rows, seed=7)
                figures["generate_s"] = round(time.perf_counter() - started, 2)
                figures["file_mb"] = round(len(data) / 1e6, 1)
                copy_s = await _baseline_copy(pool, data)
                figures["copy_s"] = round(copy_s, 2)
                figures["copy_rows_per_s"] = round(rows / copy_s)
                figures["path"] = await _import_path(pool)
                started = time.perf_counter()
                result = await import_roster(pool, data, actor=SYSTEM_ACTOR, file_name="members.csv")
                import_s = time.perf_counter() - started
                figures["import_s"] = round(import_s, 2)
                figures["import_rows_per_s"] = round(rows / import_s)
                figures["ratio_to_raw_copy"] = round(copy_s / import_s, 3)
                figures["inserted"] = result.inserted
                figures["registrations"] = result.registrations
                if not paths_only:
                    tables_s = await _baseline_copy_into_tables(pool, figures, rows=rows, breakdown=breakdown)
                    figures["copy_into_tables_s"] = round(tables_s, 2)
                    figures["copy_into_tables_rows_per_s"] = round(rows / tables_s)
                    figures["ratio_to_copy_into_tables"] = round(tables_s / import_s, 3)
                    started = time.perf_counter()
                    again = await import_roster(pool, data, actor=SYSTEM_ACTOR, file_name="members.csv")
                    figures["reimport_s"] = round(time.perf_counter() - started, 2)
                    figures["reimport_inserted"] = again.inserted
                    figures["reimport_registrations"] = again.registrations
                if app_role:
                    await _import_as_app_role(pool, dsn, data, figures)
                    if compare_trigger_skip:
                        await _import_as_app_role(pool, dsn, data, figures, aggregate_triggers=True)
                if with_temporal:
                    # a second roster of new people (another seed), so the cohort is fresh
                    await _import_with_temporal(pool, members_csv(city, rows, seed=8), figures)
            finally:
                await pool.close()
        finally:
            server.cleanup()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description="Roster import benchmark")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--with-temporal", action="store_true")
    parser.add_argument(
        "--breakdown", action="store_true",
        help="also COPY the import's result into unlogged / logged / indexed scratch tables",
    )
    parser.add_argument(
        "--no-app-role", action="store_true", help="skip (d), the import as a non-superuser role"
    )
    parser.add_argument(
        "--paths-only", action="store_true",
        help="only (a), (b) and (d): the two write paths beside the raw COPY, without (b2) and the re-import",
    )
    parser.add_argument(
        "--compare-trigger-skip", action="store_true",
        help="after (d), (d) again with the aggregates' triggers running as before migrations 0028/0029",
    )
    parser.add_argument("--keep", type=Path, default=None, help="data directory to use instead of a temp dir")
    args = parser.parse_args()
    figures = asyncio.run(
        run(
            args.rows, with_temporal=args.with_temporal, keep=args.keep, breakdown=args.breakdown,
            app_role=not args.no_app_role, paths_only=args.paths_only,
            compare_trigger_skip=args.compare_trigger_skip,
        )
    )
    for key, value in figures.items():
        print(f"{key:>24}: {value}")


if __name__ == "__main__":
    main()
