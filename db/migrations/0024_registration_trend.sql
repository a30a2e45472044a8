-- The 报到率 trend month by month (GET /statistics/registration/trend), maintained (issue 12).
--
-- Grouped live it read every member, registration and evaluation credit of the group: 12 s for
-- the city's 12 months at 1,000,000 members. Now each member's contribution to the trend is kept
-- per month (member_trend) and summed per area and month (trend_tally), both refreshed for the
-- members a statement touches by statement-level triggers on member_registration,
-- evaluation_points and member, in the same transaction. What the live query counts (db/statistics.py
-- select_registration_trend) per Beijing calendar month m:
--   registered at m's end: members with a registration confirmed before m's end that is still
--     registered (confirmed/active/paused) or left (updated_at) at or after m's end. A
--     registration counts for the months [month(confirmed_at), month(updated_at)) (open-ended
--     while registered); a member counts for the union of their registrations' months, kept as
--     +1/-1 where the union starts/stops (reg_delta), so registered(m) = sum of reg_delta <= m;
--   newly registered: registrations confirmed in m (newly);
--   served: members with an evaluation credit awarded in m (served), and those whose credits in m
--     meet the monthly quota of trend_month_quota() (met): the evaluation rule's defaults; a
--     caller with another quota is counted live.
-- Members are counted where they live now (a member who moves takes their history along) and in
-- their unit; the city and a district sum their subdistricts' rows. tests/test_aggregates.py
-- compares both tables with their *_recomputed views.

-- The monthly quota the maintained `met` counts (schemas.evaluation RuleFields' defaults).
CREATE FUNCTION trend_month_quota(OUT services numeric, OUT hours numeric)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 1::numeric, 2::numeric $$;

CREATE FUNCTION trend_month(at timestamptz) RETURNS date LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_trunc('month', at AT TIME ZONE 'Asia/Shanghai')::date
$$;

CREATE TABLE member_trend (
    member_id       bigint NOT NULL,
    month           date NOT NULL,
    community_id    bigint NOT NULL,   -- where the member lives (0: nowhere), their unit (0: none)
    subdistrict_id  bigint NOT NULL,
    district_id     bigint NOT NULL,
    unit_id         bigint NOT NULL,
    reg_delta       bigint NOT NULL,
    newly           bigint NOT NULL,
    served          bigint NOT NULL,
    met             bigint NOT NULL,
    PRIMARY KEY (member_id, month)
);

-- level: community / subdistrict / unit, area_id its id (0: members living nowhere / without a unit).
CREATE TABLE trend_tally (
    level      text NOT NULL,
    area_id    bigint NOT NULL,
    month      date NOT NULL,
    reg_delta  bigint NOT NULL DEFAULT 0,
    newly      bigint NOT NULL DEFAULT 0,
    served     bigint NOT NULL DEFAULT 0,
    met        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (level, area_id, month)
);

-- The members' (NULL: every member's) rows of member_trend, from the raw tables.
CREATE FUNCTION member_trend_of(p_members bigint[])
RETURNS SETOF member_trend LANGUAGE sql STABLE AS $$
    WITH m AS (
        SELECT m.id, coalesce(m.home_community_id, 0) AS community_id, coalesce(c.subdistrict_id, 0) AS subdistrict_id,
               coalesce(s.district_id, 0) AS district_id, coalesce(m.unit_id, 0) AS unit_id
        FROM member m
        LEFT JOIN community c ON c.id = m.home_community_id
        LEFT JOIN subdistrict s ON s.id = c.subdistrict_id
        WHERE p_members IS NULL OR m.id = ANY(p_members)
    ), reg AS (
        SELECT r.member_id, trend_month(r.confirmed_at) AS start,
               CASE WHEN r.status IN ('confirmed', 'active', 'paused') THEN NULL ELSE trend_month(r.updated_at) END AS stop
        FROM member_registration r JOIN m ON m.id = r.member_id
        WHERE r.confirmed_at IS NOT NULL
    ), events AS (
        SELECT member_id, month, sum(n) AS n FROM (
            SELECT member_id, start AS month, 1 AS n FROM reg WHERE stop IS NULL OR stop > start
            UNION ALL
            SELECT member_id, stop, -1 FROM reg WHERE stop > start
        ) e GROUP BY 1, 2
    ), covered AS (
        SELECT member_id, month, sum(n) OVER (PARTITION BY member_id ORDER BY month) > 0 AS covered FROM events
    ), union_delta AS (
        SELECT member_id, month,
               covered::int - (lag(covered, 1, false) OVER (PARTITION BY member_id ORDER BY month))::int AS reg_delta
        FROM covered
    ), newly AS (
        SELECT member_id, start AS month, count(*) AS newly FROM reg GROUP BY 1, 2
    ), credits AS (
        SELECT p.member_id, trend_month(p.awarded_at) AS month, count(*) AS services,
               sum(coalesce((p.parts->>'hours')::numeric, 0)) AS hours
        FROM evaluation_points p JOIN m ON m.id = p.member_id
        GROUP BY 1, 2
    ), facts AS (
        SELECT member_id, month, reg_delta, 0 AS newly, 0 AS served, 0 AS met FROM union_delta WHERE reg_delta <> 0
        UNION ALL
        SELECT member_id, month, 0, newly, 0, 0 FROM newly
        UNION ALL
        SELECT member_id, month, 0, 0, 1,
               CASE WHEN services >= (trend_month_quota()).services AND hours >= (trend_month_quota()).hours
                    THEN 1 ELSE 0 END
        FROM credits
    )
    SELECT f.member_id, f.month, m.community_id, m.subdistrict_id, m.district_id, m.unit_id,
           sum(f.reg_delta)::bigint, sum(f.newly)::bigint, sum(f.served)::bigint, sum(f.met)::bigint
    FROM facts f JOIN m ON m.id = f.member_id
    GROUP BY f.member_id, f.month, m.community_id, m.subdistrict_id, m.district_id, m.unit_id
    HAVING sum(f.reg_delta) <> 0 OR sum(f.newly) <> 0 OR sum(f.served) <> 0
$$;

CREATE VIEW member_trend_recomputed AS SELECT * FROM member_trend_of(NULL);

-- Each member_trend row counts in its community, subdistrict and unit (the city and a district
-- read their subdistricts' rows: no row every writer of the city would update).
CREATE VIEW trend_tally_recomputed AS
    SELECT a.level, a.area_id, r.month, sum(r.reg_delta)::bigint AS reg_delta, sum(r.newly)::bigint AS newly,
           sum(r.served)::bigint AS served, sum(r.met)::bigint AS met
    FROM member_trend_recomputed r
    CROSS JOIN LATERAL (VALUES ('community', r.community_id), ('subdistrict', r.subdistrict_id),
                               ('unit', r.unit_id)) AS a(level, area_id)
    GROUP BY 1, 2, 3;

-- The members' (their ids) rows recomputed: member_trend rewritten, and the old rows taken out of
-- trend_tally and the new ones added in one upsert in key order. The members are locked first (in
-- id order), so the refreshes of one member are serialized. Run as dynamic SQL, so each call is
-- planned for its members (one member's rows by index; a bulk statement's set-based).
CREATE FUNCTION member_trend_refresh(p_members bigint[]) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    IF p_members IS NULL OR cardinality(p_members) = 0 THEN
        RETURN;
    END IF;
    EXECUTE 'SELECT count(*) FROM (SELECT 1 FROM member WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE) locked'
        USING p_members;
    EXECUTE $q$
        WITH old AS (SELECT * FROM member_trend WHERE member_id = ANY($1)),
        new AS (SELECT * FROM member_trend_of($1)),
        gone AS (
            DELETE FROM member_trend t WHERE t.member_id = ANY($1)
              AND NOT EXISTS (SELECT 1 FROM new n WHERE n.member_id = t.member_id AND n.month = t.month)
        ), put AS (
            INSERT INTO member_trend SELECT * FROM new ORDER BY member_id, month
            ON CONFLICT (member_id, month) DO UPDATE SET
                community_id = EXCLUDED.community_id, subdistrict_id = EXCLUDED.subdistrict_id,
                district_id = EXCLUDED.district_id, unit_id = EXCLUDED.unit_id, reg_delta = EXCLUDED.reg_delta,
                newly = EXCLUDED.newly, served = EXCLUDED.served, met = EXCLUDED.met
        )
        INSERT INTO trend_tally AS t (level, area_id, month, reg_delta, newly, served, met)
        SELECT a.level, a.area_id, r.month, sum(r.sign * r.reg_delta), sum(r.sign * r.newly),
               sum(r.sign * r.served), sum(r.sign * r.met)
        FROM (SELECT -1 AS sign, * FROM old UNION ALL SELECT 1, * FROM new) r
        CROSS JOIN LATERAL (VALUES ('community', r.community_id), ('subdistrict', r.subdistrict_id),
                                   ('unit', r.unit_id)) AS a(level, area_id)
        GROUP BY 1, 2, 3
        HAVING sum(r.sign * r.reg_delta) <> 0 OR sum(r.sign * r.newly) <> 0 OR sum(r.sign * r.served) <> 0
            OR sum(r.sign * r.met) <> 0
        ORDER BY 1, 2, 3
        ON CONFLICT (level, area_id, month) DO UPDATE SET
            reg_delta = t.reg_delta + EXCLUDED.reg_delta, newly = t.newly + EXCLUDED.newly,
            served = t.served + EXCLUDED.served, met = t.met + EXCLUDED.met
    $q$ USING p_members;
END
$fn$;

-- The triggers: the members whose registrations or credits a statement changed, and those it
-- moved to another community or unit (or deleted).
CREATE FUNCTION member_trend_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_TABLE_NAME = 'member' THEN
        IF TG_OP = 'DELETE' THEN
            PERFORM member_trend_refresh(ARRAY(SELECT id FROM old_rows));
        ELSE
            PERFORM member_trend_refresh(ARRAY(
                SELECT n.id FROM new_rows n JOIN old_rows o USING (id)
                WHERE n.home_community_id IS DISTINCT FROM o.home_community_id OR n.unit_id IS DISTINCT FROM o.unit_id));
        END IF;
    ELSE
        EXECUTE format('SELECT member_trend_refresh(ARRAY(SELECT DISTINCT member_id FROM (%s) c))',
                       aggregate_changes(TG_OP, 'member_id', 'true'));
    END IF;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER aggregate_trend_member_registration_insert AFTER INSERT ON member_registration
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION member_trend_changed();
CREATE TRIGGER aggregate_trend_member_registration_update AFTER UPDATE ON member_registration
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION member_trend_changed();
CREATE TRIGGER aggregate_trend_member_registration_delete AFTER DELETE ON member_registration
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION member_trend_changed();
CREATE TRIGGER aggregate_trend_evaluation_points_insert AFTER INSERT ON evaluation_points
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION member_trend_changed();
CREATE TRIGGER aggregate_trend_member_update AFTER UPDATE ON member
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION member_trend_changed();
CREATE TRIGGER aggregate_trend_member_delete AFTER DELETE ON member
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION member_trend_changed();

-- Both tables recomputed from the raw tables (db/aggregates.py rebuild), and the first fill.
CREATE FUNCTION registration_trend_rebuild() RETURNS void LANGUAGE sql AS $$
    DELETE FROM member_trend;
    INSERT INTO member_trend SELECT * FROM member_trend_of(NULL);
    DELETE FROM trend_tally;
    INSERT INTO trend_tally (level, area_id, month, reg_delta, newly, served, met)
    SELECT a.level, a.area_id, r.month, sum(r.reg_delta), sum(r.newly), sum(r.served), sum(r.met)
    FROM member_trend r
    CROSS JOIN LATERAL (VALUES ('community', r.community_id), ('subdistrict', r.subdistrict_id),
                               ('unit', r.unit_id)) AS a(level, area_id)
    GROUP BY 1, 2, 3;
$$;

SELECT registration_trend_rebuild();
