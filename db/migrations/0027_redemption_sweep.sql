-- The redemption sweep (RedemptionSweepWorkflow, a Temporal Schedule): finds the redemptions still
-- waiting to be collected whose code has expired, oldest first, without reading the collected and
-- expired ones (the bulk of the table over time).
CREATE INDEX exchange_redemption_issued_expiry_idx ON exchange_redemption (expires_at) WHERE state = 'issued';
