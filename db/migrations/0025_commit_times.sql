-- When a need's verification and an offer became visible, on the database's wall clock
-- (clock_timestamp(), not the transaction's start and not the workflow's time): the two ends of
-- "need -> first offer" (bench/dispatch_e2e.py). The offer's stamp is taken by the wave's insert,
-- the last statements of its transaction but one, so it trails the commit by well under a
-- millisecond plus the commit's WAL flush. Rows from before this migration stay NULL (unknown);
-- the default is set after the column is added so no existing row is rewritten.
ALTER TABLE offer ADD COLUMN committed_at timestamptz;
ALTER TABLE offer ALTER COLUMN committed_at SET DEFAULT clock_timestamp();
ALTER TABLE need ADD COLUMN verified_committed_at timestamptz;
