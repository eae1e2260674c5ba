-- The person index (renkei-identity). Match tokens are keyed HMACs of
-- normalized attributes; the attributes themselves are kept only encrypted.

CREATE TABLE persons (
    person_key TEXT PRIMARY KEY,
    created_us BIGINT NOT NULL
);

-- One row per (kind, token): a token names exactly one person.
CREATE TABLE match_tokens (
    kind TEXT NOT NULL CHECK (kind IN ('insurance', 'local_patient_id', 'name_birth_sex')),
    token BYTEA NOT NULL CHECK (octet_length(token) = 32),
    person_key TEXT NOT NULL REFERENCES persons (person_key),
    created_us BIGINT NOT NULL,
    PRIMARY KEY (kind, token)
);
CREATE INDEX match_tokens_person ON match_tokens (person_key);

-- What each source said, AES-256-GCM encrypted; the associated data binds a
-- ciphertext to its row, so it cannot be moved to another person.
CREATE TABLE attribute_records (
    id TEXT PRIMARY KEY,
    person_key TEXT NOT NULL REFERENCES persons (person_key),
    provider_code TEXT NOT NULL,
    nonce BYTEA NOT NULL CHECK (octet_length(nonce) = 12),
    ciphertext BYTEA NOT NULL,
    created_us BIGINT NOT NULL
);
CREATE INDEX attribute_records_person ON attribute_records (person_key);
