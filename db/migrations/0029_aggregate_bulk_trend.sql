-- The 报到率 trend's triggers (migration 0024, landed after 0028) on member_registration and member
-- skip under shuangbaodao.bulk like the other aggregates' triggers there (0028), and the bulk
-- settle rebuilds member_trend and trend_tally when a skipped statement fed them (and locks
-- registration_unit_tally, which 0023's trigger keeps from the registration_tally it rewrites).
-- At 100,000 rows the trend's trigger alone added ~4 s to the ordinary import path: it locks and
-- recomputes every member the statement registered.

CREATE OR REPLACE FUNCTION aggregate_bulk_settle() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    events text[];
    registrations boolean;
    members_moved boolean;
    trend boolean;
BEGIN
    SELECT array_agg(tbl || ':' || op) INTO events FROM aggregate_bulk_pending WHERE xid = txid_current_if_assigned();
    IF events IS NULL THEN
        RETURN;
    END IF;
    registrations := events && ARRAY['member_registration:INSERT', 'member_registration:UPDATE',
                                     'member_registration:DELETE'];
    members_moved := 'member:UPDATE' = ANY(events);
    trend := registrations OR events && ARRAY['member:UPDATE', 'member:DELETE'];
    -- in db/aggregates.py AGGREGATES' order, as its rebuild locks them (no lock-order deadlock)
    EXECUTE 'LOCK TABLE ' || array_to_string(ARRAY(
        SELECT t FROM unnest(ARRAY['registration_tally', 'registration_quota_tally', 'campaign_member_service',
                                   'campaign_tally', 'campaign_quota_met', 'campaign_reminded',
                                   'work_queue_tally', 'registration_unit_tally', 'member_trend',
                                   'trend_tally']) WITH ORDINALITY AS x(t, n)
        WHERE t = 'registration_tally'
           OR (registrations AND t IN ('registration_quota_tally', 'campaign_quota_met', 'work_queue_tally'))
           OR (members_moved AND t IN ('campaign_member_service', 'campaign_tally', 'campaign_quota_met',
                                       'campaign_reminded'))
           -- registration_unit_tally: kept from registration_tally's rows by 0023's trigger
           OR t = 'registration_unit_tally'
           OR (trend AND t IN ('member_trend', 'trend_tally'))
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
    IF trend THEN
        PERFORM registration_trend_rebuild();
    END IF;
    DELETE FROM aggregate_bulk_pending WHERE xid = txid_current();
END
$$;


-- 0024's trigger function as it was, with the bulk skip first (evaluation_points never skips:
-- aggregate_bulk_skip only answers true for member and member_registration).
CREATE OR REPLACE FUNCTION member_trend_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF aggregate_bulk_skip(TG_TABLE_NAME, TG_OP) THEN
        RETURN NULL;
    END IF;
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
