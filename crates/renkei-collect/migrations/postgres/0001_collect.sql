-- Collection (renkei-collect): registered providers, submissions and their
-- receipts, the version of every source resource held, the subjects
-- (a provider's Patient resource id → person_key), the pending area and
-- per-submission quality figures.
--
-- Rows written while a submission is read are "staged" (tables *_staged,
-- pending.state = 'staged'): they count only once the submission's lake
-- commit has landed and finish_commit has moved them, in one transaction.
-- Recovery at start finishes or discards submissions a crash interrupted.

CREATE TABLE providers (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    org_id TEXT,
    registered_us BIGINT NOT NULL
);

CREATE TABLE submissions (
    id TEXT PRIMARY KEY,
    provider_code TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('receiving', 'committing', 'committed', 'failed')),
    received_us BIGINT NOT NULL,
    committed_us BIGINT,
    content_sha256 TEXT,
    bytes BIGINT,
    lake_version BIGINT,
    receipt TEXT,
    failure TEXT
);
CREATE INDEX submissions_provider ON submissions (provider_code, received_us);
CREATE INDEX submissions_content ON submissions (provider_code, content_sha256);

CREATE TABLE source_versions (
    provider_code TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    source_id TEXT NOT NULL,
    submission_id TEXT NOT NULL,
    last_updated_us BIGINT,
    content_hash BYTEA NOT NULL,
    deleted INTEGER NOT NULL,
    PRIMARY KEY (provider_code, resource_type, source_id)
);

CREATE TABLE source_versions_staged (
    submission_id TEXT NOT NULL,
    provider_code TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    source_id TEXT NOT NULL,
    last_updated_us BIGINT,
    content_hash BYTEA NOT NULL,
    deleted INTEGER NOT NULL,
    PRIMARY KEY (submission_id, resource_type, source_id)
);

CREATE TABLE subjects (
    provider_code TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    person_key TEXT NOT NULL,
    submission_id TEXT NOT NULL,
    PRIMARY KEY (provider_code, patient_id)
);

CREATE TABLE subjects_staged (
    submission_id TEXT NOT NULL,
    provider_code TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    person_key TEXT NOT NULL,
    PRIMARY KEY (submission_id, patient_id)
);

CREATE TABLE pending (
    id TEXT PRIMARY KEY,
    provider_code TEXT NOT NULL,
    origin_submission TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('staged', 'open', 'resolved')),
    resource_type TEXT NOT NULL,
    source_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    received_us BIGINT NOT NULL,
    location TEXT NOT NULL,
    resource BYTEA NOT NULL,
    resolving_in TEXT,
    resolved_in TEXT
);
CREATE INDEX pending_subject ON pending (provider_code, state, subject);
CREATE INDEX pending_origin ON pending (origin_submission);

CREATE TABLE submission_stats (
    submission_id TEXT NOT NULL,
    provider_code TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    metric TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (submission_id, resource_type, metric)
);
CREATE INDEX submission_stats_provider ON submission_stats (provider_code);
