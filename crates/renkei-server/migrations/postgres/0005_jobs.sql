-- Long work (an extract build, a relink) runs as a job: started by a
-- request that answers 202 at once, read back at /api/v1/jobs/{id}.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    owner_id TEXT NOT NULL REFERENCES users (id),
    state TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    result TEXT,
    problem TEXT,
    created_us BIGINT NOT NULL,
    finished_us BIGINT
);
CREATE INDEX jobs_state ON jobs (state);
