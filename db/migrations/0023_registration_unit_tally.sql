-- 报到率 per unit for the whole city from one row per unit (issue 12).
--
-- registration_tally keeps the unit rows per unit x home district (0021), which a district's staff
-- read; city-wide the 5,000 units' 报到率 summed ~80,000 of them (82 ms of SQL at 1,000,000
-- members before sorting a page). registration_unit_tally holds the same counters summed over the
-- districts, one row per unit, kept by a statement-level trigger on registration_tally's unit rows
-- in the same transaction as the facts (registration_tally is only ever written with the facts:
-- by 0021's triggers and by its rebuild). tests/test_aggregates.py compares it with its view.

CREATE TABLE registration_unit_tally (
    unit_id     bigint PRIMARY KEY,   -- 0: members without a unit
    members     bigint NOT NULL DEFAULT 0,
    submitted   bigint NOT NULL DEFAULT 0,
    confirmed   bigint NOT NULL DEFAULT 0,
    active      bigint NOT NULL DEFAULT 0,
    paused      bigint NOT NULL DEFAULT 0,
    rejected    bigint NOT NULL DEFAULT 0,
    lapsed      bigint NOT NULL DEFAULT 0,
    registered  bigint NOT NULL DEFAULT 0
);

-- The same figures grouped from the raw tables (through 0021's member_registration_state).
CREATE VIEW registration_unit_tally_recomputed AS
    SELECT unit_id, count(*) AS members,
           count(*) FILTER (WHERE latest = 'submitted') AS submitted,
           count(*) FILTER (WHERE latest = 'confirmed') AS confirmed,
           count(*) FILTER (WHERE latest = 'active') AS active,
           count(*) FILTER (WHERE latest = 'paused') AS paused,
           count(*) FILTER (WHERE latest = 'rejected') AS rejected,
           count(*) FILTER (WHERE latest = 'lapsed') AS lapsed,
           count(*) FILTER (WHERE registered) AS registered
    FROM member_registration_state
    GROUP BY unit_id;

-- registration_tally's changed unit rows (old versions subtracted, new ones added), per unit, in
-- unit order (concurrent writers lock the unit rows in the same order).
CREATE FUNCTION registration_unit_tally_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format($q$
        WITH changes AS (%s)
        INSERT INTO registration_unit_tally AS t
               (unit_id, members, submitted, confirmed, active, paused, rejected, lapsed, registered)
        SELECT group_id, sum(sign * members), sum(sign * submitted), sum(sign * confirmed), sum(sign * active),
               sum(sign * paused), sum(sign * rejected), sum(sign * lapsed), sum(sign * registered)
        FROM changes GROUP BY group_id ORDER BY group_id
        ON CONFLICT (unit_id) DO UPDATE SET
            members = t.members + EXCLUDED.members, submitted = t.submitted + EXCLUDED.submitted,
            confirmed = t.confirmed + EXCLUDED.confirmed, active = t.active + EXCLUDED.active,
            paused = t.paused + EXCLUDED.paused, rejected = t.rejected + EXCLUDED.rejected,
            lapsed = t.lapsed + EXCLUDED.lapsed, registered = t.registered + EXCLUDED.registered
    $q$, aggregate_changes(TG_OP, 'group_id, members, submitted, confirmed, active, paused, rejected, lapsed, registered',
                           $c$grouping = 'unit'$c$));
    RETURN NULL;
END
$fn$;

CREATE TRIGGER aggregate_registration_unit_tally_insert AFTER INSERT ON registration_tally
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION registration_unit_tally_changed();
CREATE TRIGGER aggregate_registration_unit_tally_update AFTER UPDATE ON registration_tally
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION registration_unit_tally_changed();
CREATE TRIGGER aggregate_registration_unit_tally_delete AFTER DELETE ON registration_tally
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION registration_unit_tally_changed();

-- Summed afresh from registration_tally (db/aggregates.py rebuild calls it after 0021's rebuild,
-- which recomputes registration_tally from the raw tables), and the first fill.
CREATE FUNCTION registration_unit_tally_rebuild() RETURNS void LANGUAGE sql AS $$
    DELETE FROM registration_unit_tally;
    INSERT INTO registration_unit_tally
    SELECT group_id, sum(members), sum(submitted), sum(confirmed), sum(active), sum(paused), sum(rejected),
           sum(lapsed), sum(registered)
    FROM registration_tally WHERE grouping = 'unit' GROUP BY group_id;
$$;

SELECT registration_unit_tally_rebuild();
