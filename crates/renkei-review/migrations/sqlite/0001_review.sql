-- Review (審査): applications and their workflow, reviewers' conflicts,
-- assignments, votes, permits. Every transition is kept with its actor,
-- reason and time, so the time spent in each state can be told.
CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    applicant TEXT NOT NULL,
    organization TEXT NOT NULL,
    form TEXT NOT NULL,
    state TEXT NOT NULL,
    stage TEXT NOT NULL,
    amends TEXT,
    revision BIGINT NOT NULL,
    created_us BIGINT NOT NULL,
    submitted_us BIGINT,
    decided_us BIGINT,
    updated_us BIGINT NOT NULL
);
CREATE INDEX applications_state ON applications (state);
CREATE INDEX applications_applicant ON applications (applicant);

CREATE TABLE transitions (
    application_id TEXT NOT NULL REFERENCES applications (id),
    seq BIGINT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    step TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    at_us BIGINT NOT NULL,
    PRIMARY KEY (application_id, seq)
);

CREATE TABLE reviewer_conflicts (
    reviewer TEXT NOT NULL,
    organization TEXT NOT NULL,
    declared_us BIGINT NOT NULL,
    PRIMARY KEY (reviewer, organization)
);

CREATE TABLE assignments (
    application_id TEXT NOT NULL REFERENCES applications (id),
    reviewer TEXT NOT NULL,
    assigned_by TEXT NOT NULL,
    assigned_us BIGINT NOT NULL,
    PRIMARY KEY (application_id, reviewer)
);

CREATE TABLE votes (
    application_id TEXT NOT NULL REFERENCES applications (id),
    reviewer TEXT NOT NULL,
    vote TEXT NOT NULL CHECK (vote IN ('approve', 'approve_with_conditions', 'reject')),
    comment TEXT NOT NULL,
    at_us BIGINT NOT NULL,
    PRIMARY KEY (application_id, reviewer)
);

CREATE TABLE permits (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL UNIQUE REFERENCES applications (id),
    body TEXT NOT NULL,
    issued_us BIGINT NOT NULL,
    expires_us BIGINT NOT NULL
);
