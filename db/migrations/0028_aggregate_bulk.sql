-- A bulk write of members and registrations (the roster import's ordinary path, the one a
-- non-superuser role takes) without the maintained aggregates' statement triggers, and the
-- aggregates it touches rebuilt set-based once, in the same transaction, before it commits.
--
-- On a 1,000,000-row import the triggers of migrations 0021/0022 on member and
-- member_registration cost ~4 s per 100,000 rows (the registration kind locks every member it
-- touches FOR NO KEY UPDATE and reads its registrations back); the rebuild of the four tables
-- they feed costs a fraction of that. The superuser path switches them off with
-- session_replication_role (and the FK triggers with them); a role that owns no table cannot.
--
-- How: a statement on member or member_registration run while the transaction-local setting
-- shuangbaodao.bulk is 'on' leaves its aggregates alone and records (transaction id, table,
-- event) in aggregate_bulk_pending. aggregate_bulk_settle() rebuilds what the recorded events
-- feed and forgets them; the importer calls it before committing (db/member.py). Whoever set the
-- setting, skipped work is never lost: the first recorded event of a transaction queues a
-- deferred constraint trigger that settles at COMMIT whatever is still pending, so no
-- transaction can commit with its aggregates behind. The setting only moves when the rebuild
-- happens, never whether. No reader sees lagging numbers: the skipped rows and the rebuilt
-- counters become visible in the same commit.

CREATE TABLE aggregate_bulk_pending (
    xid   bigint NOT NULL,   -- txid_current() of the transaction whose statements skipped
    tbl   text NOT NULL,
    op    text NOT NULL,
    PRIMARY KEY (xid, tbl, op)
);

-- Whether this trigger's statement skips its aggregates (and is then recorded as pending).
CREATE FUNCTION aggregate_bulk_skip(tbl text, op text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('shuangbaodao.bulk', true), '') <> 'on'
       OR tbl NOT IN ('member', 'member_registration') THEN
        RETURN false;
    END IF;
    INSERT INTO aggregate_bulk_pending (xid, tbl, op) VALUES (txid_current(), tbl, op)
    ON CONFLICT DO NOTHING;
    RETURN true;
END
$$;

-- Rebuild, from the raw tables, the aggregates fed by this transaction's skipped statements,
-- and forget them. Takes out every other writer of those tables first (as db/aggregates.py
-- rebuild does), so no trigger's addition lands between the recomputation's read and its write.
CREATE FUNCTION aggregate_bulk_settle() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    events text[];
    registrations boolean;
    members_moved boolean;
BEGIN
    SELECT array_agg(tbl || ':' || op) INTO events FROM aggregate_bulk_pending WHERE xid = txid_current_if_assigned();
    IF events IS NULL THEN
        RETURN;
    END IF;
    registrations := events && ARRAY['member_registration:INSERT', 'member_registration:UPDATE',
                                     'member_registration:DELETE'];
    members_moved := 'member:UPDATE' = ANY(events);
    -- in db/aggregates.py AGGREGATES' order, as its rebuild locks them (no lock-order deadlock)
    EXECUTE 'LOCK TABLE ' || array_to_string(ARRAY(
        SELECT t FROM unnest(ARRAY['registration_tally', 'registration_quota_tally', 'campaign_member_service',
                                   'campaign_tally', 'campaign_quota_met', 'campaign_reminded',
                                   'work_queue_tally']) WITH ORDINALITY AS x(t, n)
        WHERE t = 'registration_tally'
           OR (registrations AND t IN ('registration_quota_tally', 'campaign_quota_met', 'work_queue_tally'))
           OR (members_moved AND t IN ('campaign_member_service', 'campaign_tally', 'campaign_quota_met',
                                       'campaign_reminded'))
        ORDER BY n), ', ') || ' IN EXCLUSIVE MODE';
    -- member (insert, delete, move) and member_registration: members and their states per
    -- community, unit and district
    DELETE FROM registration_tally;
    INSERT INTO registration_tally SELECT * FROM registration_tally_recomputed;
    IF registrations THEN
        DELETE FROM registration_quota_tally;
        INSERT INTO registration_quota_tally SELECT * FROM registration_quota_tally_recomputed;
        -- the workbench's two registration queues; the other queues' columns are left as they are
        UPDATE work_queue_tally SET registrations_to_confirm = 0, registrations_to_place = 0
        WHERE registrations_to_confirm <> 0 OR registrations_to_place <> 0;
        INSERT INTO work_queue_tally AS w (community_id, registrations_to_confirm, registrations_to_place)
        SELECT m.community_id,
               count(*) FILTER (WHERE work_queue_of(m) = 'registrations_to_confirm'),
               count(*) FILTER (WHERE work_queue_of(m) = 'registrations_to_place')
        FROM member_registration m WHERE m.status IN ('submitted', 'confirmed')
        GROUP BY m.community_id ORDER BY m.community_id
        ON CONFLICT (community_id) DO UPDATE SET registrations_to_confirm = EXCLUDED.registrations_to_confirm,
                                                 registrations_to_place = EXCLUDED.registrations_to_place;
    END IF;
    IF members_moved THEN
        -- served members and reminders are counted where members live; quota met where registered
        PERFORM campaign_aggregates_recompute(NULL);
        DELETE FROM campaign_reminded;
        INSERT INTO campaign_reminded SELECT * FROM campaign_reminded_recomputed;
    ELSIF registrations THEN
        DELETE FROM campaign_quota_met;
        INSERT INTO campaign_quota_met SELECT * FROM campaign_quota_met_recomputed;
    END IF;
    DELETE FROM aggregate_bulk_pending WHERE xid = txid_current();
END
$$;

-- At COMMIT (or SET CONSTRAINTS ... IMMEDIATE): whatever the transaction left pending, settled.
-- Nothing left when the importer settled already.
CREATE FUNCTION aggregate_bulk_settle_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM aggregate_bulk_settle();
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER aggregate_bulk_settle AFTER INSERT ON aggregate_bulk_pending
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION aggregate_bulk_settle_at_commit();

-- The two trigger functions on member and member_registration (0021's aggregate_changed, 0022's
-- work_queue_on_row) as they were, with the bulk skip first.
CREATE OR REPLACE FUNCTION aggregate_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    statement text;
BEGIN
    IF aggregate_bulk_skip(TG_TABLE_NAME, TG_OP) THEN
        RETURN NULL;
    END IF;
    FOREACH statement IN ARRAY aggregate_statements(TG_ARGV[0], TG_OP, TG_ARGV[1:]) LOOP
        EXECUTE statement;
    END LOOP;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION work_queue_on_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    apply text := 'SELECT work_queue_apply(array_agg(r.community_id), array_agg(work_queue_of(r::%I)),'
                  ' array_agg(%s)) FROM %I r';
BEGIN
    IF aggregate_bulk_skip(TG_TABLE_NAME, TG_OP) THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        EXECUTE format(apply, TG_TABLE_NAME, -1, 'old_rows');
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        EXECUTE format(apply, TG_TABLE_NAME, 1, 'new_rows');
    END IF;
    RETURN NULL;
END
$$;
