-- Sessions of patients identified to the portal. A patient has no account:
-- the session names the person identity found, and how. Only the SHA-256
-- of the session id is kept.
CREATE TABLE patient_sessions (
    id_hash BLOB PRIMARY KEY,
    person_key TEXT NOT NULL,
    method TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    expires_us BIGINT NOT NULL
);
CREATE INDEX patient_sessions_expiry ON patient_sessions (expires_us);
