"""A campaign's progress per district / subdistrict / community, summed from maintained counts.

Members are counted where they live (the campaign's communities); "registered" means an open
registration; "served" means at least one checked-out service or approved service record 服务记录
inside the window (a record by when it ended, like a task by its check-out); "behind quota"
counts confirmed/active registrations of the campaign's communities whose member has not met the
quota in the current period; "reminded" counts member reminders per ladder step (the four steps of
ReminderStep); tasks are those of the campaign's communities created inside the window, or
dispatched by its mobilisation.

Every figure is a sum over at most one row per community of the tables migration 0021 keeps in
the same transaction as the facts (registration_tally, campaign_tally, registration_quota_tally,
campaign_quota_met, campaign_reminded): ~10,000 rows for a city-wide campaign instead of grouping
1,000,000 members (7.2 s per district live, issue 12). That holds for the campaign's own quota
periods and quota; a caller asking about another period or quota gets everything counted live
(`live`). The maintained period counts the whole period, so a service dated after
`as_of` inside it would count (services are recorded after they happen).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import TypeAdapter

from db.group_page import page_args, paged, split
from db.pool import Conn, fetch_custom_plan
from schemas.api import GroupPageRequest
from schemas.campaign import ProgressRow
from schemas.registration import ReminderStep

_STEPS = [step.value for step in ReminderStep]
# Thousands of rows at a time (10,000 communities): validated in one call.
_ROWS = TypeAdapter(list[ProgressRow])

# The campaign's communities ($1) inside the optional district/subdistrict/community filter ($3-$5),
# each with the id of its group at `level` ($2).
_CAMPAIGN_COMMUNITIES = """
        cc AS (
            SELECT co.id AS community_id, co.name,
                   CASE $2 WHEN 'district' THEN s.district_id WHEN 'subdistrict' THEN co.subdistrict_id
                        ELSE co.id END AS level_id
            FROM campaign_community x
            JOIN community co ON co.id = x.community_id
            JOIN subdistrict s ON s.id = co.subdistrict_id
            WHERE x.campaign_id = $1 AND in_place(s.district_id, co.subdistrict_id, co.id, NULL, NULL,
                                                  $3, $4, $5, NULL, NULL)
        )"""


async def select_progress(
    conn: Conn, *, campaign_id: int, level: str, district_id: int | None = None,
    subdistrict_id: int | None = None, community_id: int | None = None,
    period_start: datetime | None = None, as_of: datetime | None = None,
    min_services: int = 0, min_hours: float = 0.0, page: GroupPageRequest | None = None, live: bool = False,
) -> tuple[int, list[ProgressRow]]:
    """One row per unit of `level` (district/subdistrict/community) inside the optional filter:
    how many there are and `page` of them (all by id when None; the rate sorted by is registered
    over members), sorted and cut in SQL.

    Behind quota is only counted when `period_start` is given (the campaign has service quotas).
    Read from the maintained counts when the period and quota are the campaign's own (what
    GET /campaigns/{id}/progress asks); any other question, or `live`, is grouped live from the
    raw tables (what the benches measure the maintained read against).
    """
    paging = page_args(page or GroupPageRequest())
    own: bool = not live and await conn.fetchval(
        """
        SELECT $2::timestamptz IS NULL
            OR (campaign_period_start(window_start, quotas, $2) = $2
                AND $3::bigint = coalesce((quotas->>'min_services')::bigint, 0)
                AND $4::numeric = coalesce((quotas->>'min_hours')::numeric, 0))
        FROM campaign WHERE id = $1
        """,
        campaign_id, period_start, min_services, min_hours,
    )
    if not own:
        return await _select_progress_live(conn, campaign_id, level, district_id, subdistrict_id, community_id,
                                           period_start, as_of, min_services, min_hours, *paging)
    keys = await fetch_custom_plan(conn, _MAINTAINED_KEYS, campaign_id, level, district_id, subdistrict_id,
                                   community_id, *paging)
    total, found = split(keys)
    if not found:
        return total, []
    level_ids = [r["level_id"] for r in found]
    counts = {r["level_id"]: r for r in await fetch_custom_plan(
        conn, _MAINTAINED_COUNTS, campaign_id, level, district_id, subdistrict_id, community_id, period_start,
        level_ids, level_ids if level == "community" else None)}
    # the per-step counts as the dict of the steps that have any (built here: decoding jsonb
    # values costs more than the read)
    return total, _ROWS.validate_python([
        {**k, **(c := counts[k["level_id"]]), "reminded": {step: c[step] for step in _STEPS if c[step]}}
        for k in found])


# The page first: the groups' members and registered (the rate sorted by), one registration_tally
# row per community (~10,400 for a city-wide campaign), sorted and cut in SQL ...
_MAINTAINED_KEYS = paged(
        """
        WITH """ + _CAMPAIGN_COMMUNITIES + """,
        grouped AS (
            SELECT cc.level_id, max(cc.name) AS community_name,
                   coalesce(sum(t.members), 0) AS members, coalesce(sum(t.registered), 0) AS registered
            FROM cc LEFT JOIN registration_tally t ON t.grouping = 'community' AND t.group_id = cc.community_id
            GROUP BY cc.level_id
        )
        SELECT g.level_id,
               CASE $2 WHEN 'district' THEN (SELECT name FROM district WHERE id = g.level_id)
                       WHEN 'subdistrict' THEN (SELECT name FROM subdistrict WHERE id = g.level_id)
                       ELSE g.community_name END AS name,
               g.members::bigint, g.registered::bigint
        FROM grouped g
        """,  # noqa: S608 - the CTE composed in is a constant
    key="level_id", numerator="registered", first_param=6)

# ... then the page's other counts, read for its groups only ($7; $8: the page's communities at
# the community level, read by key): at most 50 communities' rows for a page of progress per
# community instead of summing every counter row of the campaign (~62,000) before sorting.
_MAINTAINED_COUNTS = """
        WITH """ + _CAMPAIGN_COMMUNITIES + """,
        paged AS (
            SELECT * FROM cc
            WHERE level_id = ANY($7::bigint[]) AND ($8::bigint[] IS NULL OR community_id = ANY($8::bigint[]))
        ),
        facts AS (
            SELECT community_id, served, 0::bigint AS behind, NULL::text AS step, 0::bigint AS reminded,
                   tasks_open, tasks_done, tasks_parked
            FROM campaign_tally WHERE campaign_id = $1 AND ($8::bigint[] IS NULL OR community_id = ANY($8))
            UNION ALL
            SELECT community_id, 0, counted, NULL, 0, 0, 0, 0
            FROM registration_quota_tally
            WHERE $6::timestamptz IS NOT NULL AND ($8::bigint[] IS NULL OR community_id = ANY($8))
            UNION ALL
            SELECT community_id, 0, -met, NULL, 0, 0, 0, 0
            FROM campaign_quota_met
            WHERE campaign_id = $1 AND period_start = $6 AND ($8::bigint[] IS NULL OR community_id = ANY($8))
            UNION ALL
            SELECT community_id, 0, 0, step, reminded, 0, 0, 0
            FROM campaign_reminded WHERE campaign_id = $1 AND ($8::bigint[] IS NULL OR community_id = ANY($8))
        )
        SELECT p.level_id,
               coalesce(sum(f.served), 0)::bigint AS served, coalesce(sum(f.behind), 0)::bigint AS behind_quota,
               (sum(f.reminded) FILTER (WHERE f.step = 'remind'))::bigint AS remind,
               (sum(f.reminded) FILTER (WHERE f.step = 'urge'))::bigint AS urge,
               (sum(f.reminded) FILTER (WHERE f.step = 'supervise'))::bigint AS supervise,
               (sum(f.reminded) FILTER (WHERE f.step = 'public_notice'))::bigint AS public_notice,
               coalesce(sum(f.tasks_open), 0)::bigint AS tasks_open,
               coalesce(sum(f.tasks_done), 0)::bigint AS tasks_done,
               coalesce(sum(f.tasks_parked), 0)::bigint AS tasks_parked
        FROM paged p LEFT JOIN facts f ON f.community_id = p.community_id
        GROUP BY p.level_id
        """  # noqa: S608 - the CTE composed in is a constant


async def _select_progress_live(conn: Conn, *args: object) -> tuple[int, list[ProgressRow]]:
    """The same rows grouped live from the raw tables, for any period and quota: members, their
    registrations, services and reminders of the campaign's communities (behind quota counts the
    services in [period_start, as_of)). ~7-10 s for a city-wide campaign at 1,000,000 members."""
    total, rows = split(await conn.fetch(_LIVE_PAGE, *args))
    return total, _ROWS.validate_python([dict(r) for r in rows])


_LIVE_PAGE = paged(
        """
        WITH c AS (SELECT * FROM campaign WHERE id = $1),
        """ + _CAMPAIGN_COMMUNITIES + """,
        mem AS (
            SELECT cc.level_id, m.id AS member_id,
                   EXISTS (SELECT 1 FROM member_registration r WHERE r.member_id = m.id
                           AND r.status IN ('submitted', 'confirmed', 'active', 'paused')) AS registered
            FROM member m JOIN cc ON cc.community_id = m.home_community_id
        ),
        served AS (
            SELECT mem.level_id, count(*) AS n
            FROM mem, c
            WHERE EXISTS (SELECT 1 FROM assignment a
                          WHERE a.member_id = mem.member_id AND a.status = 'checked_out'
                            AND a.checked_out_at >= c.window_start AND a.checked_out_at < c.window_end)
               -- an approved self-logged service record 服务记录 counts as a service (0013)
               OR EXISTS (SELECT 1 FROM service_record sr
                          WHERE sr.member_id = mem.member_id AND sr.status = 'approved'
                            AND sr.ended_at >= c.window_start AND sr.ended_at < c.window_end)
            GROUP BY mem.level_id
        ),
        behind AS (
            SELECT cc.level_id, count(*) AS n
            FROM member_registration r JOIN cc ON cc.community_id = r.community_id
            LEFT JOIN LATERAL (
                SELECT count(*) AS n, coalesce(sum(x.hours), 0) AS h FROM (
                    SELECT a.hours FROM assignment a
                    WHERE a.member_id = r.member_id AND a.status = 'checked_out'
                      AND a.checked_out_at >= $6 AND a.checked_out_at < $7
                    UNION ALL
                    SELECT sr.hours FROM service_record sr
                    WHERE sr.member_id = r.member_id AND sr.status = 'approved'
                      AND sr.ended_at >= $6 AND sr.ended_at < $7
                ) x
            ) s ON true
            WHERE $6::timestamptz IS NOT NULL AND r.status IN ('confirmed', 'active')
              AND (s.n < $8 OR s.h < $9)
            GROUP BY cc.level_id
        ),
        reminded AS (
            SELECT level_id, jsonb_object_agg(step, n) AS by_step FROM (
                SELECT mem.level_id, rm.step, count(*) AS n
                FROM reminder rm JOIN mem ON mem.member_id = rm.recipient_id
                WHERE rm.ladder IN ('campaign:' || $1 || ':registration', 'campaign:' || $1 || ':quota')
                  AND rm.recipient_kind = 'member'
                GROUP BY mem.level_id, rm.step
            ) x GROUP BY level_id
        ),
        tasks AS (
            SELECT cc.level_id,
                   count(*) FILTER (WHERE t.status IN ('open', 'offering', 'staffed', 'in_progress', 'follow_up')) AS open,
                   count(*) FILTER (WHERE t.status IN ('done', 'verified', 'closed')) AS done,
                   count(*) FILTER (WHERE t.status = 'parked') AS parked
            FROM task t JOIN cc ON cc.community_id = t.community_id, c
            WHERE (t.created_at >= c.window_start AND t.created_at < c.window_end)
               OR EXISTS (SELECT 1 FROM campaign_task ct WHERE ct.campaign_id = $1 AND ct.task_id = t.id)
            GROUP BY cc.level_id
        ),
        levels AS (SELECT DISTINCT level_id FROM cc),
        counts AS (
            SELECT level_id, count(*) AS members, count(*) FILTER (WHERE registered) AS registered
            FROM mem GROUP BY level_id
        )
        SELECT l.level_id,
               coalesce(d.name, sd.name, co.name) AS name,
               coalesce(counts.members, 0) AS members, coalesce(counts.registered, 0) AS registered,
               coalesce(served.n, 0) AS served, coalesce(behind.n, 0) AS behind_quota,
               coalesce(reminded.by_step, '{}'::jsonb) AS reminded,
               coalesce(tasks.open, 0) AS tasks_open, coalesce(tasks.done, 0) AS tasks_done,
               coalesce(tasks.parked, 0) AS tasks_parked
        FROM levels l
        LEFT JOIN district d ON $2 = 'district' AND d.id = l.level_id
        LEFT JOIN subdistrict sd ON $2 = 'subdistrict' AND sd.id = l.level_id
        LEFT JOIN community co ON $2 = 'community' AND co.id = l.level_id
        LEFT JOIN counts USING (level_id)
        LEFT JOIN served USING (level_id)
        LEFT JOIN behind USING (level_id)
        LEFT JOIN reminded USING (level_id)
        LEFT JOIN tasks USING (level_id)
        """,  # noqa: S608 - the CTE composed in is a constant
    key="level_id", numerator="registered", first_param=10)
