-- When a page session was last used, so that one left idle ends before its
-- hard expiry (a shared or stolen browser). NULL: not used since created.
ALTER TABLE sessions ADD COLUMN last_seen_us BIGINT;
