"""Evaluation runs and their results, written set-based.

Each write is one `INSERT ... SELECT ... GROUP BY` that mirrors the rules in domain/evaluation.py;
the thresholds arrive as numbers computed there (`Thresholds`), so SQL and Python apply the same
figures. Every write first deletes what the same step wrote before for the same run (and member
range), inside the caller's transaction: a retried activity rewrites, it never doubles.

Members are written per member-id range so a city of a million members is a handful of
statements that can run on several connections at once (INSERT ... SELECT does not use parallel
query; two connections do use two cores).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

import asyncpg

from db.pool import Conn
from domain.evaluation import (
    REGISTERED_STATUSES,
    RESOLVED_TASK_STATUSES,
    CommunityFigures,
    MemberFigures,
    Thresholds,
    UnitFigures,
)
from domain.scope import HierarchyPath, ScopeFilter
from schemas.evaluation import EvaluationRun, EvaluationScope, Grade


@dataclass(frozen=True, slots=True)
class CampaignWindowRow:
    """What a campaign's evaluation takes from it: its window, scope, rule and quotas."""

    id: int
    name: str
    window_start: datetime
    window_end: datetime
    scope_district_ids: list[int]
    scope_subdistrict_ids: list[int]
    scope_community_ids: list[int]
    evaluation_rule: dict[str, Any]
    quotas: dict[str, Any]


def _scope_args(scope: EvaluationScope) -> tuple[list[int], list[int], list[int]]:
    return scope.district_ids, scope.subdistrict_ids, scope.community_ids


async def insert_run(
    conn: Conn,
    *,
    campaign_id: int | None,
    period_kind: str,
    period_label: str,
    period_start: datetime,
    period_end: datetime,
    scope: dict[str, Any],
    rule: dict[str, Any],
    workflow_id: str | None,
) -> int:
    """The run's id; opening the same workflow's run again returns the first one."""
    run_id: int = await conn.fetchval(
        """
        INSERT INTO evaluation_run (campaign_id, period_kind, period_label, period_start, period_end,
                                    scope, rule, workflow_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (workflow_id) DO UPDATE SET workflow_id = EXCLUDED.workflow_id
        RETURNING id
        """,
        campaign_id, period_kind, period_label, period_start, period_end, scope, rule, workflow_id,
    )
    return run_id


async def set_run_workflow(conn: Conn, *, run_id: int, workflow_id: str) -> None:
    await conn.execute("UPDATE evaluation_run SET workflow_id = $2 WHERE id = $1", run_id, workflow_id)


async def finish_run(conn: Conn, *, run_id: int, status: str, report_dir: str | None) -> None:
    await conn.execute(
        """
        UPDATE evaluation_run SET status = $2, report_dir = coalesce($3, report_dir),
               finished_at = coalesce(finished_at, now())
        WHERE id = $1
        """,
        run_id, status, report_dir,
    )


async def select_run(conn: Conn, *, run_id: int) -> EvaluationRun | None:
    row = await conn.fetchrow("SELECT * FROM evaluation_run WHERE id = $1", run_id)
    return None if row is None else EvaluationRun.model_validate(dict(row))


async def select_runs(conn: Conn, *, limit: int) -> list[EvaluationRun]:
    rows = await conn.fetch("SELECT * FROM evaluation_run ORDER BY id DESC LIMIT $1", limit)
    return [EvaluationRun.model_validate(dict(r)) for r in rows]


async def select_campaign_window(conn: Conn, *, campaign_id: int) -> CampaignWindowRow | None:
    """The campaign's window, scope, rule and quotas, when the campaign tables (0007) exist."""
    exists = await conn.fetchval("SELECT to_regclass('campaign') IS NOT NULL")
    if not exists:
        return None
    row = await conn.fetchrow(
        """
        SELECT id, name, window_start, window_end, scope_district_ids, scope_subdistrict_ids,
               scope_community_ids, evaluation_rule, quotas
        FROM campaign WHERE id = $1
        """,
        campaign_id,
    )
    return None if row is None else CampaignWindowRow(**row)


async def select_member_id_bounds(conn: Conn) -> tuple[int, int] | None:
    row = await conn.fetchrow("SELECT min(id) AS lo, max(id) AS hi FROM member")
    if row is None or row["lo"] is None:
        return None
    return int(row["lo"]), int(row["hi"])


async def write_member_partition(
    conn: Conn,
    *,
    run_id: int,
    lo: int,
    hi: int,
    scope: EvaluationScope,
    t: Thresholds,
    period_start: datetime,
    period_end: datetime,
) -> int:
    """(Re)write member results for member ids lo..hi; the number of members written."""
    await conn.execute(
        "DELETE FROM member_evaluation WHERE run_id = $1 AND member_id BETWEEN $2 AND $3", run_id, lo, hi
    )
    status = await conn.execute(
        """
        WITH scoped AS (
            SELECT c.id, c.subdistrict_id, s.district_id
            FROM community c JOIN subdistrict s ON s.id = c.subdistrict_id
            WHERE (cardinality($2::bigint[]) + cardinality($3::bigint[]) + cardinality($4::bigint[]) = 0)
               OR s.district_id = ANY($2::bigint[]) OR c.subdistrict_id = ANY($3::bigint[])
               OR c.id = ANY($4::bigint[])
        ), m AS (
            SELECT m.id, m.unit_id, m.home_community_id
            FROM member m JOIN scoped ON scoped.id = m.home_community_id
            WHERE m.id BETWEEN $5 AND $6
        ), led AS (
            SELECT ep.member_id,
                   count(*)::int AS services,
                   coalesce(sum((ep.parts->>'hours')::numeric), 0) AS hours,
                   sum(ep.points) AS points,
                   count(r.score)::int AS ratings,
                   round(avg(r.score), 2) AS avg_rating,
                   array_agg(ep.id ORDER BY ep.id) AS ledger_ids
            FROM evaluation_points ep
            LEFT JOIN resident_rating r ON r.task_id = ep.task_id
            WHERE ep.member_id BETWEEN $5 AND $6 AND ep.awarded_at >= $7 AND ep.awarded_at < $8
            GROUP BY ep.member_id
        ), reg AS (
            SELECT DISTINCT ON (member_id) member_id, status
            FROM member_registration WHERE member_id BETWEEN $5 AND $6
            ORDER BY member_id, id DESC
        ), f AS (
            SELECT m.id, m.unit_id, m.home_community_id,
                   coalesce(l.services, 0) AS services, coalesce(l.hours, 0) AS hours,
                   coalesce(l.points, 0) AS points, coalesce(l.ratings, 0) AS ratings, l.avg_rating,
                   coalesce(l.ledger_ids, '{}') AS ledger_ids,
                   coalesce(reg.status, 'none') AS status,
                   coalesce(reg.status = ANY($18::text[]), false) AS registered
            FROM m LEFT JOIN led l ON l.member_id = m.id LEFT JOIN reg ON reg.member_id = m.id
        ), g AS (
            SELECT f.*,
                   $9::numeric * f.points + $10::numeric * f.hours + $11::numeric * f.services AS score,
                   (f.services >= $12::numeric AND f.hours >= $13::numeric) AS quota_met,
                   (f.services >= $15::numeric AND f.hours >= $16::numeric) AS basic_ok
            FROM f
        )
        INSERT INTO member_evaluation (run_id, member_id, unit_id, community_id, services, hours,
                                       evaluation_points, ratings, avg_rating, score, quota_met,
                                       registration_status, registered, grade, ledger_ids, explanation)
        SELECT $1, g.id, g.unit_id, g.home_community_id, g.services, g.hours, g.points, g.ratings,
               g.avg_rating, g.score, g.quota_met, g.status, g.registered,
               CASE WHEN NOT g.registered THEN '不合格'
                    WHEN g.quota_met AND g.score >= $14::numeric THEN '优秀'
                    WHEN g.quota_met THEN '合格'
                    WHEN g.basic_ok THEN '基本合格'
                    ELSE '不合格' END,
               g.ledger_ids,
               jsonb_build_object('registered', g.registered, 'services_ok', g.services >= $12::numeric,
                                  'hours_ok', g.hours >= $13::numeric, 'excellent_ok', g.score >= $14::numeric,
                                  'basic_ok', g.basic_ok, 'months', $17::int)
        FROM g
        """,
        run_id, *_scope_args(scope), lo, hi, period_start, period_end,
        t.weight_points, t.weight_hours, t.weight_services, t.quota_services, t.quota_hours,
        t.excellent_score, t.basic_services, t.basic_hours, t.months, list(REGISTERED_STATUSES),
    )
    return int(status.split()[-1])



async def write_unit_results(conn: Conn, *, run_id: int, t: Thresholds) -> int:
    await conn.execute("DELETE FROM unit_evaluation WHERE run_id = $1", run_id)
    status = await conn.execute(
        """
        WITH u AS (
            SELECT unit_id, count(*)::int AS members,
                   count(*) FILTER (WHERE registered)::int AS registered,
                   count(*) FILTER (WHERE quota_met)::int AS quota_met,
                   sum(services)::int AS services
            FROM member_evaluation WHERE run_id = $1 AND unit_id IS NOT NULL
            GROUP BY unit_id
        ), r AS (
            SELECT u.*,
                   round(u.registered::numeric / u.members, 4) AS registration_rate,
                   round(u.quota_met::numeric / u.members, 4) AS completion_rate,
                   round(u.services::numeric / u.members, 2) AS services_per_member,
                   -- exact comparisons: 94.9 % is below 95 % however it rounds
                   (u.registered >= $2::numeric * u.members AND u.quota_met >= $3::numeric * u.members) AS eligible,
                   (u.registered >= $4::numeric * u.members AND u.quota_met >= $4::numeric * u.members) AS basic_ok
            FROM u
        )
        INSERT INTO unit_evaluation (run_id, unit_id, members, registered, quota_met, services,
                                     registration_rate, services_per_member, completion_rate, eligible,
                                     grade, stars, rank, explanation)
        SELECT $1, r.unit_id, r.members, r.registered, r.quota_met, r.services, r.registration_rate,
               r.services_per_member, r.completion_rate, r.eligible,
               CASE WHEN r.eligible AND r.services >= $5::numeric * r.members THEN '优秀'
                    WHEN r.eligible THEN '合格'
                    WHEN r.basic_ok THEN '基本合格'
                    ELSE '不合格' END,
               1 + (least(r.registration_rate, r.completion_rate) >= $6::numeric)::int + (least(r.registration_rate, r.completion_rate) >= $7::numeric)::int + (least(r.registration_rate, r.completion_rate) >= $8::numeric)::int + (least(r.registration_rate, r.completion_rate) >= $9::numeric)::int,
               rank() OVER (ORDER BY r.completion_rate DESC, r.registration_rate DESC,
                                     r.services_per_member DESC),
               jsonb_build_object('min_registration_rate', $2::numeric, 'min_completion_rate', $3::numeric,
                                  'basic_rate', $4::numeric, 'excellent_services', $5::numeric)
        FROM r
        """,
        run_id, t.unit_min_registration_rate, t.unit_min_completion_rate, t.unit_basic_rate,
        t.unit_excellent_services, *t.star_bands,
    )
    return int(status.split()[-1])


async def write_community_results(
    conn: Conn,
    *,
    run_id: int,
    scope: EvaluationScope,
    t: Thresholds,
    period_start: datetime,
    period_end: datetime,
) -> int:
    await conn.execute("DELETE FROM community_evaluation WHERE run_id = $1", run_id)
    status = await conn.execute(
        """
        WITH scoped AS (
            SELECT c.id, c.subdistrict_id, s.district_id
            FROM community c JOIN subdistrict s ON s.id = c.subdistrict_id
            WHERE (cardinality($2::bigint[]) + cardinality($3::bigint[]) + cardinality($4::bigint[]) = 0)
               OR s.district_id = ANY($2::bigint[]) OR c.subdistrict_id = ANY($3::bigint[])
               OR c.id = ANY($4::bigint[])
        ), mem AS (
            SELECT community_id, count(*)::int AS members, count(*) FILTER (WHERE registered)::int AS registered
            FROM member_evaluation WHERE run_id = $1 GROUP BY community_id
        ), nd AS (
            SELECT n.id, n.community_id, n.created_at,
                   (SELECT min(a.accepted_at) FROM task t JOIN assignment a ON a.task_id = t.id
                    WHERE t.need_id = n.id AND a.accepted_at < $6) AS first_accept,
                   EXISTS (SELECT 1 FROM task t WHERE t.need_id = n.id AND t.status = ANY($8::text[])) AS resolved
            FROM need n JOIN scoped ON scoped.id = n.community_id
            WHERE n.created_at >= $5 AND n.created_at < $6 AND n.status <> 'rejected' AND n.duplicate_of IS NULL
        ), ns AS (
            SELECT community_id, count(*)::int AS needs, count(first_accept)::int AS responded,
                   count(*) FILTER (WHERE resolved)::int AS resolved,
                   round(avg(extract(epoch FROM first_accept - created_at)) / 3600, 2) AS avg_hours
            FROM nd GROUP BY community_id
        ), rt AS (
            SELECT t.community_id, count(*)::int AS ratings,
                   count(*) FILTER (WHERE r.score >= $7)::int AS satisfied
            FROM resident_rating r JOIN task t ON t.id = r.task_id JOIN scoped ON scoped.id = t.community_id
            WHERE r.rated_at >= $5 AND r.rated_at < $6
            GROUP BY t.community_id
        ), gr AS (
            SELECT g.community_id, count(*)::int AS grids,
                   count(*) FILTER (WHERE nullif(g.branch_name, '') IS NOT NULL)::int AS with_branch,
                   count(*) FILTER (WHERE EXISTS (
                       SELECT 1 FROM member_registration mr
                       WHERE mr.grid_id = g.id AND mr.status = ANY($9::text[])))::int AS with_members
            FROM grid g JOIN scoped ON scoped.id = g.community_id
            GROUP BY g.community_id
        ), rates AS (
            SELECT sc.id, sc.subdistrict_id, sc.district_id,
                   coalesce(mem.members, 0) AS members, coalesce(mem.registered, 0) AS registered,
                   coalesce(ns.needs, 0) AS needs, coalesce(ns.responded, 0) AS responded,
                   coalesce(ns.resolved, 0) AS resolved, coalesce(rt.ratings, 0) AS ratings,
                   coalesce(rt.satisfied, 0) AS satisfied, ns.avg_hours,
                   coalesce(gr.grids, 0) AS grids, coalesce(gr.with_branch, 0) AS with_branch,
                   coalesce(gr.with_members, 0) AS with_members,
                   round(ns.responded::numeric / nullif(ns.needs, 0), 4) AS response_rate,
                   round(ns.resolved::numeric / nullif(ns.needs, 0), 4) AS resolution_rate,
                   round(rt.satisfied::numeric / nullif(rt.ratings, 0), 4) AS satisfaction_rate,
                   round(gr.with_branch::numeric / nullif(gr.grids, 0), 4) AS branch_coverage,
                   round(gr.with_members::numeric / nullif(gr.grids, 0), 4) AS member_coverage
            FROM scoped sc
            LEFT JOIN mem ON mem.community_id = sc.id
            LEFT JOIN ns ON ns.community_id = sc.id
            LEFT JOIN rt ON rt.community_id = sc.id
            LEFT JOIN gr ON gr.community_id = sc.id
        ), comp AS (
            SELECT rates.*,
                   round((coalesce(response_rate, 0) + coalesce(resolution_rate, 0) + coalesce(satisfaction_rate, 0))
                         / nullif((response_rate IS NOT NULL)::int + (resolution_rate IS NOT NULL)::int
                                  + (satisfaction_rate IS NOT NULL)::int, 0), 4) AS composite
            FROM rates
        )
        INSERT INTO community_evaluation (run_id, community_id, subdistrict_id, district_id, members,
            registered, needs, responded, resolved, ratings, satisfied, response_rate, resolution_rate,
            satisfaction_rate, avg_hours_to_respond, grids, grids_with_branch, grids_with_members,
            branch_coverage, member_coverage, composite, stars, rank, explanation)
        SELECT $1, id, subdistrict_id, district_id, members, registered, needs, responded, resolved,
               ratings, satisfied, response_rate, resolution_rate, satisfaction_rate, avg_hours, grids,
               with_branch, with_members, branch_coverage, member_coverage, composite,
               1 + (composite >= $10::numeric)::int + (composite >= $11::numeric)::int + (composite >= $12::numeric)::int + (composite >= $13::numeric)::int,
               rank() OVER (ORDER BY composite DESC NULLS LAST),
               jsonb_build_object('satisfied_min_score', $7::int,
                                  'star_bands', jsonb_build_array($10::numeric, $11::numeric, $12::numeric, $13::numeric))
        FROM comp
        """,
        run_id, *_scope_args(scope), period_start, period_end, t.satisfied_min_score,
        list(RESOLVED_TASK_STATUSES), list(REGISTERED_STATUSES), *t.star_bands,
    )
    return int(status.split()[-1])


async def write_area_results(conn: Conn, *, run_id: int, t: Thresholds) -> int:
    await conn.execute("DELETE FROM area_evaluation WHERE run_id = $1", run_id)
    status = await conn.execute(
        """
        WITH agg AS (
            SELECT lv.level, lv.area_id, count(*)::int AS communities,
                   sum(ce.members)::int AS members, sum(ce.registered)::int AS registered,
                   sum(ce.needs)::int AS needs, sum(ce.responded)::int AS responded,
                   sum(ce.resolved)::int AS resolved, sum(ce.ratings)::int AS ratings,
                   sum(ce.satisfied)::int AS satisfied, sum(ce.grids)::int AS grids,
                   sum(ce.grids_with_branch)::int AS with_branch, sum(ce.grids_with_members)::int AS with_members
            FROM community_evaluation ce
            CROSS JOIN LATERAL (VALUES ('subdistrict', ce.subdistrict_id), ('district', ce.district_id),
                                       ('city', 0::bigint)) AS lv(level, area_id)
            WHERE ce.run_id = $1
            GROUP BY lv.level, lv.area_id
        ), rates AS (
            SELECT agg.*,
                   round(registered::numeric / nullif(members, 0), 4) AS registration_rate,
                   round(responded::numeric / nullif(needs, 0), 4) AS response_rate,
                   round(resolved::numeric / nullif(needs, 0), 4) AS resolution_rate,
                   round(satisfied::numeric / nullif(ratings, 0), 4) AS satisfaction_rate,
                   round(with_branch::numeric / nullif(grids, 0), 4) AS branch_coverage,
                   round(with_members::numeric / nullif(grids, 0), 4) AS member_coverage
            FROM agg
        ), comp AS (
            SELECT rates.*,
                   round((coalesce(response_rate, 0) + coalesce(resolution_rate, 0) + coalesce(satisfaction_rate, 0))
                         / nullif((response_rate IS NOT NULL)::int + (resolution_rate IS NOT NULL)::int
                                  + (satisfaction_rate IS NOT NULL)::int, 0), 4) AS composite
            FROM rates
        )
        INSERT INTO area_evaluation (run_id, level, area_id, communities, members, registered,
            registration_rate, needs, response_rate, resolution_rate, satisfaction_rate, grids,
            branch_coverage, member_coverage, stars, rank)
        SELECT $1, level, area_id, communities, members, registered, registration_rate, needs,
               response_rate, resolution_rate, satisfaction_rate, grids, branch_coverage, member_coverage,
               1 + (composite >= $2::numeric)::int + (composite >= $3::numeric)::int + (composite >= $4::numeric)::int + (composite >= $5::numeric)::int,
               rank() OVER (PARTITION BY level ORDER BY composite DESC NULLS LAST)
        FROM comp
        """,
        run_id, *t.star_bands,
    )
    return int(status.split()[-1])


# --- reads --------------------------------------------------------------------------------------
# Reads filter by the actor's ScopeFilter ($2..$6 = district, subdistrict, community, unit, member).


def _filter_args(scope: ScopeFilter) -> tuple[int | None, ...]:
    return scope.district_id, scope.subdistrict_id, scope.community_id, scope.unit_id, scope.member_id


async def select_member_results(
    conn: Conn, *, run_id: int, scope: ScopeFilter, unit_id: int | None, limit: int | None, offset: int
) -> list[asyncpg.Record]:
    """Member rows with name and phone (the caller masks) and the total, in member id order."""
    return await conn.fetch(
        """
        SELECT me.*, m.name, m.phone, count(*) OVER () AS total
        FROM member_evaluation me
        JOIN member m ON m.id = me.member_id
        LEFT JOIN community_evaluation ce ON ce.run_id = me.run_id AND ce.community_id = me.community_id
        WHERE me.run_id = $1 AND ($7::bigint IS NULL OR me.unit_id = $7)
          AND ($2::bigint IS NULL OR ce.district_id = $2) AND ($3::bigint IS NULL OR ce.subdistrict_id = $3)
          AND ($4::bigint IS NULL OR me.community_id = $4) AND ($5::bigint IS NULL OR me.unit_id = $5)
          AND ($6::bigint IS NULL OR me.member_id = $6)
        ORDER BY me.member_id LIMIT $8 OFFSET $9
        """,
        run_id, *_filter_args(scope), unit_id, limit, offset,
    )


async def select_unit_members(conn: Conn, *, run_id: int, unit_id: int) -> list[asyncpg.Record]:
    """One unit's member rows for its feedback workbook (plain predicates: an index probe on
    (run_id, unit_id) under any plan, once per unit of a city)."""
    return await conn.fetch(
        """
        SELECT me.*, m.name, m.phone
        FROM member_evaluation me JOIN member m ON m.id = me.member_id
        WHERE me.run_id = $1 AND me.unit_id = $2
        ORDER BY me.member_id
        """,
        run_id, unit_id,
    )


async def select_member_page(
    conn: Conn, *, run_id: int, scope: ScopeFilter, after_member_id: int, limit: int
) -> list[asyncpg.Record]:
    """The next `limit` member rows after `after_member_id` (keyset paging for large exports: no
    total, no offset, so each page costs its own rows only)."""
    return await conn.fetch(
        """
        SELECT me.*, m.name, m.phone
        FROM member_evaluation me
        JOIN member m ON m.id = me.member_id
        LEFT JOIN community_evaluation ce ON ce.run_id = me.run_id AND ce.community_id = me.community_id
        WHERE me.run_id = $1 AND me.member_id > $7
          AND ($2::bigint IS NULL OR ce.district_id = $2) AND ($3::bigint IS NULL OR ce.subdistrict_id = $3)
          AND ($4::bigint IS NULL OR me.community_id = $4) AND ($5::bigint IS NULL OR me.unit_id = $5)
          AND ($6::bigint IS NULL OR me.member_id = $6)
        ORDER BY me.member_id LIMIT $8
        """,
        run_id, *_filter_args(scope), after_member_id, limit,
    )


F = TypeVar("F", MemberFigures, UnitFigures, CommunityFigures)


@dataclass(frozen=True, slots=True)
class FiguresRow(Generic[F]):
    """A member's, unit's or community's stored result: its figures as written (rates stay
    Decimal), its name and where it sits (for the scope check)."""

    figures: F
    name: str
    path: HierarchyPath


def _figures_row(row: Any, figures: type[F], path: HierarchyPath) -> FiguresRow[F]:
    values: dict[str, Any] = {f.name: Grade(row[f.name]) if f.name == "grade" else row[f.name] for f in fields(figures)}
    return FiguresRow(figures=figures(**values), name=row["name"], path=path)


async def select_member_result(conn: Conn, *, run_id: int, member_id: int) -> FiguresRow[MemberFigures] | None:
    row = await conn.fetchrow(
        """
        SELECT me.*, m.name, m.phone, ce.district_id, ce.subdistrict_id
        FROM member_evaluation me JOIN member m ON m.id = me.member_id
        LEFT JOIN community_evaluation ce ON ce.run_id = me.run_id AND ce.community_id = me.community_id
        WHERE me.run_id = $1 AND me.member_id = $2
        """,
        run_id, member_id,
    )
    if row is None:
        return None
    figures = MemberFigures(
        services=row["services"], hours=row["hours"], points=row["evaluation_points"], ratings=row["ratings"],
        avg_rating=row["avg_rating"], score=row["score"], quota_met=row["quota_met"],
        registration_status=row["registration_status"], registered=row["registered"], grade=Grade(row["grade"]),
        ledger_ids=tuple(row["ledger_ids"]))
    return FiguresRow(figures=figures, name=row["name"], path=HierarchyPath(
        district_id=row["district_id"], subdistrict_id=row["subdistrict_id"], community_id=row["community_id"],
        unit_id=row["unit_id"], member_id=member_id))


@dataclass(frozen=True, slots=True)
class LedgerLineRow:
    """A credit counted in a member's result: a task's service (title, the resident's rating) or
    a self-logged service record (its start and description), with its points and parts."""

    id: int
    task_id: int | None
    service_record_id: int | None
    points: Decimal
    parts: dict[str, Any]
    awarded_at: datetime
    title: str | None
    category: str | None
    score: int | None
    record_started_at: datetime | None
    record_description: str | None


async def select_ledger_rows(conn: Conn, *, ids: list[int]) -> list[LedgerLineRow]:
    rows = await conn.fetch(
        """
        SELECT ep.id, ep.task_id, ep.service_record_id, ep.points, ep.parts, ep.awarded_at,
               t.title, coalesce(t.category, sr.category) AS category, r.score,
               sr.started_at AS record_started_at, sr.description AS record_description
        FROM evaluation_points ep
        -- A credit is a task's service or a member's approved service record (0013).
        LEFT JOIN task t ON t.id = ep.task_id
        LEFT JOIN service_record sr ON sr.id = ep.service_record_id
        LEFT JOIN resident_rating r ON r.task_id = ep.task_id
        WHERE ep.id = ANY($1::bigint[]) ORDER BY ep.id
        """,
        ids,
    )
    return [LedgerLineRow(**r) for r in rows]


async def select_unit_results(
    conn: Conn, *, run_id: int, scope: ScopeFilter, limit: int | None, offset: int
) -> list[asyncpg.Record]:
    """Units in scope: a unit admin sees its unit; area staff see units located in their area."""
    return await conn.fetch(
        """
        SELECT ue.*, u.name, count(*) OVER () AS total
        FROM unit_evaluation ue JOIN reporting_unit u ON u.id = ue.unit_id
        LEFT JOIN community c ON c.id = u.community_id
        LEFT JOIN subdistrict s ON s.id = c.subdistrict_id
        WHERE ue.run_id = $1
          AND ($2::bigint IS NULL OR s.district_id = $2) AND ($3::bigint IS NULL OR c.subdistrict_id = $3)
          AND ($4::bigint IS NULL OR u.community_id = $4) AND ($5::bigint IS NULL OR ue.unit_id = $5)
          AND $6::bigint IS NULL
        ORDER BY ue.rank, ue.unit_id LIMIT $7 OFFSET $8
        """,
        run_id, *_filter_args(scope), limit, offset,
    )


async def select_community_results(
    conn: Conn, *, run_id: int, scope: ScopeFilter, limit: int | None, offset: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT ce.*, c.name, count(*) OVER () AS total
        FROM community_evaluation ce JOIN community c ON c.id = ce.community_id
        WHERE ce.run_id = $1
          AND ($2::bigint IS NULL OR ce.district_id = $2) AND ($3::bigint IS NULL OR ce.subdistrict_id = $3)
          AND ($4::bigint IS NULL OR ce.community_id = $4) AND $5::bigint IS NULL AND $6::bigint IS NULL
        ORDER BY ce.rank, ce.community_id LIMIT $7 OFFSET $8
        """,
        run_id, *_filter_args(scope), limit, offset,
    )


async def select_area_results(
    conn: Conn, *, run_id: int, level: str, scope: ScopeFilter
) -> list[asyncpg.Record]:
    """Areas at `level` inside the scope (a district reader sees its district and its streets)."""
    return await conn.fetch(
        """
        SELECT ae.*, CASE ae.level WHEN 'district' THEN d.name WHEN 'subdistrict' THEN s.name
                                   ELSE '全市' END AS name
        FROM area_evaluation ae
        LEFT JOIN subdistrict s ON ae.level = 'subdistrict' AND s.id = ae.area_id
        LEFT JOIN district d ON ae.level = 'district' AND d.id = ae.area_id
        WHERE ae.run_id = $1 AND ae.level = $2
          AND ($3::bigint IS NULL OR (ae.level = 'district' AND ae.area_id = $3)
               OR (ae.level = 'subdistrict' AND s.district_id = $3))
          AND ($4::bigint IS NULL OR (ae.level = 'subdistrict' AND ae.area_id = $4))
          AND $5::bigint IS NULL AND $6::bigint IS NULL AND $7::bigint IS NULL
        ORDER BY ae.rank, ae.area_id
        """,
        run_id, level, *_filter_args(scope),
    )


@dataclass(frozen=True, slots=True)
class ReportUnitRow:
    """A unit with members in a run: one feedback workbook each. `written`: the path of the
    workbook an earlier attempt recorded for the unit (None: none yet)."""

    unit_id: int
    name: str
    members: int
    grade: str
    written: str | None


async def select_report_units(conn: Conn, *, run_id: int) -> list[ReportUnitRow]:
    """Units with members in the run, with their name and the workbook written before if any."""
    rows = await conn.fetch(
        """
        SELECT ue.unit_id, u.name, ue.members, ue.grade, r.path AS written
        FROM unit_evaluation ue JOIN reporting_unit u ON u.id = ue.unit_id
        LEFT JOIN evaluation_report r ON r.run_id = ue.run_id AND r.unit_id = ue.unit_id
        WHERE ue.run_id = $1 ORDER BY ue.unit_id
        """,
        run_id,
    )
    return [ReportUnitRow(**r) for r in rows]


async def upsert_report(
    conn: Conn, *, run_id: int, unit_id: int, path: str, rows: int, notification_id: int | None
) -> None:
    await conn.execute(
        """
        INSERT INTO evaluation_report (run_id, unit_id, path, rows, notification_id)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (run_id, unit_id) DO UPDATE
            SET path = EXCLUDED.path, rows = EXCLUDED.rows,
                notification_id = coalesce(EXCLUDED.notification_id, evaluation_report.notification_id)
        """,
        run_id, unit_id, path, rows, notification_id,
    )


async def select_report_path(conn: Conn, *, run_id: int, unit_id: int) -> str | None:
    """Where the unit's feedback workbook of the run was written (None: not yet)."""
    path: str | None = await conn.fetchval(
        "SELECT path FROM evaluation_report WHERE run_id = $1 AND unit_id = $2", run_id, unit_id
    )
    return path


async def count_reports(conn: Conn, *, run_id: int) -> int:
    n: int = await conn.fetchval("SELECT count(*) FROM evaluation_report WHERE run_id = $1", run_id)
    return n


async def select_notification_id(conn: Conn, *, dedupe_key: str) -> int | None:
    """The inbox notice a report was announced with (notification.dedupe_key is unique)."""
    found: int | None = await conn.fetchval("SELECT id FROM notification WHERE dedupe_key = $1", dedupe_key)
    return found


async def select_unit_result(conn: Conn, *, run_id: int, unit_id: int) -> FiguresRow[UnitFigures] | None:
    """One unit's row with its name and where it is located (for the scope check)."""
    row = await conn.fetchrow(
        """
        SELECT ue.*, u.name, u.community_id, c.subdistrict_id, s.district_id
        FROM unit_evaluation ue JOIN reporting_unit u ON u.id = ue.unit_id
        LEFT JOIN community c ON c.id = u.community_id
        LEFT JOIN subdistrict s ON s.id = c.subdistrict_id
        WHERE ue.run_id = $1 AND ue.unit_id = $2
        """,
        run_id, unit_id,
    )
    if row is None:
        return None
    return _figures_row(row, UnitFigures, HierarchyPath(
        district_id=row["district_id"], subdistrict_id=row["subdistrict_id"], community_id=row["community_id"],
        unit_id=unit_id))


async def select_community_result(
    conn: Conn, *, run_id: int, community_id: int
) -> FiguresRow[CommunityFigures] | None:
    row = await conn.fetchrow(
        """
        SELECT ce.*, c.name FROM community_evaluation ce JOIN community c ON c.id = ce.community_id
        WHERE ce.run_id = $1 AND ce.community_id = $2
        """,
        run_id, community_id,
    )
    if row is None:
        return None
    return _figures_row(row, CommunityFigures, HierarchyPath(
        district_id=row["district_id"], subdistrict_id=row["subdistrict_id"], community_id=community_id))
