-- Curation of the person index: merges and splits, and the clerical-review
-- queue. A merged person's key stays valid and resolves to its survivor
-- (merged_into), so nothing keyed by it anywhere is lost.

ALTER TABLE persons ADD COLUMN merged_into TEXT;

-- Every merge and split, never edited: the history lake rows are mapped by.
CREATE TABLE person_events (
    seq BIGINT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('merge', 'split')),
    from_person TEXT NOT NULL,
    to_person TEXT NOT NULL,
    -- Split: the attribute records moved, as a JSON array; merge: [].
    records TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    at_us BIGINT NOT NULL
);

-- Links a person should look at: the record, the person it was put under,
-- and the other person it may belong to (or that it may not belong to).
CREATE TABLE review_queue (
    id TEXT PRIMARY KEY,
    record_id TEXT NOT NULL REFERENCES attribute_records (id),
    person_key TEXT NOT NULL,
    other_person TEXT,
    reason TEXT NOT NULL,
    score DOUBLE PRECISION,
    state TEXT NOT NULL CHECK (state IN ('open', 'same', 'different')),
    decided_by TEXT,
    decision_reason TEXT,
    created_us BIGINT NOT NULL,
    decided_us BIGINT
);
CREATE INDEX review_queue_state ON review_queue (state, created_us);
