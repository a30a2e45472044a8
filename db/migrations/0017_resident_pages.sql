-- The residents' pages (/m, no account): a need placed with a grid's code can be followed with a
-- link whose token is shown once (only its hash kept here), and the public board 晒单 lists a
-- community's closed tasks newest first.

ALTER TABLE need ADD COLUMN follow_token_hash text;
CREATE UNIQUE INDEX need_follow_idx ON need (follow_token_hash) WHERE follow_token_hash IS NOT NULL;

CREATE INDEX task_board_idx ON task (community_id, closed_at DESC, id DESC) WHERE status = 'closed';
