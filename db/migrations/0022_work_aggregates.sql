-- Reads people wait for at city scale (issue 12, point 1): the three rates 三率 live, the
-- workbench's queue counts, the ledger's first page.
--
-- 三率 (the definitions of domain/evaluation.py, counted per community and Beijing-time month)
-- are kept by statement-level triggers in the same transaction as the facts, never by a job:
--   need_rate_state       one row per need: its community, month, and whether it counts (not
--                         rejected, not a duplicate), was responded to (a member took a task of it)
--                         and resolved (a task of it verified or closed);
--   community_rate_month  per (community, month of the need): needs, responded, resolved;
--   community_rating_month per (community, month of the rating, score): ratings.
-- A month's figures are the sums; rates are taken from the sums when read. Bulk loads that skip
-- triggers (session_replication_role = replica) call work_rates_rebuild() afterwards.

CREATE TABLE need_rate_state (
    need_id       bigint PRIMARY KEY,
    community_id  bigint NOT NULL,
    month         date NOT NULL,
    counted       boolean NOT NULL,
    responded     boolean NOT NULL,
    resolved      boolean NOT NULL
);

CREATE TABLE community_rate_month (
    community_id  bigint NOT NULL,
    month         date NOT NULL,
    needs         integer NOT NULL,
    responded     integer NOT NULL,
    resolved      integer NOT NULL,
    PRIMARY KEY (community_id, month)
);
CREATE INDEX community_rate_month_month_idx ON community_rate_month (month, community_id)
    INCLUDE (needs, responded, resolved);

CREATE TABLE community_rating_month (
    community_id  bigint NOT NULL,
    month         date NOT NULL,
    score         smallint NOT NULL,
    ratings       integer NOT NULL,
    PRIMARY KEY (community_id, month, score)
);
CREATE INDEX community_rating_month_month_idx ON community_rating_month (month, community_id)
    INCLUDE (score, ratings);

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
    INSERT INTO community_rate_month AS m (community_id, month, needs, responded, resolved)
    SELECT community_id, month, needs, responded, resolved FROM delta
    WHERE needs <> 0 OR responded <> 0 OR resolved <> 0
    ORDER BY community_id, month
    ON CONFLICT (community_id, month) DO UPDATE
        SET needs = m.needs + EXCLUDED.needs, responded = m.responded + EXCLUDED.responded,
            resolved = m.resolved + EXCLUDED.resolved;
END
$$;

CREATE FUNCTION need_rate_on_need() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM need_rate_refresh(ARRAY(SELECT id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM need_rate_refresh(ARRAY(SELECT id FROM old_rows));
    ELSE
        PERFORM need_rate_refresh(ARRAY(
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (n.status = 'rejected', n.duplicate_of IS NULL, n.created_at, n.community_id)
                  IS DISTINCT FROM (o.status = 'rejected', o.duplicate_of IS NULL, o.created_at, o.community_id)));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER need_rate_ins AFTER INSERT ON need REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION need_rate_on_need();
CREATE TRIGGER need_rate_upd AFTER UPDATE ON need REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION need_rate_on_need();
CREATE TRIGGER need_rate_del AFTER DELETE ON need REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION need_rate_on_need();

CREATE FUNCTION need_rate_on_task() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM need_rate_refresh(ARRAY(SELECT DISTINCT need_id FROM new_rows WHERE need_id IS NOT NULL));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM need_rate_refresh(ARRAY(SELECT DISTINCT need_id FROM old_rows WHERE need_id IS NOT NULL));
    ELSE
        PERFORM need_rate_refresh(ARRAY(
            SELECT DISTINCT x.need_id FROM new_rows n JOIN old_rows o ON o.id = n.id,
                   LATERAL (VALUES (n.need_id), (o.need_id)) x(need_id)
            WHERE x.need_id IS NOT NULL
              AND (n.need_id IS DISTINCT FROM o.need_id
                   OR (n.status IN ('verified', 'closed')) <> (o.status IN ('verified', 'closed')))));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER need_rate_task_ins AFTER INSERT ON task REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION need_rate_on_task();
CREATE TRIGGER need_rate_task_upd AFTER UPDATE ON task REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION need_rate_on_task();
CREATE TRIGGER need_rate_task_del AFTER DELETE ON task REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION need_rate_on_task();

CREATE FUNCTION need_rate_on_assignment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM need_rate_refresh(ARRAY(
            SELECT DISTINCT t.need_id FROM task t WHERE t.need_id IS NOT NULL
              AND t.id IN (SELECT task_id FROM new_rows)));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM need_rate_refresh(ARRAY(
            SELECT DISTINCT t.need_id FROM task t WHERE t.need_id IS NOT NULL
              AND t.id IN (SELECT task_id FROM old_rows)));
    ELSE
        PERFORM need_rate_refresh(ARRAY(
            SELECT DISTINCT t.need_id FROM task t WHERE t.need_id IS NOT NULL AND t.id IN (
                SELECT x.task_id FROM new_rows n JOIN old_rows o ON o.id = n.id,
                       LATERAL (VALUES (n.task_id), (o.task_id)) x(task_id)
                WHERE n.task_id <> o.task_id)));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER need_rate_assignment_ins AFTER INSERT ON assignment REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION need_rate_on_assignment();
CREATE TRIGGER need_rate_assignment_upd AFTER UPDATE ON assignment
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION need_rate_on_assignment();
CREATE TRIGGER need_rate_assignment_del AFTER DELETE ON assignment REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION need_rate_on_assignment();

-- Ratings move their counter directly: each row's (community, month, score) loses one for the old
-- row and gains one for the new; additions commute, so concurrent writers need no lock.
CREATE FUNCTION rating_month_add(task_ids bigint[], rated_ats timestamptz[], scores smallint[], sign integer)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO community_rating_month AS m (community_id, month, score, ratings)
    SELECT t.community_id, local_month(x.rated_at), x.score, sign * count(*)::int
    FROM unnest(task_ids, rated_ats, scores) AS x(task_id, rated_at, score) JOIN task t ON t.id = x.task_id
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (community_id, month, score) DO UPDATE SET ratings = m.ratings + EXCLUDED.ratings
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
CREATE TRIGGER rating_month_ins AFTER INSERT ON resident_rating REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rating_month_on_rating();
CREATE TRIGGER rating_month_upd AFTER UPDATE ON resident_rating
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rating_month_on_rating();
CREATE TRIGGER rating_month_del AFTER DELETE ON resident_rating REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rating_month_on_rating();

-- Every counter above recomputed from the raw tables, set-based: what a bulk load that skipped
-- the triggers calls afterwards. Takes the counters' tables exclusively while it runs.
CREATE FUNCTION work_rates_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE need_rate_state, community_rate_month, community_rating_month IN EXCLUSIVE MODE;
    DELETE FROM need_rate_state;
    DELETE FROM community_rate_month;
    DELETE FROM community_rating_month;
    INSERT INTO need_rate_state (need_id, community_id, month, counted, responded, resolved)
    SELECT n.id, n.community_id, local_month(n.created_at), n.status <> 'rejected' AND n.duplicate_of IS NULL,
           coalesce(r.responded, false), coalesce(r.resolved, false)
    FROM need n LEFT JOIN (
        SELECT t.need_id, bool_or(a.task_id IS NOT NULL) AS responded,
               bool_or(t.status IN ('verified', 'closed')) AS resolved
        FROM task t LEFT JOIN (SELECT DISTINCT task_id FROM assignment) a ON a.task_id = t.id
        WHERE t.need_id IS NOT NULL GROUP BY t.need_id
    ) r ON r.need_id = n.id;
    INSERT INTO community_rate_month (community_id, month, needs, responded, resolved)
    SELECT community_id, month, count(*), count(*) FILTER (WHERE responded), count(*) FILTER (WHERE resolved)
    FROM need_rate_state WHERE counted GROUP BY community_id, month;
    INSERT INTO community_rating_month (community_id, month, score, ratings)
    SELECT t.community_id, local_month(r.rated_at), r.score, count(*)
    FROM resident_rating r JOIN task t ON t.id = r.task_id GROUP BY 1, 2, 3;
END
$$;

-- The workbench's counts and the ledger's filtered first pages read only what is waiting, not
-- the year behind it: partial indexes over the live rows, so a count costs the queue's length.
CREATE INDEX task_live_idx ON task (community_id, id)
    INCLUDE (status, window_end, need_id, understaffed_shortfall)
    WHERE status IN ('open', 'offering', 'staffed', 'in_progress', 'parked', 'done', 'follow_up');
CREATE INDEX need_open_idx ON need (community_id, status) WHERE status IN ('submitted', 'verified');
CREATE INDEX member_registration_awaiting_idx ON member_registration (community_id, status)
    WHERE status IN ('submitted', 'confirmed');
CREATE INDEX whistle_open_idx ON whistle (community_id) WHERE status <> 'closed';

SELECT work_rates_rebuild();
