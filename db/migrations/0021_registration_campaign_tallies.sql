-- Maintained aggregates for 报到率 per level and a campaign's progress per level (issue 12).
--
-- Counters per community (and per unit x district), per campaign x community, kept by
-- statement-level triggers with transition tables in the same transaction as the facts that
-- change them, so a dashboard sums at most ~10,000 rows instead of grouping 1,000,000 members.
-- Every table has a *_recomputed view: the same figures grouped from the raw tables. The bulk
-- paths that switch triggers off (session_replication_role = replica) rebuild from those views
-- (db/aggregates.py rebuild), and tests/test_aggregates.py compares each table with its view.
--
-- Concurrency: the triggers for registrations and services first lock the members they touch
-- (FOR NO KEY UPDATE, in id order; it does not conflict with the FK checks' FOR KEY SHARE), so
-- the before/after reads of one member's state are serialized; counters are added with
-- INSERT .. ON CONFLICT DO UPDATE in key order. Rows whose counters all reach 0 may stay.

-- ---------------------------------------------------------------------------------------------
-- Tables

-- Members with their latest registration's status, and how many have an open registration
-- (submitted/confirmed/active/paused), grouped two ways: `grouping` 'community' by home community
-- (group_id; 0: none) and 'unit' by unit (0: none); both also by home district (0: none).
CREATE TABLE registration_tally (
    grouping      text NOT NULL CHECK (grouping IN ('community', 'unit')),
    group_id      bigint NOT NULL,
    district_id   bigint NOT NULL,
    members       bigint NOT NULL DEFAULT 0,
    submitted     bigint NOT NULL DEFAULT 0,
    confirmed     bigint NOT NULL DEFAULT 0,
    active        bigint NOT NULL DEFAULT 0,
    paused        bigint NOT NULL DEFAULT 0,
    rejected      bigint NOT NULL DEFAULT 0,
    lapsed        bigint NOT NULL DEFAULT 0,
    registered    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (grouping, group_id, district_id)
);
CREATE INDEX registration_tally_district_idx ON registration_tally (grouping, district_id);

-- Registrations in confirmed/active (those a service quota applies to) by their own community.
CREATE TABLE registration_quota_tally (
    community_id  bigint PRIMARY KEY,
    counted       bigint NOT NULL DEFAULT 0
);

-- A member's services (checked-out assignments by checked_out_at, approved service records by
-- ended_at) inside a campaign's window, per quota period of that campaign (its window start,
-- then Beijing calendar month/quarter starts, as domain/quota.py periods).
CREATE TABLE campaign_member_service (
    campaign_id   bigint NOT NULL,
    member_id     bigint NOT NULL,
    period_start  timestamptz NOT NULL,
    services      integer NOT NULL,
    hours         numeric NOT NULL,
    PRIMARY KEY (campaign_id, member_id, period_start)
);
CREATE INDEX campaign_member_service_member_idx ON campaign_member_service (member_id);
-- rows whose services dropped to 0 (removed at once by the trigger that zeroed them)
CREATE INDEX campaign_member_service_zero_idx ON campaign_member_service (campaign_id) WHERE services = 0;

-- Per campaign and community: members served inside the window (by home community), and the
-- tasks there created inside the window or dispatched by its mobilisation, by state.
CREATE TABLE campaign_tally (
    campaign_id   bigint NOT NULL,
    community_id  bigint NOT NULL,
    served        bigint NOT NULL DEFAULT 0,
    tasks_open    bigint NOT NULL DEFAULT 0,
    tasks_done    bigint NOT NULL DEFAULT 0,
    tasks_parked  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, community_id)
);

-- Per campaign, quota period and registration community: confirmed/active registrations whose
-- member met the campaign's service quota in that period (behind = registration_quota_tally - met).
CREATE TABLE campaign_quota_met (
    campaign_id   bigint NOT NULL,
    period_start  timestamptz NOT NULL,
    community_id  bigint NOT NULL,
    met           bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, period_start, community_id)
);

-- Member reminders of a campaign's registration and quota ladders, per home community and step.
CREATE TABLE campaign_reminded (
    campaign_id   bigint NOT NULL,
    community_id  bigint NOT NULL,
    step          text NOT NULL,
    reminded      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, community_id, step)
);

-- ---------------------------------------------------------------------------------------------
-- Pure rules, shared by the views and the triggers

CREATE FUNCTION campaign_period_start(window_start timestamptz, quotas jsonb, at timestamptz)
RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT greatest(window_start,
        date_trunc(CASE WHEN quotas->>'period' = 'month' THEN 'month' ELSE 'quarter' END,
                   at AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai')
$$;

-- Whether services/hours meet the quota; NULL when the campaign has no service quota.
CREATE FUNCTION campaign_quota_is_met(quotas jsonb, services bigint, hours numeric)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN quotas->>'min_services' IS NULL AND quotas->>'min_hours' IS NULL THEN NULL
                ELSE services >= coalesce((quotas->>'min_services')::bigint, 0)
                     AND hours >= coalesce((quotas->>'min_hours')::numeric, 0) END
$$;

CREATE FUNCTION campaign_of_ladder(ladder text) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT substring(ladder FROM '^campaign:(\d+):(?:registration|quota)$')::bigint
$$;

-- ---------------------------------------------------------------------------------------------
-- Recomputations from the raw tables

CREATE VIEW member_registration_state AS
    WITH latest AS (
        SELECT DISTINCT ON (member_id) member_id, status FROM member_registration ORDER BY member_id, id DESC
    ), open AS (
        SELECT DISTINCT member_id FROM member_registration
        WHERE status IN ('submitted', 'confirmed', 'active', 'paused')
    )
    SELECT m.id AS member_id, coalesce(m.home_community_id, 0) AS community_id,
           coalesce(m.unit_id, 0) AS unit_id, coalesce(s.district_id, 0) AS district_id,
           l.status AS latest, o.member_id IS NOT NULL AS registered
    FROM member m
    LEFT JOIN community c ON c.id = m.home_community_id
    LEFT JOIN subdistrict s ON s.id = c.subdistrict_id
    LEFT JOIN latest l ON l.member_id = m.id
    LEFT JOIN open o ON o.member_id = m.id;

CREATE VIEW registration_tally_recomputed AS
    SELECT CASE WHEN grouping(community_id) = 0 THEN 'community' ELSE 'unit' END AS grouping,
           coalesce(community_id, unit_id) AS group_id, district_id, count(*) AS members,
           count(*) FILTER (WHERE latest = 'submitted') AS submitted,
           count(*) FILTER (WHERE latest = 'confirmed') AS confirmed,
           count(*) FILTER (WHERE latest = 'active') AS active,
           count(*) FILTER (WHERE latest = 'paused') AS paused,
           count(*) FILTER (WHERE latest = 'rejected') AS rejected,
           count(*) FILTER (WHERE latest = 'lapsed') AS lapsed,
           count(*) FILTER (WHERE registered) AS registered
    FROM member_registration_state
    GROUP BY GROUPING SETS ((community_id, district_id), (unit_id, district_id));

CREATE VIEW registration_quota_tally_recomputed AS
    SELECT community_id, count(*) AS counted FROM member_registration
    WHERE status IN ('confirmed', 'active') GROUP BY community_id;

CREATE VIEW service_fact AS
    SELECT member_id, checked_out_at AS at, coalesce(hours, 0) AS hours FROM assignment
    WHERE status = 'checked_out' AND checked_out_at IS NOT NULL
    UNION ALL
    SELECT member_id, ended_at, hours FROM service_record WHERE status = 'approved';

CREATE VIEW campaign_member_service_recomputed AS
    SELECT c.id AS campaign_id, f.member_id, campaign_period_start(c.window_start, c.quotas, f.at) AS period_start,
           count(*)::integer AS services, sum(f.hours) AS hours
    FROM campaign c JOIN service_fact f ON f.at >= c.window_start AND f.at < c.window_end
    GROUP BY 1, 2, 3;

CREATE VIEW campaign_tally_recomputed AS
    WITH served AS (
        SELECT s.campaign_id, coalesce(m.home_community_id, 0) AS community_id, count(DISTINCT s.member_id) AS n
        FROM campaign_member_service_recomputed s JOIN member m ON m.id = s.member_id
        GROUP BY 1, 2
    ), tasks AS (
        SELECT c.id AS campaign_id, t.community_id,
               count(*) FILTER (WHERE t.status IN ('open', 'offering', 'staffed', 'in_progress', 'follow_up')) AS open,
               count(*) FILTER (WHERE t.status IN ('done', 'verified', 'closed')) AS done,
               count(*) FILTER (WHERE t.status = 'parked') AS parked
        FROM campaign c JOIN task t
          ON (t.created_at >= c.window_start AND t.created_at < c.window_end)
          OR EXISTS (SELECT 1 FROM campaign_task ct WHERE ct.campaign_id = c.id AND ct.task_id = t.id)
        GROUP BY 1, 2
    )
    SELECT campaign_id, community_id, coalesce(s.n, 0) AS served, coalesce(t.open, 0) AS tasks_open,
           coalesce(t.done, 0) AS tasks_done, coalesce(t.parked, 0) AS tasks_parked
    FROM served s FULL JOIN tasks t USING (campaign_id, community_id);

CREATE VIEW campaign_quota_met_recomputed AS
    SELECT s.campaign_id, s.period_start, r.community_id, count(*) AS met
    FROM campaign_member_service_recomputed s
    JOIN campaign c ON c.id = s.campaign_id
    JOIN member_registration r ON r.member_id = s.member_id AND r.status IN ('confirmed', 'active')
    WHERE campaign_quota_is_met(c.quotas, s.services, s.hours)
    GROUP BY 1, 2, 3;

CREATE VIEW campaign_reminded_recomputed AS
    SELECT campaign_of_ladder(rm.ladder) AS campaign_id, coalesce(m.home_community_id, 0) AS community_id,
           rm.step, count(*) AS reminded
    FROM reminder rm JOIN member m ON m.id = rm.recipient_id
    WHERE rm.recipient_kind = 'member' AND campaign_of_ladder(rm.ladder) IS NOT NULL
    GROUP BY 1, 2, 3;

-- ---------------------------------------------------------------------------------------------
-- Adding to the counters (key order, so concurrent writers lock rows in the same order)

CREATE FUNCTION registration_tally_add(
    p_community bigint[], p_unit bigint[], p_members bigint[], p_status text[], p_status_sign bigint[],
    p_registered bigint[]
) RETURNS void LANGUAGE sql AS $$
    WITH d AS (
        SELECT coalesce(x.community_id, 0) AS community_id, coalesce(x.unit_id, 0) AS unit_id,
               coalesce(s.district_id, 0) AS district_id, x.members, x.status, x.status_sign, x.registered
        FROM unnest(p_community, p_unit, p_members, p_status, p_status_sign, p_registered)
             AS x(community_id, unit_id, members, status, status_sign, registered)
        LEFT JOIN community c ON c.id = x.community_id
        LEFT JOIN subdistrict s ON s.id = c.subdistrict_id
    ), both_groupings AS (
        SELECT 'community' AS grouping, community_id AS group_id, d.* FROM d
        UNION ALL
        SELECT 'unit', unit_id, d.* FROM d
    )
    INSERT INTO registration_tally AS t
           (grouping, group_id, district_id, members, submitted, confirmed, active, paused, rejected, lapsed,
            registered)
    SELECT grouping, group_id, district_id, sum(members),
           coalesce(sum(status_sign) FILTER (WHERE status = 'submitted'), 0),
           coalesce(sum(status_sign) FILTER (WHERE status = 'confirmed'), 0),
           coalesce(sum(status_sign) FILTER (WHERE status = 'active'), 0),
           coalesce(sum(status_sign) FILTER (WHERE status = 'paused'), 0),
           coalesce(sum(status_sign) FILTER (WHERE status = 'rejected'), 0),
           coalesce(sum(status_sign) FILTER (WHERE status = 'lapsed'), 0),
           sum(registered)
    FROM both_groupings GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (grouping, group_id, district_id) DO UPDATE SET
        members = t.members + EXCLUDED.members, submitted = t.submitted + EXCLUDED.submitted,
        confirmed = t.confirmed + EXCLUDED.confirmed, active = t.active + EXCLUDED.active,
        paused = t.paused + EXCLUDED.paused, rejected = t.rejected + EXCLUDED.rejected,
        lapsed = t.lapsed + EXCLUDED.lapsed, registered = t.registered + EXCLUDED.registered
$$;

-- Served members (p_served) and tasks (a task's status p_task_status, counted p_task_sign times:
-- open, done or parked by its state; NULL for none) per campaign and community.
CREATE FUNCTION campaign_tally_add(
    p_campaign bigint[], p_community bigint[], p_served bigint[], p_task_status text[], p_task_sign bigint[]
) RETURNS void LANGUAGE sql AS $$
    INSERT INTO campaign_tally AS t (campaign_id, community_id, served, tasks_open, tasks_done, tasks_parked)
    SELECT campaign_id, community_id, sum(served),
           coalesce(sum(task_sign) FILTER (WHERE status IN ('open', 'offering', 'staffed', 'in_progress', 'follow_up')), 0),
           coalesce(sum(task_sign) FILTER (WHERE status IN ('done', 'verified', 'closed')), 0),
           coalesce(sum(task_sign) FILTER (WHERE status = 'parked'), 0)
    FROM unnest(p_campaign, p_community, p_served, p_task_status, p_task_sign)
         AS x(campaign_id, community_id, served, status, task_sign)
    GROUP BY campaign_id, community_id
    ORDER BY campaign_id, community_id
    ON CONFLICT (campaign_id, community_id) DO UPDATE SET
        served = t.served + EXCLUDED.served, tasks_open = t.tasks_open + EXCLUDED.tasks_open,
        tasks_done = t.tasks_done + EXCLUDED.tasks_done, tasks_parked = t.tasks_parked + EXCLUDED.tasks_parked
$$;

-- Signed counts added to a per campaign x community x key counter: campaign_quota_met (key
-- period_start, counter met) or campaign_reminded (key step, counter reminded). Keys travel as
-- text and are cast back to `key_type`.
CREATE FUNCTION campaign_counter_add(
    tbl text, key_column text, key_type text, counter text,
    p_campaign bigint[], p_community bigint[], p_key text[], p_n bigint[]
) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format($q$
        INSERT INTO %1$I AS t (campaign_id, community_id, %2$I, %4$I)
        SELECT campaign_id, community_id, key::%3$s, sum(n)
        FROM unnest($1, $2, $3, $4) AS x(campaign_id, community_id, key, n)
        GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (campaign_id, community_id, %2$I) DO UPDATE SET %4$I = t.%4$I + EXCLUDED.%4$I
    $q$, tbl, key_column, key_type, counter) USING p_campaign, p_community, p_key, p_n;
END
$fn$;

-- The statement's changed rows as (sign, columns...): -1 for old versions, +1 for new ones.
-- Transition tables are visible to dynamic SQL run from the trigger function.
CREATE FUNCTION aggregate_changes(op text, columns text, condition text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE op
        WHEN 'INSERT' THEN format('SELECT 1 AS sign, %s FROM new_rows WHERE %s', columns, condition)
        WHEN 'DELETE' THEN format('SELECT -1 AS sign, %s FROM old_rows WHERE %s', columns, condition)
        ELSE format('SELECT -1 AS sign, %1$s FROM old_rows WHERE %2$s UNION ALL SELECT 1, %1$s FROM new_rows WHERE %2$s',
                    columns, condition)
    END
$$;

-- The statement locking the rows of `tbl` whose ids the statement's changes name in column
-- `id_column` (in id order), so the trigger's reads that follow see every earlier writer of them
-- committed. Text for the trigger function to EXECUTE itself: only it sees the transition tables.
CREATE FUNCTION aggregate_lock(tbl text, id_column text, changes text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format('SELECT count(*) FROM (SELECT 1 FROM %I WHERE id IN (SELECT %I FROM (%s) c) '
                  'ORDER BY id FOR NO KEY UPDATE) locked', tbl, id_column, changes)
$$;

-- The statement-level triggers running aggregate_changed(kind, args) after each of `events`
-- on `tbl`, each with the transition tables its event has (new_rows, old_rows):
-- aggregate_<tbl>_<event>. `args`: further trigger arguments as SQL literals ('' for none).
CREATE FUNCTION create_aggregate_triggers(tbl text, kind text, args text, events text[]) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    event text;
BEGIN
    FOREACH event IN ARRAY events LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER %s ON %I REFERENCING %s FOR EACH STATEMENT '
                       'EXECUTE FUNCTION aggregate_changed(%s)',
                       'aggregate_' || tbl || '_' || lower(event), event, tbl,
                       CASE event WHEN 'INSERT' THEN 'NEW TABLE AS new_rows'
                                  WHEN 'DELETE' THEN 'OLD TABLE AS old_rows'
                                  ELSE 'OLD TABLE AS old_rows NEW TABLE AS new_rows' END,
                       concat_ws(', ', quote_literal(kind), nullif(args, '')));
    END LOOP;
END
$fn$;

-- ---------------------------------------------------------------------------------------------
-- Triggers: one trigger function, aggregate_changed(kind, args...), runs the statements
-- aggregate_statements writes for the kind of fact and the event (dynamic SQL run by the trigger
-- function itself, the only one that sees the transition tables new_rows / old_rows).

CREATE FUNCTION aggregate_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    statement text;
BEGIN
    FOREACH statement IN ARRAY aggregate_statements(TG_ARGV[0], TG_OP, TG_ARGV[1:]) LOOP
        EXECUTE statement;
    END LOOP;
    RETURN NULL;
END
$fn$;

-- The statements per kind of fact (args: trigger arguments after the kind):
-- registration: the latest status and open registration of each member it touches (before: the
--   rows now, less those the statement wrote, plus their old versions), the confirmed/active
--   count per registration community, and the quota-met counts;
-- member: a member inserted or deleted counts in `members` only (the registration statements
--   count its registrations where it lives); a member moved takes its registration state along,
--   and its served and reminded counts;
-- service (assignment, service_record; args: the fact's time and hours columns and condition): a
--   member's services per campaign period, then who became (or stopped being) served and who met
--   (or stopped meeting) the quota, counted where they live / where they are registered;
-- task: counted for each campaign whose window holds its creation, or that dispatched it;
-- campaign_task: a dispatched task created outside the window starts (stops) counting;
-- reminder: member reminders of a campaign's ladders, where the member lives.
-- The kinds that read a member's (a task's) other rows first lock them (aggregate_lock).
CREATE FUNCTION aggregate_statements(kind text, op text, args text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT CASE kind
        WHEN 'registration' THEN ARRAY[
            lock,
            format($q$
            WITH changes AS (%s),
            affected AS (SELECT DISTINCT member_id FROM changes),
            now_rows AS (
                SELECT r.id, r.member_id, r.status FROM member_registration r JOIN affected USING (member_id)
            ), before_rows AS (
                SELECT id, member_id, status FROM now_rows n
                WHERE NOT EXISTS (SELECT 1 FROM changes c WHERE c.sign = 1 AND c.id = n.id)
                UNION ALL SELECT id, member_id, status FROM changes WHERE sign = -1
            ), states AS (
                SELECT false AS now_side, * FROM before_rows UNION ALL SELECT true, * FROM now_rows
            ), latest AS (
                SELECT DISTINCT ON (now_side, member_id) now_side, member_id, status
                FROM states ORDER BY now_side, member_id, id DESC
            ), open AS (
                SELECT DISTINCT now_side, member_id FROM states
                WHERE status IN ('submitted', 'confirmed', 'active', 'paused')
            ), sides AS (
                SELECT a.member_id, side.now_side, l.status AS latest, o.member_id IS NOT NULL AS registered
                FROM affected a CROSS JOIN (VALUES (false), (true)) AS side(now_side)
                LEFT JOIN latest l ON l.member_id = a.member_id AND l.now_side = side.now_side
                LEFT JOIN open o ON o.member_id = a.member_id AND o.now_side = side.now_side
            ), moved AS (
                SELECT s.member_id, CASE WHEN s.now_side THEN 1 ELSE -1 END AS sign, s.latest, s.registered
                FROM sides s JOIN sides other ON other.member_id = s.member_id AND other.now_side <> s.now_side
                WHERE s.latest IS DISTINCT FROM other.latest OR s.registered <> other.registered
            )
            SELECT registration_tally_add(array_agg(m.home_community_id), array_agg(m.unit_id),
                                          array_agg(0::bigint), array_agg(d.latest), array_agg(d.sign::bigint),
                                          array_agg(CASE WHEN d.registered THEN d.sign ELSE 0 END::bigint))
            FROM moved d JOIN member m ON m.id = d.member_id
            HAVING count(*) > 0
        $q$, changes),
            format($q$
            WITH changes AS (%s)
            INSERT INTO registration_quota_tally AS t (community_id, counted)
            SELECT community_id, sum(sign) FROM changes GROUP BY community_id HAVING sum(sign) <> 0
            ORDER BY community_id
            ON CONFLICT (community_id) DO UPDATE SET counted = t.counted + EXCLUDED.counted
        $q$, counted),
            format($q$
            WITH changes AS (%s)
            SELECT campaign_counter_add('campaign_quota_met', 'period_start', 'timestamptz', 'met',
                                        array_agg(s.campaign_id), array_agg(ch.community_id),
                                        array_agg(s.period_start::text), array_agg(ch.sign::bigint))
            FROM changes ch
            JOIN campaign_member_service s ON s.member_id = ch.member_id
            JOIN campaign c ON c.id = s.campaign_id
            WHERE campaign_quota_is_met(c.quotas, s.services, s.hours)
            HAVING count(*) > 0
        $q$, counted)]
        WHEN 'member' THEN ARRAY[
            format($q$
            WITH changes AS (%s),
            moved AS (
                SELECT * FROM changes c
                WHERE NOT EXISTS (SELECT 1 FROM changes o WHERE o.id = c.id AND o.sign = -c.sign
                                  AND o.home_community_id IS NOT DISTINCT FROM c.home_community_id
                                  AND o.unit_id IS NOT DISTINCT FROM c.unit_id)
            ), state AS (
                SELECT mv.*, l.latest, coalesce(l.registered, false) AS registered
                FROM moved mv
                LEFT JOIN LATERAL (
                    SELECT (SELECT status FROM member_registration r WHERE r.member_id = mv.id
                            ORDER BY r.id DESC LIMIT 1) AS latest,
                           EXISTS (SELECT 1 FROM member_registration r WHERE r.member_id = mv.id
                                   AND r.status IN ('submitted', 'confirmed', 'active', 'paused')) AS registered
                ) l ON %s
            )
            SELECT registration_tally_add(array_agg(home_community_id), array_agg(unit_id), array_agg(sign::bigint),
                                          array_agg(latest), array_agg(sign::bigint),
                                          array_agg(CASE WHEN registered THEN sign ELSE 0 END::bigint))
            FROM state HAVING count(*) > 0
        $q$, changes, CASE WHEN op = 'UPDATE' THEN 'true' ELSE 'false' END)
        ] || CASE WHEN op = 'UPDATE' THEN ARRAY[
            format($q$
            WITH changes AS (%s),
            moved AS (
                SELECT * FROM changes c
                WHERE NOT EXISTS (SELECT 1 FROM changes o WHERE o.id = c.id AND o.sign = -c.sign
                                  AND o.home_community_id IS NOT DISTINCT FROM c.home_community_id)
            ), served AS (
                SELECT DISTINCT mv.id, mv.sign, coalesce(mv.home_community_id, 0) AS community_id, s.campaign_id
                FROM moved mv JOIN campaign_member_service s ON s.member_id = mv.id
            ), served_added AS (
                SELECT campaign_tally_add(array_agg(campaign_id), array_agg(community_id), array_agg(sign::bigint),
                                          array_agg(NULL::text), array_agg(0::bigint))
                FROM served HAVING count(*) > 0
            ), reminded_added AS (
                SELECT campaign_counter_add('campaign_reminded', 'step', 'text', 'reminded',
                                            array_agg(campaign_of_ladder(rm.ladder)),
                                            array_agg(coalesce(mv.home_community_id, 0)), array_agg(rm.step),
                                            array_agg(mv.sign::bigint))
                FROM moved mv JOIN reminder rm ON rm.recipient_kind = 'member' AND rm.recipient_id = mv.id
                WHERE campaign_of_ladder(rm.ladder) IS NOT NULL
                HAVING count(*) > 0
            )
            SELECT (SELECT count(*) FROM served_added), (SELECT count(*) FROM reminded_added)
        $q$, changes)
        ] ELSE ARRAY[]::text[] END
        WHEN 'service' THEN ARRAY[
            lock,
            format($q$
            WITH changes AS (%s),
            d AS (
                SELECT c.id AS campaign_id, ch.member_id, campaign_period_start(c.window_start, c.quotas, ch.at) AS period_start,
                       sum(ch.sign)::integer AS services, sum(ch.sign * ch.hours) AS hours
                FROM changes ch JOIN campaign c ON ch.at >= c.window_start AND ch.at < c.window_end
                GROUP BY 1, 2, 3 HAVING sum(ch.sign) <> 0 OR sum(ch.sign * ch.hours) <> 0
            ), before AS (
                SELECT s.* FROM campaign_member_service s
                WHERE (s.campaign_id, s.member_id) IN (SELECT campaign_id, member_id FROM d)
            ), up AS (
                INSERT INTO campaign_member_service AS t (campaign_id, member_id, period_start, services, hours)
                SELECT * FROM d ORDER BY 1, 2, 3
                ON CONFLICT (campaign_id, member_id, period_start) DO UPDATE SET
                    services = t.services + EXCLUDED.services, hours = t.hours + EXCLUDED.hours
                RETURNING t.*
            ), after AS (
                SELECT * FROM up
                UNION ALL
                SELECT b.* FROM before b WHERE NOT EXISTS (
                    SELECT 1 FROM d WHERE d.campaign_id = b.campaign_id AND d.member_id = b.member_id
                                      AND d.period_start = b.period_start)
            ), served AS (
                SELECT p.campaign_id, p.member_id, coalesce(b.served, false) AS was_served,
                       coalesce(a.served, false) AS now_served
                FROM (SELECT DISTINCT campaign_id, member_id FROM d) p
                LEFT JOIN (SELECT campaign_id, member_id, bool_or(services > 0) AS served FROM before GROUP BY 1, 2) b
                    USING (campaign_id, member_id)
                LEFT JOIN (SELECT campaign_id, member_id, bool_or(services > 0) AS served FROM after GROUP BY 1, 2) a
                    USING (campaign_id, member_id)
            ), served_moves AS (
                SELECT s.campaign_id, coalesce(m.home_community_id, 0) AS community_id,
                       (CASE WHEN s.now_served THEN 1 ELSE -1 END)::bigint AS n
                FROM served s JOIN member m ON m.id = s.member_id
                WHERE s.now_served <> s.was_served
            ), met AS (
                SELECT d.campaign_id, d.member_id, d.period_start,
                       (CASE WHEN campaign_quota_is_met(c.quotas, a.services, a.hours) THEN 1 ELSE 0 END
                        - CASE WHEN campaign_quota_is_met(c.quotas, coalesce(b.services, 0), coalesce(b.hours, 0))
                               THEN 1 ELSE 0 END)::bigint AS n
                FROM d JOIN campaign c ON c.id = d.campaign_id
                JOIN after a USING (campaign_id, member_id, period_start)
                LEFT JOIN before b USING (campaign_id, member_id, period_start)
            ), met_moves AS (
                SELECT met.campaign_id, met.period_start, r.community_id, met.n
                FROM met JOIN member_registration r ON r.member_id = met.member_id AND r.status IN ('confirmed', 'active')
                WHERE met.n <> 0
            ), served_added AS (
                SELECT campaign_tally_add(array_agg(campaign_id), array_agg(community_id), array_agg(n),
                                          array_agg(NULL::text), array_agg(0::bigint))
                FROM served_moves HAVING count(*) > 0
            ), met_added AS (
                SELECT campaign_counter_add('campaign_quota_met', 'period_start', 'timestamptz', 'met',
                                            array_agg(campaign_id), array_agg(community_id),
                                            array_agg(period_start::text), array_agg(n))
                FROM met_moves HAVING count(*) > 0
            )
            SELECT (SELECT count(*) FROM served_added), (SELECT count(*) FROM met_added)
        $q$, changes),
            'DELETE FROM campaign_member_service WHERE services = 0']   -- the partial index's rows
        WHEN 'task' THEN ARRAY[
            format($q$
            WITH changes AS (%s),
            counted AS (
                SELECT c.id AS campaign_id, ch.* FROM changes ch
                JOIN campaign c ON ch.created_at >= c.window_start AND ch.created_at < c.window_end
                UNION ALL
                SELECT c.id, ch.* FROM changes ch
                JOIN campaign_task ct ON ct.task_id = ch.id JOIN campaign c ON c.id = ct.campaign_id
                WHERE NOT (ch.created_at >= c.window_start AND ch.created_at < c.window_end)
            )
            SELECT campaign_tally_add(array_agg(campaign_id), array_agg(community_id), array_agg(0::bigint),
                                      array_agg(status), array_agg(sign::bigint))
            FROM counted HAVING count(*) > 0
        $q$, changes)]
        WHEN 'campaign_task' THEN ARRAY[
            lock,
            format($q$
            WITH changes AS (%s)
            SELECT campaign_tally_add(array_agg(c.id), array_agg(t.community_id), array_agg(0::bigint),
                                      array_agg(t.status), array_agg(ch.sign::bigint))
            FROM changes ch JOIN task t ON t.id = ch.task_id JOIN campaign c ON c.id = ch.campaign_id
            WHERE NOT (t.created_at >= c.window_start AND t.created_at < c.window_end)
            HAVING count(*) > 0
        $q$, changes)]
        WHEN 'reminder' THEN ARRAY[
            format($q$
            WITH changes AS (%s)
            SELECT campaign_counter_add('campaign_reminded', 'step', 'text', 'reminded',
                                        array_agg(campaign_of_ladder(ch.ladder)),
                                        array_agg(coalesce(m.home_community_id, 0)), array_agg(ch.step),
                                        array_agg(ch.sign::bigint))
            FROM changes ch JOIN member m ON m.id = ch.recipient_id
            HAVING count(*) > 0
        $q$, changes)]
    END
    FROM (
        SELECT aggregate_changes(op, k.columns, k.condition) AS changes,
               aggregate_lock(k.lock_table, k.lock_column, aggregate_changes(op, k.columns, k.condition)) AS lock,
               aggregate_changes(op, 'member_id, community_id', $c$status IN ('confirmed', 'active')$c$) AS counted
        FROM (VALUES
            ('registration', 'id, member_id, community_id, status', 'true', 'member', 'member_id'),
            ('member', 'id, home_community_id, unit_id', 'true', NULL, NULL),
            ('service', format('member_id, %s AS at, coalesce(%s, 0) AS hours', args[1], args[2]), args[3],
             'member', 'member_id'),
            ('task', 'id, community_id, created_at, status', 'true', NULL, NULL),
            ('campaign_task', 'campaign_id, task_id', 'true', 'task', 'task_id'),
            ('reminder', 'ladder, step, recipient_id',
             $c$recipient_kind = 'member' AND campaign_of_ladder(ladder) IS NOT NULL$c$, NULL, NULL)
        ) AS k(kind, columns, condition, lock_table, lock_column)
        WHERE k.kind = aggregate_statements.kind
    ) x
$fn$;

-- The triggers (statement-level, with transition tables).
SELECT create_aggregate_triggers('member_registration', 'registration', '',
                                 ARRAY['INSERT', 'UPDATE', 'DELETE']);
SELECT create_aggregate_triggers('member', 'member', '', ARRAY['INSERT', 'UPDATE', 'DELETE']);
SELECT create_aggregate_triggers(
    'assignment', 'service',
    $a$'checked_out_at', 'hours', 'status = ''checked_out'' AND checked_out_at IS NOT NULL'$a$,
    ARRAY['INSERT', 'UPDATE', 'DELETE']);
SELECT create_aggregate_triggers('service_record', 'service',
                                 $a$'ended_at', 'hours', 'status = ''approved'''$a$, ARRAY['INSERT', 'UPDATE', 'DELETE']);
SELECT create_aggregate_triggers('task', 'task', '', ARRAY['INSERT', 'UPDATE', 'DELETE']);
SELECT create_aggregate_triggers('campaign_task', 'campaign_task', '', ARRAY['INSERT', 'DELETE']);
SELECT create_aggregate_triggers('reminder', 'reminder', '', ARRAY['INSERT', 'UPDATE', 'DELETE']);

-- One campaign's served, task and quota-met counts recomputed from the raw tables (a new
-- campaign, or one whose window or quotas changed); NULL: every campaign (the rebuild).
CREATE FUNCTION campaign_aggregates_recompute(p_campaign bigint) RETURNS void LANGUAGE sql AS $$
    DELETE FROM campaign_member_service WHERE p_campaign IS NULL OR campaign_id = p_campaign;
    INSERT INTO campaign_member_service SELECT * FROM campaign_member_service_recomputed
        WHERE p_campaign IS NULL OR campaign_id = p_campaign;
    DELETE FROM campaign_tally WHERE p_campaign IS NULL OR campaign_id = p_campaign;
    INSERT INTO campaign_tally (campaign_id, community_id, served, tasks_open, tasks_done, tasks_parked)
        SELECT * FROM campaign_tally_recomputed WHERE p_campaign IS NULL OR campaign_id = p_campaign;
    DELETE FROM campaign_quota_met WHERE p_campaign IS NULL OR campaign_id = p_campaign;
    INSERT INTO campaign_quota_met SELECT * FROM campaign_quota_met_recomputed
        WHERE p_campaign IS NULL OR campaign_id = p_campaign;
$$;

CREATE FUNCTION aggregate_campaign_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM campaign_aggregates_recompute(NEW.id);
    RETURN NULL;
END
$fn$;

CREATE TRIGGER aggregate_campaign_insert AFTER INSERT ON campaign
    FOR EACH ROW EXECUTE FUNCTION aggregate_campaign_changed();
CREATE TRIGGER aggregate_campaign_update AFTER UPDATE OF window_start, window_end, quotas ON campaign
    FOR EACH ROW WHEN (OLD.window_start IS DISTINCT FROM NEW.window_start
                       OR OLD.window_end IS DISTINCT FROM NEW.window_end
                       OR OLD.quotas IS DISTINCT FROM NEW.quotas)
    EXECUTE FUNCTION aggregate_campaign_changed();

-- Every aggregate of this migration recomputed from the raw tables: what the bulk paths that
-- run with triggers off call afterwards (db/aggregates.py rebuild), and the first fill.
CREATE FUNCTION registration_campaign_tallies_rebuild() RETURNS void LANGUAGE sql AS $$
    DELETE FROM registration_tally;
    INSERT INTO registration_tally SELECT * FROM registration_tally_recomputed;
    DELETE FROM registration_quota_tally;
    INSERT INTO registration_quota_tally SELECT * FROM registration_quota_tally_recomputed;
    SELECT campaign_aggregates_recompute(NULL);
    DELETE FROM campaign_reminded;
    INSERT INTO campaign_reminded SELECT * FROM campaign_reminded_recomputed;
$$;

SELECT registration_campaign_tallies_rebuild();
