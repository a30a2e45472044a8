"""The three rates' counters 三率 (migration 0022): rate_month (needs, responded, resolved per
area and month of the need) and rating_month (ratings per area, month and score), an area being a
community, subdistrict or district; need_rate_state, one row per need. Kept by triggers in the
transaction that changes a need, a task, an assignment or a rating."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from db.pool import Conn, custom_plans
from domain.evaluation import rate
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
    # The groups and the areas each sums, first: the counts' plan then sees how many areas it reads
    # (a district's 650 communities through the index, not every community's rows of the year).
    # Every statement planned for its arguments: the areas' statement, cached with a generic plan
    # after five calls, then took 150 ms instead of 5 at 1,000,000 members.
    async with custom_plans(conn):
        return await _select(conn, scope, level, source, month_from, month_to, satisfied_min_score, suffix)


async def _select(conn: Conn, scope: ScopeFilter, level: str, source: str, month_from: date, month_to: date,
                  satisfied_min_score: int, suffix: str) -> list[RatesRow]:
    groups = await conn.fetch(
        """
        SELECT DISTINCT
               CASE $4::text WHEN 'community' THEN c.id WHEN 'subdistrict' THEN c.subdistrict_id
                             ELSE s.district_id END AS area_id,
               CASE $5::text WHEN 'community' THEN c.id WHEN 'subdistrict' THEN c.subdistrict_id
                             WHEN 'district' THEN s.district_id END AS id,
               CASE $5::text WHEN 'community' THEN c.name WHEN 'subdistrict' THEN s.name
                             WHEN 'district' THEN d.name ELSE '全市' END AS name
        FROM community c JOIN subdistrict s ON s.id = c.subdistrict_id JOIN district d ON d.id = s.district_id
        WHERE ($1::bigint IS NULL OR s.district_id = $1) AND ($2::bigint IS NULL OR c.subdistrict_id = $2)
          AND ($3::bigint IS NULL OR c.id = $3)
        """,
        scope.district_id, scope.subdistrict_id, scope.community_id, source, level,
    )
    area_ids = sorted({int(g["area_id"]) for g in groups})
    needs = await conn.fetch(
        f"""
        SELECT area_id, sum(needs)::int AS needs, sum(responded)::int AS responded,
               sum(resolved)::int AS resolved
        FROM rate_month{suffix}
        WHERE level = $1 AND area_id = ANY($2::bigint[]) AND month >= $3 AND month < $4
        GROUP BY area_id
        """,  # noqa: S608 - one of two fixed table name suffixes, no input
        source, area_ids, month_from, month_to,
    )
    ratings = await conn.fetch(
        f"""
        SELECT area_id, sum(ratings)::int AS ratings,
               coalesce(sum(ratings) FILTER (WHERE score >= $5), 0)::int AS satisfied
        FROM rating_month{suffix}
        WHERE level = $1 AND area_id = ANY($2::bigint[]) AND month >= $3 AND month < $4
        GROUP BY area_id
        """,  # noqa: S608 - one of two fixed table name suffixes, no input
        source, area_ids, month_from, month_to, satisfied_min_score,
    )
    return _rows(groups, needs, ratings)


def _rows(groups: list[Any], needs: list[Any], ratings: list[Any]) -> list[RatesRow]:
    """Each group's areas' counts summed, the rates taken from the sums (domain.evaluation.rate)."""
    of_area = {int(r["area_id"]): r for r in needs}
    rated = {int(r["area_id"]): r for r in ratings}
    sums: dict[int | None, list[int]] = {}
    names: dict[int | None, str] = {}
    for g in groups:
        key, area = g["id"], int(g["area_id"])
        names[key] = g["name"] or ""
        n, r = of_area.get(area), rated.get(area)
        counts = ((n["needs"], n["responded"], n["resolved"]) if n else (0, 0, 0)) + (
            (r["ratings"], r["satisfied"]) if r else (0, 0))
        sums[key] = [a + b for a, b in zip(sums.get(key, [0] * 5), counts, strict=True)]
    out = []
    for key in sorted(sums, key=lambda k: k or 0):
        n, responded, resolved, r, satisfied = sums[key]
        out.append(RatesRow(id=key, name=names[key], needs=n, responded=responded, resolved=resolved, ratings=r,
                            satisfied=satisfied, response_rate=_float(rate(responded, n)),
                            resolution_rate=_float(rate(resolved, n)), satisfaction_rate=_float(rate(satisfied, r))))
    return out


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)
