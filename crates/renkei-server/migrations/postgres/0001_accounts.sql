-- Accounts of the platform: organizations, users with one role each, API
-- tokens (only their SHA-256 is kept) and page sessions (likewise).
CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    country TEXT NOT NULL CHECK (char_length(country) = 2),
    created_us BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('provider', 'patient', 'applicant', 'reviewer', 'operator', 'auditor')),
    org_id TEXT REFERENCES organizations (id),
    password_hash TEXT,
    created_us BIGINT NOT NULL,
    disabled_us BIGINT
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    created_us BIGINT NOT NULL,
    last_used_us BIGINT,
    revoked_us BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE sessions (
    id_hash BYTEA PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    csrf TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    expires_us BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
