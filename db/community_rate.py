"""The three rates' counters 三率 (migration 0022): community_rate_month (needs, responded,
resolved per community and month of the need), community_rating_month (ratings per community,
month and score) and need_rate_state, one row per need, kept by triggers in the transaction that
changes a need, a task, an assignment or a rating."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from db.pool import Conn, custom_plans
from domain.scope import ScopeFilter


@dataclass(frozen=True, slots=True)
class RateCounts:
    id: int | None
    name: str
    needs: int
    responded: int
    resolved: int
    ratings: int
    satisfied: int


async def select_rate_counts(
    conn: Conn, *, scope: ScopeFilter, level: str, month_from: date, month_to: date, satisfied_min_score: int
) -> list[RateCounts]:
    """One row per group at `level` (community / subdistrict / district / city) with communities in
    `scope`: the counters summed over the months month_from <= month < month_to."""
    async with custom_plans(conn):
        rows = await conn.fetch(
            """
            WITH scoped AS (
                SELECT c.id, CASE $4::text WHEN 'community' THEN c.id WHEN 'subdistrict' THEN c.subdistrict_id
                                           WHEN 'district' THEN s.district_id ELSE 0 END AS key
                FROM community c JOIN subdistrict s ON s.id = c.subdistrict_id
                WHERE ($1::bigint IS NULL OR s.district_id = $1) AND ($2::bigint IS NULL OR c.subdistrict_id = $2)
                  AND ($3::bigint IS NULL OR c.id = $3)
            ), nd AS (
                SELECT sc.key, sum(m.needs)::int AS needs, sum(m.responded)::int AS responded,
                       sum(m.resolved)::int AS resolved
                FROM scoped sc JOIN community_rate_month m ON m.community_id = sc.id AND m.month >= $5 AND m.month < $6
                GROUP BY sc.key
            ), rt AS (
                SELECT sc.key, sum(r.ratings)::int AS ratings,
                       coalesce(sum(r.ratings) FILTER (WHERE r.score >= $7), 0)::int AS satisfied
                FROM scoped sc JOIN community_rating_month r ON r.community_id = sc.id AND r.month >= $5
                                                              AND r.month < $6
                GROUP BY sc.key
            ), keys AS (SELECT DISTINCT key FROM scoped)
            SELECT CASE WHEN $4::text = 'city' THEN NULL ELSE k.key END AS id,
                   CASE $4::text
                       WHEN 'community' THEN (SELECT name FROM community WHERE id = k.key)
                       WHEN 'subdistrict' THEN (SELECT name FROM subdistrict WHERE id = k.key)
                       WHEN 'district' THEN (SELECT name FROM district WHERE id = k.key)
                       ELSE '全市'
                   END AS name,
                   coalesce(nd.needs, 0) AS needs, coalesce(nd.responded, 0) AS responded,
                   coalesce(nd.resolved, 0) AS resolved, coalesce(rt.ratings, 0) AS ratings,
                   coalesce(rt.satisfied, 0) AS satisfied
            FROM keys k LEFT JOIN nd ON nd.key = k.key LEFT JOIN rt ON rt.key = k.key
            ORDER BY k.key
            """,
            scope.district_id, scope.subdistrict_id, scope.community_id, level, month_from, month_to,
            satisfied_min_score,
        )
    return [RateCounts(**{**r, "name": r["name"] or ""}) for r in rows]


async def rebuild(conn: Conn) -> None:
    """Recompute every counter from the raw tables, set-based: for bulk loads that ran with
    session_replication_role = replica (which skips the triggers)."""
    await conn.execute("SELECT work_rates_rebuild()")
