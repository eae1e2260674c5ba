-- The opt-out registry: an append-only history of opt-outs and their
-- withdrawals. The registry version is the number of changes; each change
-- carries the version it made, so "the registry as of version N" is every
-- row with version <= N.
CREATE TABLE optout_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO optout_meta (id, version) VALUES (1, 0);

-- Persons numbered densely, so that a set of them is a roaring bitmap.
CREATE TABLE optout_persons (
    ordinal BIGINT PRIMARY KEY,
    person_key TEXT NOT NULL UNIQUE
);

CREATE TABLE optout_changes (
    version BIGINT PRIMARY KEY,
    receipt TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('opt_out', 'withdrawal')),
    person_key TEXT NOT NULL,
    ordinal BIGINT NOT NULL REFERENCES optout_persons (ordinal),
    -- The opt-out's scope; for a withdrawal, the withdrawn opt-out's.
    scope TEXT NOT NULL,
    effective_us BIGINT NOT NULL,
    recorded_us BIGINT NOT NULL,
    -- The month in Japan (JST) it was recorded, for the public register.
    recorded_month TEXT NOT NULL,
    submitter TEXT NOT NULL CHECK (submitter IN ('self', 'representative', 'bereaved_family')),
    relation TEXT,
    channel TEXT NOT NULL CHECK (channel IN ('portal', 'api', 'paper')),
    withdraws BIGINT REFERENCES optout_changes (version),
    withdraws_receipt TEXT,
    CHECK ((kind = 'withdrawal') = (withdraws IS NOT NULL))
);
CREATE INDEX optout_changes_person ON optout_changes (person_key, version);
-- An opt-out is withdrawn at most once, whoever asks and however often.
CREATE UNIQUE INDEX optout_changes_withdrawn_once ON optout_changes (withdraws);
CREATE INDEX optout_changes_month ON optout_changes (recorded_month, kind);
