"""A campaign's progress per district / subdistrict / community, in one set-based read.

Members are counted where they live (the campaign's communities); "registered" means an open
registration; "served" means at least one checked-out service or approved service record 服务记录
inside the window (a record by when it ended, like a task by its check-out); "behind quota"
is computed live for the current quota period; "reminded" counts member reminders per ladder
step; tasks are those of the campaign's communities created inside the window, or dispatched by
its mobilisation.
"""

from __future__ import annotations

from datetime import datetime

from db.pool import Conn
from schemas.campaign import ProgressRow


async def select_progress(
    conn: Conn, *, campaign_id: int, level: str, district_id: int | None = None,
    subdistrict_id: int | None = None, community_id: int | None = None,
    period_start: datetime | None = None, as_of: datetime | None = None,
    min_services: int = 0, min_hours: float = 0.0,
) -> list[ProgressRow]:
    """One row per unit of `level` (district/subdistrict/community) inside the optional filter.

    Behind quota is only counted when `period_start` is given (the campaign has service quotas).
    """
    rows = await conn.fetch(
        """
        WITH c AS (SELECT * FROM campaign WHERE id = $1),
        cc AS (
            SELECT co.id AS community_id, co.subdistrict_id, s.district_id,
                   CASE $2 WHEN 'district' THEN s.district_id WHEN 'subdistrict' THEN co.subdistrict_id
                        ELSE co.id END AS level_id
            FROM campaign_community x
            JOIN community co ON co.id = x.community_id
            JOIN subdistrict s ON s.id = co.subdistrict_id
            WHERE x.campaign_id = $1
              AND ($3::bigint IS NULL OR s.district_id = $3)
              AND ($4::bigint IS NULL OR co.subdistrict_id = $4)
              AND ($5::bigint IS NULL OR co.id = $5)
        ),
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
        ORDER BY l.level_id
        """,
        campaign_id, level, district_id, subdistrict_id, community_id, period_start, as_of,
        min_services, min_hours,
    )
    return [ProgressRow.model_validate(dict(r)) for r in rows]
