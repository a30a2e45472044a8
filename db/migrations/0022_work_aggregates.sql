-- Reads people wait for at city scale (issue 12, point 1): the three rates 三率 live, the
-- workbench's queue counts, the ledger's live rows.
--
-- 三率 (the definitions of domain/evaluation.py, per Beijing-time month) are kept by
-- statement-level triggers in the same transaction as the facts, never by a job:
--   need_rate_state  one row per need: its community, month, and whether it counts (not
--                    rejected, not a duplicate), was responded to (a member took a task of it)
--                    and resolved (a task of it verified or closed);
--   rate_month       per area (a community, and rolled up its subdistrict and its district) and
--                    month of the need: needs, responded, resolved;
--   rating_month     per area, month of the rating and score: ratings.
-- A period's figures are sums over its months, the rates are taken from the sums when read; a
-- district's row is what a city-wide dashboard reads, not its 650 communities'. Bulk loads that
-- skip triggers (session_replication_role = replica) call work_aggregates_rebuild() afterwards.

CREATE TABLE need_rate_state (
    need_id       bigint PRIMARY KEY,
    community_id  bigint NOT NULL,
    month         date NOT NULL,
    counted       boolean NOT NULL,
    responded     boolean NOT NULL,
    resolved      boolean NOT NULL
);

CREATE TABLE rate_month (
    level      text NOT NULL CHECK (level IN ('community', 'subdistrict', 'district')),
    area_id    bigint NOT NULL,
    month      date NOT NULL,
    needs      integer NOT NULL,
    responded  integer NOT NULL,
    resolved   integer NOT NULL,
    PRIMARY KEY (level, area_id, month)
);

CREATE TABLE rating_month (
    level    text NOT NULL CHECK (level IN ('community', 'subdistrict', 'district')),
    area_id  bigint NOT NULL,
    month    date NOT NULL,
    score    smallint NOT NULL,
    ratings  integer NOT NULL,
    PRIMARY KEY (level, area_id, month, score)
);

-- A community and the areas above it: what a counter of the community's also moves.
CREATE FUNCTION area_levels(community bigint) RETURNS TABLE (level text, area_id bigint)
LANGUAGE sql STABLE AS $$
    SELECT l.level, l.area_id
    FROM community c JOIN subdistrict s ON s.id = c.subdistrict_id,
         LATERAL (VALUES ('community', c.id), ('subdistrict', c.subdistrict_id), ('district', s.district_id))
             AS l(level, area_id)
    WHERE c.id = community
$$;

CREATE FUNCTION local_month(at timestamptz) RETURNS date LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_trunc('month', at AT TIME ZONE 'Asia/Shanghai')::date
$$;

-- Bring the state of these needs up to date and move the month counters by the difference.
CREATE FUNCTION need_rate_refresh(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    -- Lock the needs' state rows first, in id order: the next statement takes a fresh snapshot,
    -- so it reads whatever a concurrent writer of the same needs committed before us.
    PERFORM 1 FROM need_rate_state WHERE need_id = ANY(ids) ORDER BY need_id FOR UPDATE;
    WITH fresh AS (
        SELECT n.id AS need_id, n.community_id, local_month(n.created_at) AS month,
               (n.status <> 'rejected' AND n.duplicate_of IS NULL) AS counted,
               EXISTS (SELECT 1 FROM task t JOIN assignment a ON a.task_id = t.id WHERE t.need_id = n.id)
                   AS responded,
               EXISTS (SELECT 1 FROM task t WHERE t.need_id = n.id AND t.status IN ('verified', 'closed'))
                   AS resolved
        FROM need n WHERE n.id = ANY(ids)
    ), old AS (
        SELECT * FROM need_rate_state WHERE need_id = ANY(ids)
    ), put AS (
        INSERT INTO need_rate_state AS s SELECT * FROM fresh
        ON CONFLICT (need_id) DO UPDATE SET community_id = EXCLUDED.community_id, month = EXCLUDED.month,
            counted = EXCLUDED.counted, responded = EXCLUDED.responded, resolved = EXCLUDED.resolved
        WHERE (s.community_id, s.month, s.counted, s.responded, s.resolved)
              IS DISTINCT FROM (EXCLUDED.community_id, EXCLUDED.month, EXCLUDED.counted, EXCLUDED.responded,
                                EXCLUDED.resolved)
    ), gone AS (
        DELETE FROM need_rate_state WHERE need_id = ANY(ids) AND need_id NOT IN (SELECT need_id FROM fresh)
    ), delta AS (
        SELECT community_id, month, sum(sign)::int AS needs,
               sum(sign * responded::int)::int AS responded, sum(sign * resolved::int)::int AS resolved
        FROM (SELECT community_id, month, -1 AS sign, responded, resolved FROM old WHERE counted
              UNION ALL
              SELECT community_id, month, 1, responded, resolved FROM fresh WHERE counted) d
        GROUP BY community_id, month
    )
    INSERT INTO rate_month AS m (level, area_id, month, needs, responded, resolved)
    SELECT a.level, a.area_id, d.month, sum(d.needs), sum(d.responded), sum(d.resolved)
    FROM delta d CROSS JOIN LATERAL area_levels(d.community_id) a
    WHERE d.needs <> 0 OR d.responded <> 0 OR d.resolved <> 0
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (level, area_id, month) DO UPDATE
        SET needs = m.needs + EXCLUDED.needs, responded = m.responded + EXCLUDED.responded,
            resolved = m.resolved + EXCLUDED.resolved;
END
$$;

-- Which need a row of need, task or assignment bears on, and what of it the need's state reads:
-- an update that leaves that alone (a check-in, a task's wave) refreshes nothing.
CREATE FUNCTION need_rate_of(n need) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT n.id $$;
CREATE FUNCTION need_rate_of(t task) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT t.need_id $$;
CREATE FUNCTION need_rate_of(a assignment) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT need_id FROM task WHERE id = a.task_id
$$;
CREATE FUNCTION need_rate_basis(n need) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT concat_ws('|', n.status = 'rejected', n.duplicate_of IS NULL, n.created_at, n.community_id)
$$;
CREATE FUNCTION need_rate_basis(t task) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT concat_ws('|', t.need_id, t.status IN ('verified', 'closed'))
$$;
CREATE FUNCTION need_rate_basis(a assignment) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT a.task_id::text $$;

-- One trigger function for the three tables: the needs their changed rows bear on, refreshed.
CREATE FUNCTION need_rate_on_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
BEGIN
    IF TG_OP = 'UPDATE' THEN
        EXECUTE format('SELECT array_agg(DISTINCT v.x) FROM new_rows n JOIN old_rows o ON o.id = n.id,'
                       ' LATERAL (VALUES (need_rate_of(n::%1$I)), (need_rate_of(o::%1$I))) AS v(x)'
                       ' WHERE need_rate_basis(n::%1$I) IS DISTINCT FROM need_rate_basis(o::%1$I)',
                       TG_TABLE_NAME) INTO ids;
    ELSE
        EXECUTE format('SELECT array_agg(DISTINCT need_rate_of(r::%I)) FROM %I r', TG_TABLE_NAME,
                       CASE TG_OP WHEN 'INSERT' THEN 'new_rows' ELSE 'old_rows' END) INTO ids;
    END IF;
    PERFORM need_rate_refresh(array_remove(ids, NULL));
    RETURN NULL;
END
$$;

-- Ratings move their counter directly: each row's (community, month, score) loses one for the old
-- row and gains one for the new; additions commute, so concurrent writers need no lock.
CREATE FUNCTION rating_month_add(task_ids bigint[], rated_ats timestamptz[], scores smallint[], sign integer)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO rating_month AS m (level, area_id, month, score, ratings)
    SELECT a.level, a.area_id, local_month(x.rated_at), x.score, sign * count(*)::int
    FROM unnest(task_ids, rated_ats, scores) AS x(task_id, rated_at, score) JOIN task t ON t.id = x.task_id
    CROSS JOIN LATERAL area_levels(t.community_id) a
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (level, area_id, month, score) DO UPDATE SET ratings = m.ratings + EXCLUDED.ratings
$$;

CREATE FUNCTION rating_month_on_rating() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM rating_month_add(array_agg(task_id), array_agg(rated_at), array_agg(score), -1) FROM old_rows;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM rating_month_add(array_agg(task_id), array_agg(rated_at), array_agg(score), 1) FROM new_rows;
    END IF;
    RETURN NULL;
END
$$;

-- Every counter above recomputed from the raw tables, set-based: what a bulk load that skipped
-- the triggers calls afterwards. Takes the counters' tables exclusively while it runs.
-- The same figures grouped from the raw tables (what tests/test_aggregates.py compares with).
CREATE VIEW community_area AS
    SELECT c.id AS community_id, l.level, l.area_id
    FROM community c JOIN subdistrict s ON s.id = c.subdistrict_id,
         LATERAL (VALUES ('community', c.id), ('subdistrict', c.subdistrict_id), ('district', s.district_id))
             AS l(level, area_id);
CREATE VIEW rate_month_recomputed AS
    SELECT a.level, a.area_id, local_month(n.created_at) AS month, count(*)::int AS needs,
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM task t JOIN assignment x ON x.task_id = t.id
                                          WHERE t.need_id = n.id))::int AS responded,
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM task t WHERE t.need_id = n.id
                                          AND t.status IN ('verified', 'closed')))::int AS resolved
    FROM need n JOIN community_area a ON a.community_id = n.community_id
    WHERE n.status <> 'rejected' AND n.duplicate_of IS NULL
    GROUP BY 1, 2, 3;
CREATE VIEW rating_month_recomputed AS
    SELECT a.level, a.area_id, local_month(r.rated_at) AS month, r.score, count(*)::int AS ratings
    FROM resident_rating r JOIN task t ON t.id = r.task_id JOIN community_area a ON a.community_id = t.community_id
    GROUP BY 1, 2, 3, 4;

-- Every 三率 counter recomputed from the raw tables, set-based.
CREATE FUNCTION work_rates_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE need_rate_state, rate_month, rating_month IN EXCLUSIVE MODE;
    DELETE FROM need_rate_state;
    DELETE FROM rate_month;
    DELETE FROM rating_month;
    INSERT INTO need_rate_state (need_id, community_id, month, counted, responded, resolved)
    SELECT n.id, n.community_id, local_month(n.created_at), n.status <> 'rejected' AND n.duplicate_of IS NULL,
           coalesce(r.responded, false), coalesce(r.resolved, false)
    FROM need n LEFT JOIN (
        SELECT t.need_id, bool_or(a.task_id IS NOT NULL) AS responded,
               bool_or(t.status IN ('verified', 'closed')) AS resolved
        FROM task t LEFT JOIN (SELECT DISTINCT task_id FROM assignment) a ON a.task_id = t.id
        WHERE t.need_id IS NOT NULL GROUP BY t.need_id
    ) r ON r.need_id = n.id;
    INSERT INTO rate_month (level, area_id, month, needs, responded, resolved)
    SELECT a.level, a.area_id, x.month, sum(x.needs), sum(x.responded), sum(x.resolved)
    FROM (SELECT community_id, month, count(*) AS needs, count(*) FILTER (WHERE responded) AS responded,
                 count(*) FILTER (WHERE resolved) AS resolved
          FROM need_rate_state WHERE counted GROUP BY 1, 2) x
    JOIN community_area a ON a.community_id = x.community_id
    GROUP BY 1, 2, 3;
    INSERT INTO rating_month (level, area_id, month, score, ratings)
    SELECT a.level, a.area_id, x.month, x.score, sum(x.ratings)
    FROM (SELECT t.community_id, local_month(r.rated_at) AS month, r.score, count(*) AS ratings
          FROM resident_rating r JOIN task t ON t.id = r.task_id GROUP BY 1, 2, 3) x
    JOIN community_area a ON a.community_id = x.community_id
    GROUP BY 1, 2, 3, 4;
END
$$;

-- The workbench 工作台: how many items wait in each queue, per community, moved by the same
-- triggers' transition tables (each old row -1 in its queue, each new row +1 in its). Overdue
-- tasks depend on the clock and are counted when read, from task_live_idx below.
CREATE TABLE work_queue_tally (
    community_id                bigint PRIMARY KEY,
    registrations_to_confirm    bigint NOT NULL DEFAULT 0,
    registrations_to_place      bigint NOT NULL DEFAULT 0,
    needs_to_verify             bigint NOT NULL DEFAULT 0,
    needs_to_dispatch           bigint NOT NULL DEFAULT 0,
    tasks_parked                bigint NOT NULL DEFAULT 0,
    completions_to_verify       bigint NOT NULL DEFAULT 0,
    service_records_to_approve  bigint NOT NULL DEFAULT 0,
    whistles_open               bigint NOT NULL DEFAULT 0
);

-- The queues' zeros, a queue a key: what a community with nothing waiting in a queue shows.
CREATE FUNCTION work_queue_zeros() RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_object_agg(attname, 0) FROM pg_attribute
    WHERE attrelid = 'work_queue_tally'::regclass AND attnum > 1 AND NOT attisdropped
$$;

-- Rows (community, queue, +1/-1) added to the tally, in community order. The queues are the
-- table's columns after community_id, so a queue added to the table needs nothing here.
CREATE FUNCTION work_queue_apply(community_ids bigint[], queues text[], deltas integer[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'INSERT INTO work_queue_tally AS w'
        ' SELECT (jsonb_populate_record(NULL::work_queue_tally, work_queue_zeros() || jsonb_object_agg(q, n)'
        '                               || jsonb_build_object(''community_id'', c))).*'
        ' FROM (SELECT c, q, sum(d) AS n FROM unnest($1, $2, $3) AS x(c, q, d)'
        '       WHERE q IS NOT NULL AND c IS NOT NULL GROUP BY c, q) x'
        ' GROUP BY c ORDER BY c'
        ' ON CONFLICT (community_id) DO UPDATE SET %s',
        (SELECT string_agg(format('%1$I = w.%1$I + EXCLUDED.%1$I', col), ', ')
         FROM jsonb_object_keys(work_queue_zeros()) col))
    USING community_ids, queues, deltas;
END
$$;

-- Which queue a row of each table waits in (NULL: none). A task waits as parked, or as a
-- completion to verify while done or in follow-up with a resident's rating.
CREATE FUNCTION work_queue_of(m member_registration) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE m.status WHEN 'submitted' THEN 'registrations_to_confirm'
                         WHEN 'confirmed' THEN 'registrations_to_place' END
$$;
CREATE FUNCTION work_queue_of(n need) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE n.status WHEN 'submitted' THEN 'needs_to_verify' WHEN 'verified' THEN 'needs_to_dispatch' END
$$;
CREATE FUNCTION work_queue_of(r service_record) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN r.status = 'pending' THEN 'service_records_to_approve' END
$$;
CREATE FUNCTION work_queue_of(w whistle) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN w.status <> 'closed' THEN 'whistles_open' END
$$;
CREATE FUNCTION work_queue_of(t task) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN t.status = 'parked' THEN 'tasks_parked'
                WHEN t.status IN ('done', 'follow_up')
                     AND EXISTS (SELECT 1 FROM resident_rating r WHERE r.task_id = t.id)
                THEN 'completions_to_verify' END
$$;

-- One trigger function for the five tables: each old row leaves its queue, each new row joins
-- its. A task's side reads ratings; the rating's side (below) first locks the task rows, so of a
-- task changed and rated at once, the second writer reads the first's committed row.
CREATE FUNCTION work_queue_on_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    apply text := 'SELECT work_queue_apply(array_agg(r.community_id), array_agg(work_queue_of(r::%I)),'
                  ' array_agg(%s)) FROM %I r';
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        EXECUTE format(apply, TG_TABLE_NAME, -1, 'old_rows');
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        EXECUTE format(apply, TG_TABLE_NAME, 1, 'new_rows');
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION work_queue_on_rating() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
    sign integer := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RETURN NULL;   -- a rating stays on its task: the queue does not move
    ELSIF TG_OP = 'INSERT' THEN
        ids := ARRAY(SELECT DISTINCT task_id FROM new_rows ORDER BY 1);
    ELSE
        ids := ARRAY(SELECT DISTINCT task_id FROM old_rows ORDER BY 1);
    END IF;
    PERFORM 1 FROM task WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;
    PERFORM work_queue_apply(array_agg(t.community_id), array_agg('completions_to_verify'::text), array_agg(sign))
    FROM task t WHERE t.id = ANY(ids) AND t.status IN ('done', 'follow_up');
    RETURN NULL;
END
$$;

-- Every trigger above, on insert, update and delete, one statement each, with its transition
-- tables (named aggregate_*: the roster import's fast path rebuilds them with db/aggregates.py).
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('aggregate_need_rate', 'need', 'need_rate_on_row()'),
        ('aggregate_need_rate_task', 'task', 'need_rate_on_row()'),
        ('aggregate_need_rate_assignment', 'assignment', 'need_rate_on_row()'),
        ('aggregate_rating_month', 'resident_rating', 'rating_month_on_rating()'),
        ('aggregate_work_queue_registration', 'member_registration', 'work_queue_on_row()'),
        ('aggregate_work_queue_need', 'need', 'work_queue_on_row()'),
        ('aggregate_work_queue_record', 'service_record', 'work_queue_on_row()'),
        ('aggregate_work_queue_whistle', 'whistle', 'work_queue_on_row()'),
        ('aggregate_work_queue_task', 'task', 'work_queue_on_row()'),
        ('aggregate_work_queue_rating', 'resident_rating', 'work_queue_on_rating()')
    ) AS x(name, tbl, fn) LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION %s', t.name || '_ins', t.tbl, t.fn);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION %s', t.name || '_upd', t.tbl, t.fn);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION %s', t.name || '_del', t.tbl, t.fn);
    END LOOP;
END
$$;

CREATE VIEW work_queue_tally_recomputed AS
    SELECT (jsonb_populate_record(NULL::work_queue_tally, work_queue_zeros() || jsonb_object_agg(q, n)
                                  || jsonb_build_object('community_id', community_id))).*
    FROM (SELECT community_id, q, count(*) AS n
          FROM (SELECT m.community_id, work_queue_of(m) AS q FROM member_registration m
                WHERE m.status IN ('submitted', 'confirmed')
                UNION ALL SELECT n.community_id, work_queue_of(n) FROM need n
                UNION ALL SELECT r.community_id, work_queue_of(r) FROM service_record r
                UNION ALL SELECT w.community_id, work_queue_of(w) FROM whistle w
                UNION ALL SELECT t.community_id, work_queue_of(t) FROM task t
                          WHERE t.status IN ('parked', 'done', 'follow_up')) x
          WHERE q IS NOT NULL
          GROUP BY community_id, q) y
    GROUP BY community_id;

-- Bulk loads that skipped the triggers: every counter of this migration from the raw tables.
CREATE FUNCTION work_aggregates_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM work_rates_rebuild();
    LOCK TABLE work_queue_tally IN EXCLUSIVE MODE;
    DELETE FROM work_queue_tally;
    INSERT INTO work_queue_tally SELECT * FROM work_queue_tally_recomputed;
END
$$;

-- Overdue tasks depend on the clock: counted when read, over the live tasks only.
CREATE INDEX task_live_idx ON task (community_id, id)
    INCLUDE (status, window_end, need_id, understaffed_shortfall)
    WHERE status IN ('open', 'offering', 'staffed', 'in_progress', 'parked');

SELECT work_aggregates_rebuild();
