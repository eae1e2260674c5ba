-- Processing's own store: permit keys, the dense numbering of persons that
-- extract bitmaps use, and the extracts themselves.

-- One key per permit, sealed (AES-256-GCM) under processing's master key.
-- Destroying it (when the permit ends) clears the sealed bytes for good.
CREATE TABLE permit_keys (
    permit_id TEXT PRIMARY KEY,
    nonce BLOB,
    sealed BLOB,
    created_us BIGINT NOT NULL,
    destroyed_us BIGINT,
    CHECK ((destroyed_us IS NULL) = (sealed IS NOT NULL))
);

-- Persons numbered densely, so that the persons of an extract are a roaring
-- bitmap. The numbers mean nothing outside this database.
CREATE TABLE extract_persons (
    ordinal BIGINT PRIMARY KEY,
    person_key TEXT NOT NULL UNIQUE
);

-- An extract is visible once its row is here, and its row is written only
-- after every file and the manifest are.
CREATE TABLE extracts (
    id TEXT PRIMARY KEY,
    permit_id TEXT NOT NULL,
    lake_version BIGINT NOT NULL,
    registry_version BIGINT NOT NULL,
    rows_total BIGINT NOT NULL,
    bytes_total BIGINT NOT NULL,
    persons BIGINT NOT NULL,
    manifest TEXT NOT NULL,
    persons_bitmap BLOB NOT NULL,
    created_us BIGINT NOT NULL,
    -- Set when the permit ended: the extract is no longer served.
    closed_us BIGINT
);
CREATE INDEX extracts_permit ON extracts (permit_id, created_us);

-- Tables of an extract written so far: a restarted build with the same
-- inputs (same extract id) keeps them and goes on with the rest. Deleted
-- when the extract becomes visible.
CREATE TABLE extract_progress (
    extract_id TEXT NOT NULL,
    table_name TEXT NOT NULL,
    entry TEXT NOT NULL,
    persons_bitmap BLOB NOT NULL,
    PRIMARY KEY (extract_id, table_name)
);
