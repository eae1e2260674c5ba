-- The analysis environment's own store: every query run in a workspace
-- (the history, and the metering of compute), and saved queries.
CREATE TABLE queries (
    id BIGINT PRIMARY KEY,
    permit_id TEXT NOT NULL,
    username TEXT NOT NULL,
    sql_text TEXT NOT NULL,
    started_us BIGINT NOT NULL,
    elapsed_us BIGINT,
    rows_returned BIGINT,
    -- 'ok', 'refused' (the SQL was not allowed or failed), 'timed_out'.
    outcome TEXT,
    message TEXT
);
CREATE INDEX queries_permit ON queries (permit_id, id);

CREATE TABLE saved_queries (
    permit_id TEXT NOT NULL,
    name TEXT NOT NULL,
    username TEXT NOT NULL,
    sql_text TEXT NOT NULL,
    saved_us BIGINT NOT NULL,
    PRIMARY KEY (permit_id, name)
);
