-- What a batch of resolutions wrote (collection's batch is a submission),
-- invisible to everyone but later resolutions of the same batch until the
-- batch commits — then moved into the tables above in one transaction — or
-- is discarded with its submission. A refused, abandoned or crashed
-- submission thus leaves no person, token, record or review item behind.

CREATE TABLE staged_persons (
    batch TEXT NOT NULL,
    person_key TEXT PRIMARY KEY,
    created_us BIGINT NOT NULL
);
CREATE INDEX staged_persons_batch ON staged_persons (batch);

-- record_id: the record whose resolution bound the token (named by the
-- review item if another batch bound the token first).
CREATE TABLE staged_tokens (
    batch TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('insurance', 'local_patient_id', 'name_birth_sex')),
    token BYTEA NOT NULL CHECK (octet_length(token) = 32),
    person_key TEXT NOT NULL,
    record_id TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    PRIMARY KEY (batch, kind, token)
);
CREATE INDEX staged_tokens_token ON staged_tokens (batch, token);

CREATE TABLE staged_records (
    batch TEXT NOT NULL,
    id TEXT PRIMARY KEY,
    person_key TEXT NOT NULL,
    provider_code TEXT NOT NULL,
    nonce BYTEA NOT NULL CHECK (octet_length(nonce) = 12),
    ciphertext BYTEA NOT NULL,
    link_state TEXT NOT NULL CHECK (link_state IN ('linked', 'in_review')),
    created_us BIGINT NOT NULL
);
CREATE INDEX staged_records_batch ON staged_records (batch);

CREATE TABLE staged_reviews (
    batch TEXT NOT NULL,
    id TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    person_key TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_us BIGINT NOT NULL
);
CREATE INDEX staged_reviews_batch ON staged_reviews (batch);
