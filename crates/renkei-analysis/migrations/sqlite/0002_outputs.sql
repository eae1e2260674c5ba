-- Outputs proposed for release from a workspace (成果物の持ち出し申請),
-- with the automatic disclosure check, the reviewer's decision and, once
-- released, the table that left. `cells_json` holds the true counts the
-- workspace computed from the data: it never leaves the platform, and is
-- kept so that a release can be checked again against the releases
-- approved in the meantime.
CREATE TABLE outputs (
    id BIGINT PRIMARY KEY,
    permit_id TEXT NOT NULL,
    title TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_us BIGINT NOT NULL,
    request_json TEXT NOT NULL,
    cells_json TEXT NOT NULL,
    check_json TEXT NOT NULL,
    -- 'pending', 'released' or 'refused'; only 'pending' changes.
    status TEXT NOT NULL,
    reviewer TEXT,
    decided_us BIGINT,
    reason TEXT,
    released_json TEXT
);
CREATE INDEX outputs_permit ON outputs (permit_id, id);
CREATE INDEX outputs_status ON outputs (status, id);
