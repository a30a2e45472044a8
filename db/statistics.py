"""Registration statistics 报到率 per level, and a group's month-by-month trend.

The counts per level are sums of the counters migration 0021 keeps per community and per unit x
district in the same transaction as the members and registrations (select_registration_counts);
before them, one set-based GROUP BY over the 1,000,000 members took ~0.8 s per level.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pydantic import TypeAdapter

from db.group_page import page_args, paged, split
from db.pool import Conn, fetch_custom_plan
from domain.evaluation import period_of
from domain.local_time import LOCAL_ZONE
from domain.registration_rules import registration_rate
from domain.scope import ScopeFilter
from schemas.api import GroupPageRequest
from schemas.evaluation import PeriodKind
from schemas.statistics import RegistrationCounts

# The groups' sums, named; `grouped` is the CTE each source below defines (key + the counters).
_NAMED_GROUPS = """
        SELECT CASE WHEN $1::text = 'city' THEN NULL ELSE g.key END AS id,
               CASE WHEN g.own_name IS NOT NULL THEN g.own_name ELSE CASE $1::text
                   WHEN 'unit' THEN (SELECT name FROM reporting_unit WHERE id = g.key)
                   WHEN 'community' THEN (SELECT name FROM community WHERE id = g.key)
                   WHEN 'subdistrict' THEN (SELECT name FROM subdistrict WHERE id = g.key)
                   WHEN 'district' THEN (SELECT name FROM district WHERE id = g.key)
                   ELSE '全市'
               END END AS name,
               g.members, g.submitted, g.confirmed, g.active, g.paused, g.rejected, g.lapsed
        FROM grouped g
        WHERE g.key IS NOT NULL AND g.members > 0
"""

# Read from the maintained registration_tally (migration 0021): `grouping` $2 'community' for the
# areas and the city inside an area's scope, 'unit' for units (and a unit's own districts or city).
_MAINTAINED = """
        WITH grouped AS (
            SELECT CASE $1::text WHEN 'unit' THEN nullif(t.group_id, 0) WHEN 'community' THEN c.id
                                 WHEN 'subdistrict' THEN c.subdistrict_id
                                 WHEN 'district' THEN nullif(t.district_id, 0) ELSE 0 END AS key,
                   sum(t.members)::bigint AS members, sum(t.submitted)::bigint AS submitted,
                   sum(t.confirmed)::bigint AS confirmed, sum(t.active)::bigint AS active,
                   sum(t.paused)::bigint AS paused, sum(t.rejected)::bigint AS rejected,
                   sum(t.lapsed)::bigint AS lapsed,
                   -- a community's or unit's own name from the join (no lookup per group)
                   CASE $1::text WHEN 'community' THEN max(c.name) WHEN 'unit' THEN max(u.name) END AS own_name
            FROM registration_tally t
            LEFT JOIN community c ON t.grouping = 'community' AND c.id = t.group_id
            LEFT JOIN reporting_unit u ON t.grouping = 'unit' AND u.id = t.group_id
            WHERE t.grouping = $2
              AND in_place(t.district_id, c.subdistrict_id, c.id,
                           CASE WHEN t.grouping = 'unit' THEN t.group_id END, NULL,
                           $3, $4, $5, $6, NULL)
            GROUP BY 1
        )""" + _NAMED_GROUPS  # noqa: S608 - constants composed, no input
_MAINTAINED_PAGE = paged(_MAINTAINED, key="id", numerator="active", first_param=7)

# Units seen city-wide (the city's staff; a unit's admin its own unit, $2): one row per unit
# (registration_unit_tally, migration 0023) instead of summing its rows per home district.
_MAINTAINED_UNITS = """
        WITH grouped AS (
            SELECT nullif(t.unit_id, 0) AS key, t.members, t.submitted, t.confirmed, t.active, t.paused,
                   t.rejected, t.lapsed, u.name AS own_name
            FROM registration_unit_tally t
            LEFT JOIN reporting_unit u ON u.id = t.unit_id
            WHERE $2::bigint IS NULL OR t.unit_id = $2
        )""" + _NAMED_GROUPS  # noqa: S608 - constants composed, no input
_MAINTAINED_UNITS_PAGE = paged(_MAINTAINED_UNITS, key="id", numerator="active", first_param=3)

# Anything else (a member's own figures, units seen from a subdistrict or community, a unit's
# members per community): a small scope, counted live member by member.
_LIVE = """
        WITH grouped AS (
            SELECT CASE $1::text
                       WHEN 'unit' THEN m.unit_id
                       WHEN 'community' THEN m.home_community_id
                       WHEN 'subdistrict' THEN c.subdistrict_id
                       WHEN 'district' THEN s.district_id
                       ELSE 0
                   END AS key,
                   count(*) AS members,
                   count(*) FILTER (WHERE l.status = 'submitted') AS submitted,
                   count(*) FILTER (WHERE l.status = 'confirmed') AS confirmed,
                   count(*) FILTER (WHERE l.status = 'active') AS active,
                   count(*) FILTER (WHERE l.status = 'paused') AS paused,
                   count(*) FILTER (WHERE l.status = 'rejected') AS rejected,
                   count(*) FILTER (WHERE l.status = 'lapsed') AS lapsed,
                   NULL::text AS own_name
            FROM member m
            LEFT JOIN community c ON c.id = m.home_community_id
            LEFT JOIN subdistrict s ON s.id = c.subdistrict_id
            LEFT JOIN LATERAL (SELECT r.status FROM member_registration r WHERE r.member_id = m.id
                               ORDER BY r.id DESC LIMIT 1) l ON true
            WHERE in_place(s.district_id, c.subdistrict_id, m.home_community_id, m.unit_id, m.id,
                           $2, $3, $4, $5, $6)
            GROUP BY 1
        )""" + _NAMED_GROUPS  # noqa: S608 - constants composed, no input
_LIVE_PAGE = paged(_LIVE, key="id", numerator="active", first_param=7)

_AREA_LEVELS = ("community", "subdistrict", "district", "city")
# Up to ~10,000 groups at a time (every community of a megacity): validated in one call.
_COUNTS = TypeAdapter(list[RegistrationCounts])


def _maintained_grouping(scope: ScopeFilter, level: str) -> str | None:
    """Which grouping of registration_tally answers `level` inside `scope`, if one does: the
    community rows any area level inside an area's scope; the unit rows (unit x home district)
    the unit level inside the city's or a district's scope, and a unit's own unit, district or
    city figures."""
    if scope.member_id is not None:
        return None
    if scope.unit_id is None and level in _AREA_LEVELS:
        return "community"
    if scope.subdistrict_id is None and scope.community_id is None and (
            level == "unit" or (scope.unit_id is not None and level in ("district", "city"))):
        return "unit"
    return None


async def select_registration_counts(
    conn: Conn, *, scope: ScopeFilter, level: str, page: GroupPageRequest | None = None, live: bool = False
) -> tuple[int, list[RegistrationCounts]]:
    """One row per group at `level` (unit / community / subdistrict / district / city), with its
    报到率 (active over members).

    Each member counts once, by the status of their latest registration (highest id); a member
    with no registration counts only in `members`. Members without a unit (level unit) or
    without a home community (levels below city) fall outside every group of that level.

    Read from the counts migration 0021 maintains per community and per unit x district (at most
    ~10,000 and ~80,000 rows at megacity scale), and 0023 per unit (the units seen city-wide: 5,000) wherever they answer the question
    (_maintained_grouping); the few combinations they cannot answer are small scopes, counted live.
    `live`: counted live whatever the scope (what the benches measure the maintained read against).
    Returns how many groups there are and `page` of them (all of them by id when None), sorted
    and cut in SQL.
    """
    grouping = None if live else _maintained_grouping(scope, level)
    paging = page_args(page or GroupPageRequest())
    if grouping == "unit" and level == "unit" and scope.district_id is None:
        rows = await fetch_custom_plan(conn, _MAINTAINED_UNITS_PAGE, level, scope.unit_id, *paging)
    elif grouping is not None:
        rows = await fetch_custom_plan(conn, _MAINTAINED_PAGE, level, grouping, scope.district_id,
                                       scope.subdistrict_id, scope.community_id, scope.unit_id, *paging)
    else:
        rows = await conn.fetch(_LIVE_PAGE, level, scope.district_id, scope.subdistrict_id, scope.community_id,
                                scope.unit_id, scope.member_id, *paging)
    total, found = split(rows)
    return total, _COUNTS.validate_python([{**r, "name": r["name"] or "", "level": level,
                                            "rate": registration_rate(r["active"], r["members"])} for r in found])


@dataclass(frozen=True, slots=True)
class StatisticsGroup:
    """A group's name and where it sits: an area's chain, or the unit's id; all None for the city."""

    name: str
    district_id: int | None
    subdistrict_id: int | None
    community_id: int | None
    unit_id: int | None


async def select_group(conn: Conn, *, level: str, group_id: int | None) -> StatisticsGroup | None:
    """The group's name and where it sits (district, subdistrict, community; a unit's location),
    or None when there is no such group. The city is one group with no id."""
    row = await conn.fetchrow(
        """
        SELECT * FROM (
            SELECT '全市'::text AS name, NULL::bigint AS district_id, NULL::bigint AS subdistrict_id,
                   NULL::bigint AS community_id, NULL::bigint AS unit_id
            WHERE $1 = 'city'
            UNION ALL
            SELECT d.name, d.id, NULL, NULL, NULL FROM district d WHERE $1 = 'district' AND d.id = $2
            UNION ALL
            SELECT s.name, s.district_id, s.id, NULL, NULL FROM subdistrict s
            WHERE $1 = 'subdistrict' AND s.id = $2
            UNION ALL
            SELECT c.name, s.district_id, c.subdistrict_id, c.id, NULL FROM community c
            JOIN subdistrict s ON s.id = c.subdistrict_id WHERE $1 = 'community' AND c.id = $2
            UNION ALL
            SELECT u.name, NULL, NULL, NULL, u.id FROM reporting_unit u WHERE $1 = 'unit' AND u.id = $2
        ) g LIMIT 1
        """,
        level, group_id,
    )
    return StatisticsGroup(**row) if row is not None else None


@dataclass(frozen=True, slots=True)
class TrendMonthRow:
    """One month of select_registration_trend (ord counts the months from 1, in the order given)."""

    ord: int
    start_at: datetime
    members: int
    registered: int
    newly_registered: int
    served: int
    met_standard: int


async def select_registration_trend(
    conn: Conn, *, scope: ScopeFilter, level: str, group_id: int | None,
    starts: list[datetime], ends: list[datetime], quota_services: Decimal, quota_hours: Decimal, live: bool = False,
) -> list[TrendMonthRow]:
    """Per month [starts[i], ends[i]): the group's members (inside `scope`), registered at the
    month's end, newly registered, served and meeting the monthly quota, in the order given.

    A registration counts from its confirmed_at; one that left the registered statuses (lapsed,
    transferred, withdrawn) is taken to have left at its updated_at. Services are the evaluation
    ledger's credits (tasks and approved service records) by awarded_at, hours from parts.hours.

    Read from the per-area monthly counts migration 0024 keeps (trend_tally) when they answer the
    question: the group lies inside the caller's scope (what the service lets a caller ask), the
    months are calendar months (Beijing) and the quota is the one they count
    (trend_month_quota()). Otherwise, or `live`, grouped live from the raw tables (12 s for the
    city's 12 months at 1,000,000 members).
    """
    if not live and _calendar_months(starts, ends) and await _trend_maintained(
            conn, scope, level, group_id, quota_services, quota_hours):
        rows = await fetch_custom_plan(conn, _TREND_MAINTAINED, level, group_id, starts, ends)
        return [TrendMonthRow(**r) for r in rows]
    rows = await fetch_custom_plan(
        conn,
        """
        WITH scoped AS (
            SELECT m.id
            FROM member m
            LEFT JOIN community c ON c.id = m.home_community_id
            LEFT JOIN subdistrict s ON s.id = c.subdistrict_id
            WHERE ($1::bigint IS NULL OR s.district_id = $1)
              AND ($2::bigint IS NULL OR c.subdistrict_id = $2)
              AND ($3::bigint IS NULL OR m.home_community_id = $3)
              AND ($4::bigint IS NULL OR m.unit_id = $4)
              AND ($5::bigint IS NULL OR m.id = $5)
              AND CASE $6::text
                      WHEN 'unit' THEN m.unit_id = $7
                      WHEN 'community' THEN m.home_community_id = $7
                      WHEN 'subdistrict' THEN c.subdistrict_id = $7
                      WHEN 'district' THEN s.district_id = $7
                      ELSE true
                  END
        ), months AS (
            SELECT * FROM unnest($8::timestamptz[], $9::timestamptz[]) WITH ORDINALITY AS b(start_at, end_at, ord)
        ), reg AS (
            SELECT r.member_id, r.confirmed_at, r.status, r.updated_at
            FROM member_registration r JOIN scoped ON scoped.id = r.member_id
            WHERE r.confirmed_at IS NOT NULL
        ), pts AS (
            SELECT p.member_id, p.awarded_at, coalesce((p.parts->>'hours')::numeric, 0) AS hours
            FROM evaluation_points p JOIN scoped ON scoped.id = p.member_id
            WHERE p.awarded_at >= (SELECT min(start_at) FROM months)
              AND p.awarded_at < (SELECT max(end_at) FROM months)
        ), per_member AS (
            SELECT b.ord, p.member_id, count(*) AS services, sum(p.hours) AS hours
            FROM months b JOIN pts p ON p.awarded_at >= b.start_at AND p.awarded_at < b.end_at
            GROUP BY b.ord, p.member_id
        )
        SELECT b.ord, b.start_at,
               (SELECT count(*) FROM scoped)::int AS members,
               (SELECT count(DISTINCT member_id) FROM reg
                WHERE confirmed_at < b.end_at
                  AND (status IN ('confirmed', 'active', 'paused') OR updated_at >= b.end_at))::int AS registered,
               (SELECT count(*) FROM reg WHERE confirmed_at >= b.start_at AND confirmed_at < b.end_at)::int
                   AS newly_registered,
               (SELECT count(*) FROM per_member pm WHERE pm.ord = b.ord)::int AS served,
               (SELECT count(*) FROM per_member pm WHERE pm.ord = b.ord
                  AND pm.services >= $10::numeric AND pm.hours >= $11::numeric)::int AS met_standard
        FROM months b
        ORDER BY b.ord
        """,
        scope.district_id, scope.subdistrict_id, scope.community_id, scope.unit_id, scope.member_id,
        level, group_id, starts, ends, quota_services, quota_hours,
    )
    return [TrendMonthRow(**r) for r in rows]


def _calendar_months(starts: list[datetime], ends: list[datetime]) -> bool:
    """Whether each [start, end) is one calendar month in Beijing time (what trend_tally counts by)."""
    for start, end in zip(starts, ends, strict=True):
        local = start.astimezone(LOCAL_ZONE)
        month = period_of(PeriodKind.month, f"{local.year}-{local.month:02d}")
        if (month.start, month.end) != (start, end):
            return False
    return True


async def _trend_maintained(conn: Conn, scope: ScopeFilter, level: str, group_id: int | None,
                            quota_services: Decimal, quota_hours: Decimal) -> bool:
    """Whether trend_tally answers: the caller's scope holds the whole group (an area's staff ask
    about their area or one inside it, a unit's admin about their unit; the service checks the
    area) and the quota is the maintained one."""
    if scope.member_id is not None or (scope.unit_id is not None and (level != "unit" or group_id != scope.unit_id)):
        return False
    if level == "unit" and (scope.district_id, scope.subdistrict_id, scope.community_id) != (None, None, None):
        return False
    same: bool = await conn.fetchval(
        "SELECT services = $1 AND hours = $2 FROM trend_month_quota()", quota_services, quota_hours)
    return same


# The group's rows of trend_tally (a district and the city: their subdistricts'), each month's
# registered the sum of reg_delta up to it; members now from registration_tally (0021, 0023).
_TREND_MAINTAINED = """
        WITH months AS (
            SELECT b.*, trend_month(b.start_at) AS month
            FROM unnest($3::timestamptz[], $4::timestamptz[]) WITH ORDINALITY AS b(start_at, end_at, ord)
        ), areas AS (
            SELECT CASE WHEN $1::text IN ('community', 'unit') THEN $1::text ELSE 'subdistrict' END AS level, id
            FROM (SELECT $2::bigint AS id WHERE $1::text IN ('community', 'subdistrict', 'unit')
                  UNION ALL SELECT id FROM subdistrict WHERE $1::text = 'district' AND district_id = $2
                  UNION ALL SELECT id FROM subdistrict WHERE $1::text = 'city'
                  UNION ALL SELECT 0 WHERE $1::text = 'city') a
        ), rows AS (
            SELECT t.month, sum(t.reg_delta) AS reg_delta, sum(t.newly) AS newly, sum(t.served) AS served,
                   sum(t.met) AS met
            FROM areas a JOIN trend_tally t ON t.level = a.level AND t.area_id = a.id
            WHERE t.month <= (SELECT max(month) FROM months)
            GROUP BY t.month
        ), members AS (
            SELECT coalesce(sum(members), 0) AS n FROM registration_tally t
            WHERE $1::text <> 'unit' AND t.grouping = 'community'
              AND CASE $1::text WHEN 'community' THEN t.group_id = $2
                                WHEN 'subdistrict' THEN t.group_id IN (SELECT id FROM community WHERE subdistrict_id = $2)
                                WHEN 'district' THEN t.district_id = $2 AND t.group_id <> 0
                                ELSE true END
            UNION ALL
            SELECT coalesce(sum(members), 0) FROM registration_unit_tally WHERE $1::text = 'unit' AND unit_id = $2
        )
        SELECT b.ord, b.start_at, (SELECT sum(n) FROM members)::int AS members,
               (SELECT coalesce(sum(reg_delta), 0) FROM rows WHERE rows.month <= b.month)::int AS registered,
               coalesce(r.newly, 0)::int AS newly_registered, coalesce(r.served, 0)::int AS served,
               coalesce(r.met, 0)::int AS met_standard
        FROM months b LEFT JOIN rows r ON r.month = b.month
        ORDER BY b.ord
"""
