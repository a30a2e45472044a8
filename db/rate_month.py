"""The three rates' counters 三率 (migration 0022): rate_month (needs, responded, resolved per
area and month of the need) and rating_month (ratings per area, month and score), an area being a
community, subdistrict or district; need_rate_state, one row per need. Kept by triggers in the
transaction that changes a need, a task, an assignment or a rating."""

from __future__ import annotations

from datetime import date

from db.pool import Conn, custom_plans
from domain.scope import ScopeFilter
from schemas.rates import RatesRow

# From fine to coarse: the rows read are the finer of the level asked and the caller's scope's,
# so a community's staff asking per district sum their own community's rows only.
_FINENESS = ("community", "subdistrict", "district", "city")


async def select_rate_counts(
    conn: Conn, *, scope: ScopeFilter, level: str, month_from: date, month_to: date, satisfied_min_score: int,
    live: bool = False,
) -> list[RatesRow]:
    """One row per group at `level` (community / subdistrict / district / city) with communities in
    `scope`: the counters summed over the months month_from <= month < month_to, and the rates
    (rounded as numeric(6,4) rounds, as the evaluation's are). `live`: the same counts grouped from
    the raw tables (the *_recomputed views: what the benches measure the counters against)."""
    suffix = "_recomputed" if live else ""
    scope_level = ("community" if scope.community_id is not None else "subdistrict"
                   if scope.subdistrict_id is not None else "district" if scope.district_id is not None else "city")
    source = min(level, scope_level, key=_FINENESS.index)
    if source == "city":
        source = "district"
    async with custom_plans(conn):
        rows = await conn.fetch(
            f"""
            WITH areas AS (
                SELECT DISTINCT
                       CASE $4::text WHEN 'community' THEN c.id WHEN 'subdistrict' THEN c.subdistrict_id
                                     ELSE s.district_id END AS area_id,
                       CASE $5::text WHEN 'community' THEN c.id WHEN 'subdistrict' THEN c.subdistrict_id
                                     WHEN 'district' THEN s.district_id ELSE 0 END AS key
                FROM community c JOIN subdistrict s ON s.id = c.subdistrict_id
                WHERE ($1::bigint IS NULL OR s.district_id = $1) AND ($2::bigint IS NULL OR c.subdistrict_id = $2)
                  AND ($3::bigint IS NULL OR c.id = $3)
            ), nd AS (
                SELECT a.key, sum(m.needs)::int AS needs, sum(m.responded)::int AS responded,
                       sum(m.resolved)::int AS resolved
                FROM areas a JOIN rate_month{suffix} m ON m.level = $4 AND m.area_id = a.area_id
                                              AND m.month >= $6 AND m.month < $7
                GROUP BY a.key
            ), rt AS (
                SELECT a.key, sum(r.ratings)::int AS ratings,
                       coalesce(sum(r.ratings) FILTER (WHERE r.score >= $8), 0)::int AS satisfied
                FROM areas a JOIN rating_month{suffix} r ON r.level = $4 AND r.area_id = a.area_id
                                                AND r.month >= $6 AND r.month < $7
                GROUP BY a.key
            ), keys AS (SELECT DISTINCT key FROM areas)
            SELECT CASE WHEN $5::text = 'city' THEN NULL ELSE k.key END AS id,
                   CASE $5::text
                       WHEN 'community' THEN (SELECT name FROM community WHERE id = k.key)
                       WHEN 'subdistrict' THEN (SELECT name FROM subdistrict WHERE id = k.key)
                       WHEN 'district' THEN (SELECT name FROM district WHERE id = k.key)
                       ELSE '全市'
                   END AS name,
                   coalesce(nd.needs, 0) AS needs, coalesce(nd.responded, 0) AS responded,
                   coalesce(nd.resolved, 0) AS resolved, coalesce(rt.ratings, 0) AS ratings,
                   coalesce(rt.satisfied, 0) AS satisfied,
                   round(nd.responded::numeric / nullif(nd.needs, 0), 4)::float AS response_rate,
                   round(nd.resolved::numeric / nullif(nd.needs, 0), 4)::float AS resolution_rate,
                   round(rt.satisfied::numeric / nullif(rt.ratings, 0), 4)::float AS satisfaction_rate
            FROM keys k LEFT JOIN nd ON nd.key = k.key LEFT JOIN rt ON rt.key = k.key
            ORDER BY k.key
            """,  # noqa: S608 - one of two fixed table name suffixes, no input
            scope.district_id, scope.subdistrict_id, scope.community_id, source, level, month_from, month_to,
            satisfied_min_score,
        )
    return [RatesRow(**{**r, "name": r["name"] or ""}) for r in rows]
